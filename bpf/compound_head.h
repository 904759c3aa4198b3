/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * From a tail page to its folio's head page, on 5.10 to 7.x (CO-RE), as the
 * kernel's _compound_head() (include/linux/page-flags.h) does it:
 *
 *   up to 6.x  page->compound_head = head address | 1 (bit 0: a tail page);
 *   7.x        page->compound_info, the same word renamed, except where
 *              compound_info_has_mask() is true: then it holds
 *              GENMASK(63, order + log2(sizeof(struct page))) | 1, a mask to
 *              AND with the tail's own address.
 *
 * compound_info_has_mask() is IS_ENABLED(CONFIG_HUGETLB_PAGE_OPTIMIZE_VMEMMAP)
 * && is_power_of_2(sizeof(struct page)) (7.2 and 7.3 sources alike), and it
 * holds for every compound page, not only hugetlb ones. The size is in BTF
 * (bpf_core_type_size). The config is not, as such; its witness here is
 * struct zone.vmemmap_tails, declared under the same #ifdef in the 7.2 and
 * 7.3 include/linux/mmzone.h (and present in the BTF of Debian's 7.2.13 and
 * 7.3.4, whose configs set it). Should a later kernel drop that field while
 * keeping the mask, the value check below catches it: on x86-64 a mask is
 * at least 2^64 - 2^40, far above any vmemmap address, while a head pointer
 * is at most the tail's own address. A word that fits neither the mode nor
 * the vmemmap gives no head (0), and the caller says so.
 *
 * Needs kernel_types.h and bpf_core_read.h before it.
 */
#ifndef PINTRACE_COMPOUND_HEAD_H
#define PINTRACE_COMPOUND_HEAD_H

enum head_mode {
	HEAD_UNKNOWN = 0,   /* neither field in this kernel's BTF */
	HEAD_PTR_OLD = 1,   /* page.compound_head: head | 1 */
	HEAD_PTR = 2,       /* page.compound_info: head | 1 */
	HEAD_MASK = 3,      /* page.compound_info: mask | 1 */
};

/* The mode and the word's offset in struct page. Call it outside loops,
 * from a __noinline function: a relocation of the field this kernel lacks
 * must not be hoisted out of its guard. */
static __always_inline __u32 head_layout(__u64 page_size, __u64 *off)
{
	*off = 0;
	if (bpf_core_field_exists(struct page___compound_head, compound_head)) {
		*off = bpf_core_field_offset(struct page___compound_head, compound_head);
		return HEAD_PTR_OLD;
	}
	if (!bpf_core_field_exists(struct page___compound_info, compound_info))
		return HEAD_UNKNOWN;
	*off = bpf_core_field_offset(struct page___compound_info, compound_info);
	if (bpf_core_field_exists(struct zone___hvo, vmemmap_tails) && page_size && !(page_size & (page_size - 1)))
		return HEAD_MASK;
	return HEAD_PTR;
}

/* The head of the tail page at pg whose word is info (bit 0 set), or 0 when
 * the word does not give a struct page in the vmemmap at or before pg. */
static __always_inline __u64 head_of_tail(__u64 pg, __u64 info, __u32 mode, __u64 vmemmap, __u64 page_size)
{
	__u64 head;

	if (mode == HEAD_UNKNOWN || !(info & 1) || !page_size)
		return 0;
	if (mode == HEAD_MASK) {
		if (info - 1 <= pg) /* a pointer, not a mask */
			return 0;
		head = pg & info;
	} else {
		head = info - 1;
	}
	if (head < vmemmap || head > pg || (pg - head) % page_size)
		return 0;
	return head;
}

#endif
