// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Snapshot: what /proc/kpageflags and /proc/kpagecount do not show about a
 * run of pages, read on demand: refcounts, large folios' pin counts and
 * orders, and the migratetype bits of their pageblocks.
 *
 * A raw_tp program never attached: user space runs it with
 * BPF_PROG_TEST_RUN (raw_tp test runs exist since 5.10), each run reading
 * up to SNAP_CHUNK pages. The run's arguments come in ctx (the raw_tp
 * argument array test_run passes in), not in globals, so that several
 * threads can run the one loaded program at once, each on its own slot.
 *
 * struct page lives at vmemmap_base + pfn * sizeof(struct page); the base
 * comes from the calibration (calibrate.bpf.c), the size and every field
 * offset from the running kernel's BTF (CO-RE). Each page is read with one
 * bpf_probe_read_kernel of the whole struct into the slot's scratch area
 * (three of them for a folio head: its order and pin count live in the
 * first and second tail pages), then fields are picked at their relocated
 * offsets: one helper call per page instead of one per field.
 *
 * A bounded loop, not bpf_loop (5.17+), so that 5.10 can run it; its body
 * keeps few branches because the verifier queues one state per branch per
 * iteration (8192 at most: 4096 pages of two branches each were refused on
 * 6.18). User space only asks for pages it knows have a struct page (not
 * holes), so a failed read needs no branch: the helper zeroes the buffer.
 * The values are read without locks: a snapshot, not atomic.
 */
#include "kernel_types.h"
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include "compound_head.h"
#include "snapshot.h"

char LICENSE[] SEC("license") = "GPL";

#define SNAP_PAGE_MAX 128 /* larger struct pages (debug configs) are refused, see bad_layout */
#define SNAP_SCRATCH 512 /* three struct pages, rounded up to a power of two for masking */

/* One slot per thread running the program at the same time (ctx[0]).
 * Flat arrays, not a struct, so that the skeleton spells them for C++. */
__u8 op[SNAP_SLOTS][SNAP_CHUNK];
__s32 refcount[SNAP_SLOTS][SNAP_CHUNK];
__s32 mapcount[SNAP_SLOTS][SNAP_CHUNK]; /* this struct page's _mapcount + 1 */
__s32 pincount[SNAP_SLOTS][SNAP_CHUNK]; /* HEAD, TAIL: the folio's pin count; SNAP_NONE where it keeps none */
__u8 order[SNAP_SLOTS][SNAP_CHUNK];     /* HEAD, TAIL: the folio's order */
__u16 block_bits[SNAP_SLOTS][SNAP_BLOCKS]; /* the pageblock flags of each block the run touches */
__u64 tail_head[SNAP_SLOTS];            /* TAIL: the pfn of the head; SNAP_NO_HEAD: not found */
__u32 done[SNAP_SLOTS];
__u8 scratch[SNAP_SLOTS][SNAP_SCRATCH];

/* Set by user space once, before the first run. */
__u64 vmemmap_base = 0;
__u64 mem_section_sym = 0; /* address of the kernel's `mem_section` (kallsyms); 0: migratetype not read */
__u32 pageblock_order = 9;
__u32 pageblock_bits = 4; /* NR_PAGEBLOCK_BITS */
__u32 section_shift = 15; /* PFN_SECTION_SHIFT: 128 MiB sections on x86-64 */

/* Filled by a run: the layout found, for user space to report. */
__u32 page_size = 0;
__u32 pincount_where = 0; /* 1 folio._pincount, 2 page[1].compound_pincount, 3 page[2].hpage_pinned_refcount */
__u32 bad_layout = 0;
__u32 head_mode = 0; /* enum head_mode (compound_head.h): how a tail page names its head */
__u32 heads_not_found = 0; /* TAIL ops whose head word made no sense (kept across runs) */


static __always_inline __s32 s32_at(const __u8 *buf, __u32 off)
{
	__s32 v;

	__builtin_memcpy(&v, buf + off, sizeof(v));
	return v;
}

/* Where a folio head's order and pin count are, relative to the head's
 * struct page, on the running kernel (see kernel_types.h). Found once per
 * run, outside the page loop: inside it, clang hoisted the relocation of a
 * field this kernel lacks out of its guard, and libbpf's poisoned
 * instruction then ran. */
__u32 order_off, pin_off, pin_min_order; /* and pincount_where */
__u64 head_off; /* and head_mode */

static __noinline void find_folio_layout(__u32 size)
{
	head_mode = head_layout(size, &head_off);
	if (bpf_core_field_exists(struct folio___order_field, _folio_order))
		order_off = bpf_core_field_offset(struct folio___order_field, _folio_order);
	else if (bpf_core_field_exists(struct folio___memdesc_flags1, _flags_1))
		order_off = bpf_core_field_offset(struct folio___memdesc_flags1, _flags_1); /* its low byte */
	else if (bpf_core_field_exists(struct folio___flags1, _flags_1))
		order_off = bpf_core_field_offset(struct folio___flags1, _flags_1); /* its low byte */
	else if (bpf_core_field_exists(struct page___compound_order, compound_order))
		order_off = size + bpf_core_field_offset(struct page___compound_order, compound_order);
	if (bpf_core_field_exists(struct folio___pincount, _pincount)) {
		pin_off = bpf_core_field_offset(struct folio___pincount, _pincount);
		pincount_where = 1;
	} else if (bpf_core_field_exists(struct page___compound_pincount, compound_pincount)) {
		pin_off = size + bpf_core_field_offset(struct page___compound_pincount, compound_pincount);
		pincount_where = 2;
	} else if (bpf_core_field_exists(struct page___hpage_pinned, hpage_pinned_refcount)) {
		/* 5.8-5.11: only order >= 2 has a second tail page to keep it in */
		pin_off = 2 * size + bpf_core_field_offset(struct page___hpage_pinned, hpage_pinned_refcount);
		pin_min_order = 2;
		pincount_where = 3;
	}
}

/* The pageblock flags of block j of a run (mm/page_alloc.c
 * get_pfnblock_flags_mask): mem_section[root][nr]->usage->pageblock_flags,
 * NR_PAGEBLOCK_BITS bits per block. A global function, verified once. */
__noinline int read_block(__u64 slot, __u64 j, __u64 start_pfn, __u64 roots)
{
	__u64 ms_size = bpf_core_type_size(struct mem_section);
	__u64 pfn = ((start_pfn >> pageblock_order) + j) << pageblock_order;
	__u64 nr = pfn >> section_shift, per_root, root = 0, usage = 0, word = 0, bitidx;
	struct mem_section *ms;

	if (slot >= SNAP_SLOTS || j >= SNAP_BLOCKS || !ms_size)
		return 0;
	block_bits[slot][j] = SNAP_NO_BLOCK;
	if (!roots)
		return 0;
	per_root = 4096 / ms_size;
	bpf_probe_read_kernel(&root, sizeof(root), (void *)(roots + (nr / per_root) * sizeof(__u64)));
	if (!root)
		return 0;
	ms = (struct mem_section *)(root + (nr % per_root) * ms_size);
	bpf_core_read(&usage, sizeof(usage), &ms->usage);
	if (!usage)
		return 0;
	bitidx = ((pfn & ((1ULL << section_shift) - 1)) >> pageblock_order) * pageblock_bits;
	if (bpf_probe_read_kernel(&word, sizeof(word),
				  (void *)(usage + bpf_core_field_offset(struct mem_section_usage, pageblock_flags) +
					   (bitidx / 64) * sizeof(__u64))))
		return 0;
	block_bits[slot][j] = (word >> (bitidx % 64)) & ((1U << pageblock_bits) - 1);
	return 0;
}

/* One page of a run. A global function: the verifier checks it once, on its
 * own, instead of once per loop iteration with the caller's state (where
 * the states of the different paths through the body never merged, and a
 * 1024-page loop exceeded the 1M-instruction limit). */
__noinline int read_page(__u64 slot, __u64 i, __u64 start_pfn)
{
	__u64 size = bpf_core_type_size(struct page);
	__u8 *buf;
	__u64 pg;
	__u32 ord;
	__u8 what;

	if (slot >= SNAP_SLOTS || i >= SNAP_CHUNK || size > SNAP_PAGE_MAX)
		return 0;
	what = op[slot][i];
	if (what == SNAP_SKIP)
		return 0;
	buf = scratch[slot];
	pg = vmemmap_base + (start_pfn + i) * size;
	if (what == SNAP_TAIL) {
		__u64 info = 0;

		bpf_probe_read_kernel(&info, sizeof(info), (void *)(pg + head_off));
		pg = head_of_tail(pg, info, head_mode, vmemmap_base, size);
		if (!pg) {
			/* No head: no order or pin count for this folio. */
			tail_head[slot] = SNAP_NO_HEAD;
			order[slot][i] = 0;
			pincount[slot][i] = SNAP_NONE;
			__sync_fetch_and_add(&heads_not_found, 1);
			return 0;
		}
		tail_head[slot] = (pg - vmemmap_base) / size;
	}
	/* A small page needs one struct page, a head three (reading three
	 * past a small page at the end of memory would fail). */
	bpf_probe_read_kernel(buf, what == SNAP_SMALL ? size : 3 * size, (void *)pg);
	refcount[slot][i] = s32_at(buf, bpf_core_field_offset(struct page, _refcount));
	mapcount[slot][i] = s32_at(buf, bpf_core_field_offset(struct page, _mapcount)) + 1;
	if (what == SNAP_SMALL)
		return 0;
	ord = buf[order_off & (SNAP_SCRATCH - 1)];
	order[slot][i] = ord;
	pincount[slot][i] = pincount_where && ord >= pin_min_order ? s32_at(buf, pin_off & (SNAP_SCRATCH - 4))
								   : SNAP_NONE;
	return 0;
}

/* ctx: slot, first pfn, pages (<= SNAP_CHUNK; op[] beyond is SNAP_SKIP),
 * pageblocks to read from the first pfn's block (<= SNAP_BLOCKS). */
SEC("raw_tp")
int snapshot_pages(__u64 *ctx)
{
	__u64 size = bpf_core_type_size(struct page);
	__u64 slot = ctx[0], start_pfn = ctx[1], blocks = ctx[3];
	__u64 roots = 0;
	__u32 i, j;

	page_size = size;
	find_folio_layout(size);
	if (slot >= SNAP_SLOTS || size > SNAP_PAGE_MAX) {
		bad_layout = 1;
		return 0;
	}
	done[slot] = 0;
	for (i = 0; i < SNAP_CHUNK; i++)
		read_page(slot, i, start_pfn);

	if (mem_section_sym)
		bpf_probe_read_kernel(&roots, sizeof(roots), (void *)mem_section_sym);
	for (j = 0; j < SNAP_BLOCKS && j < blocks; j++)
		read_block(slot, j, start_pfn, roots);
	done[slot] = i;
	return 0;
}
