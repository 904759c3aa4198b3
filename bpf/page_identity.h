/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What a page is: struct pt_page_identity (pintrace.h), read from its
 * struct page. The capture reads it at a failure (pintrace.bpf.c), the
 * reverse-map walk for a page asked about (rmap.bpf.c): one reader for both.
 *
 * Needs kernel_types.h, bpf_helpers.h, bpf_core_read.h, pintrace.h and
 * bpf_util.h before it.
 */
#ifndef PINTRACE_PAGE_IDENTITY_H
#define PINTRACE_PAGE_IDENTITY_H

/* page->flags: a memdesc_flags_t from 7.x. */
static __always_inline __u64 page_flags(const void *page)
{
	if (bpf_core_field_exists(struct page___memdesc, flags))
		return BPF_CORE_READ((struct page___memdesc *)page, flags.f);
	return BPF_CORE_READ((struct page *)page, flags);
}

/*
 * What is read, from the folio's head: the page's type (page_type, or
 * PG_slab up to 6.9), what its mapping says, and for a page cache page the
 * file. Every read is bpf_probe_read_kernel of a page the kernel may be
 * changing: a racy view, as the kernel's own dump_page() is.
 */

/* Up to 6.11 a page type is its bit cleared under this base
 * (include/linux/page-flags.h PageType()). */
#define PT_PAGE_TYPE_BASE 0xf0000000U

static __always_inline bool old_page_type(__u32 word, __u32 bit)
{
	return (word & (PT_PAGE_TYPE_BASE | bit)) == PT_PAGE_TYPE_BASE;
}

/* pintrace's number for the kernel's page type. Three encodings, told
 * apart by BTF: 6.12+ enum pagetype, the type in the top byte (read on
 * 6.12, 7.2, 7.3); before it, bits cleared under PT_PAGE_TYPE_BASE, whose
 * values moved down one bit when PG_kmemcg went, together with struct
 * page's mem_cgroup becoming memcg_data (5.11): 5.10 is buddy 0x80,
 * offline 0x100, kmemcg 0x200, table 0x400, guard 0x800; 6.1 (read) buddy
 * 0x80, offline 0x100, table 0x200, guard 0x400, and 6.9-6.11 add hugetlb
 * 0x800 and slab 0x1000 (not on the bench). */
/* Relocations a kernel may lack each sit in a subprogram of their own, as
 * capture_head_layout: inside the failed-list walk's loop clang may hoist
 * one out of its guard, and libbpf's poisoned instruction would then run
 * (snapshot.bpf.c met that). */
static __noinline __s32 pg_slab_bit(void)
{
	if (bpf_core_enum_value_exists(enum pageflags, PG_slab))
		return bpf_core_enum_value(enum pageflags, PG_slab);
	return -1;
}

static __noinline __s32 pg_movable_ops_bit(void)
{
	if (bpf_core_enum_value_exists(enum pageflags, PG_movable_ops))
		return bpf_core_enum_value(enum pageflags, PG_movable_ops);
	return -1;
}

static __noinline __u32 pgty_large_kmalloc(void)
{
	if (bpf_core_enum_value_exists(enum pagetype, PGTY_large_kmalloc))
		return bpf_core_enum_value(enum pagetype, PGTY_large_kmalloc);
	return 0x100; /* no byte */
}

static __always_inline bool flag_set(__u64 flags, __s32 bit)
{
	return bit >= 0 && bit < 64 && ((flags >> bit) & 1);
}

static __noinline __u32 page_type_of(__u32 word, __u64 flags)
{
	if (flag_set(flags, pg_slab_bit()))
		return PT_TYPE_SLAB;
	if (bpf_core_enum_value_exists(enum pagetype, PGTY_table)) {
		__u32 t = word >> 24;

		if (t == bpf_core_enum_value(enum pagetype, PGTY_buddy))
			return PT_TYPE_BUDDY;
		if (t == bpf_core_enum_value(enum pagetype, PGTY_offline))
			return PT_TYPE_OFFLINE;
		if (t == bpf_core_enum_value(enum pagetype, PGTY_table))
			return PT_TYPE_TABLE;
		if (t == bpf_core_enum_value(enum pagetype, PGTY_guard))
			return PT_TYPE_GUARD;
		if (t == bpf_core_enum_value(enum pagetype, PGTY_hugetlb))
			return PT_TYPE_HUGETLB;
		if (t == bpf_core_enum_value(enum pagetype, PGTY_slab))
			return PT_TYPE_SLAB;
		if (t == bpf_core_enum_value(enum pagetype, PGTY_zsmalloc))
			return PT_TYPE_ZSMALLOC;
		if (t == bpf_core_enum_value(enum pagetype, PGTY_unaccepted))
			return PT_TYPE_UNACCEPTED;
		if (t == pgty_large_kmalloc())
			return PT_TYPE_LARGE_KMALLOC;
		return PT_TYPE_NONE;
	}
	if (old_page_type(word, 0x80))
		return PT_TYPE_BUDDY;
	if (old_page_type(word, 0x100))
		return PT_TYPE_OFFLINE;
	if (!bpf_core_field_exists(struct page___memcg_data, memcg_data)) {
		if (old_page_type(word, 0x200))
			return PT_TYPE_KMEMCG;
		if (old_page_type(word, 0x400))
			return PT_TYPE_TABLE;
		if (old_page_type(word, 0x800))
			return PT_TYPE_GUARD;
		return PT_TYPE_NONE;
	}
	if (old_page_type(word, 0x200))
		return PT_TYPE_TABLE;
	if (old_page_type(word, 0x400))
		return PT_TYPE_GUARD;
	if (old_page_type(word, 0x800))
		return PT_TYPE_HUGETLB;
	if (old_page_type(word, 0x1000))
		return PT_TYPE_SLAB;
	return PT_TYPE_NONE;
}

/* Types whose struct page is kernel-internal: the word where a folio keeps
 * its mapping holds something else there (a slab's freelist, say). */
static __always_inline bool type_hides_mapping(__u32 type)
{
	return type == PT_TYPE_BUDDY || type == PT_TYPE_TABLE || type == PT_TYPE_GUARD || type == PT_TYPE_SLAB ||
	       type == PT_TYPE_UNACCEPTED || type == PT_TYPE_LARGE_KMALLOC || type == PT_TYPE_KMEMCG;
}

/* What folio->mapping's low bits say (include/linux/page-flags.h): up to
 * 6.x ANON 1, MOVABLE 2 (alone: a non-LRU movable page), KSM 3; 7.x ANON 1,
 * ANON_KSM 2 (KSM = 3), and a movable typed page carries PG_movable_ops
 * (an alias of PG_uptodate, meaningful on typed pages only). */
static __noinline __u32 page_kind_of(__u64 mapping, __u32 type, __u64 flags)
{
	if (type_hides_mapping(type))
		return PT_PAGE_NO_MAPPING;
	if ((mapping & 3) == 3)
		return PT_PAGE_KSM;
	if (mapping & 1)
		return PT_PAGE_ANON;
	if (mapping & 2)
		return PT_PAGE_MOVABLE_OPS;
	if (type != PT_TYPE_NONE && flag_set(flags, pg_movable_ops_bit()))
		return PT_PAGE_MOVABLE_OPS;
	return mapping ? PT_PAGE_FILE : PT_PAGE_NO_MAPPING;
}

/* Where a dentry sits on its inode's alias list: in the union d_u up to
 * 6.x, in an anonymous union from 7.x. In a subprogram of its own, as
 * capture_head_layout. */
static __noinline __u64 dentry_alias_offset(void)
{
	if (bpf_core_field_exists(struct dentry___d_u, d_u.d_alias))
		return bpf_core_field_offset(struct dentry___d_u, d_u.d_alias);
	if (bpf_core_field_exists(struct dentry___alias, d_alias))
		return bpf_core_field_offset(struct dentry___alias, d_alias);
	return ~0ULL;
}

/* The file of a page cache page: device, inode, filesystem type, and the
 * names of its first dentry and its parents, up to the filesystem's root
 * (the path inside the filesystem, not where it is mounted). */
static __always_inline void read_file(struct pt_page_identity *st, __u64 mapping)
{
	struct inode *host = BPF_CORE_READ((struct address_space *)mapping, host);
	struct super_block *sb;
	struct hlist_node *alias;
	__u64 alias_off = dentry_alias_offset();
	struct dentry *d;
	__u32 i;

	if (!host)
		return;
	st->ino = BPF_CORE_READ(host, i_ino);
	sb = BPF_CORE_READ(host, i_sb);
	st->dev = BPF_CORE_READ(sb, s_dev);
	bpf_probe_read_kernel_str(st->fs, sizeof(st->fs), BPF_CORE_READ(sb, s_type, name));
	alias = BPF_CORE_READ(host, i_dentry.first);
	if (!alias || alias_off == ~0ULL)
		return;
	d = (void *)alias - alias_off;
	for (i = 0; i < PT_IDENTITY_PATH_DEPTH; i++) {
		struct dentry *parent;

		if (bpf_probe_read_kernel_str(st->path[i], PT_IDENTITY_NAME_LEN, BPF_CORE_READ(d, d_name.name)) < 0)
			break;
		st->path_depth = i + 1;
		parent = BPF_CORE_READ(d, d_parent);
		if (!parent || parent == d) {
			st->path_complete = 1;
			break;
		}
		d = parent;
	}
}

/* struct slab (5.17+) overlays struct page; before it the page kept the
 * cache itself. */
static __noinline __u64 slab_cache_offset(void)
{
	if (bpf_core_field_exists(struct slab, slab_cache))
		return bpf_core_field_offset(struct slab, slab_cache);
	if (bpf_core_field_exists(struct page___slab_cache, slab_cache))
		return bpf_core_field_offset(struct page___slab_cache, slab_cache);
	return ~0ULL;
}

/* 6.16 renamed page->index; folio->index (5.16+) is the same word. */
static __noinline __u64 folio_index_offset(void)
{
	if (bpf_core_field_exists(struct folio___rmap, index))
		return bpf_core_field_offset(struct folio___rmap, index);
	if (bpf_core_field_exists(struct page___rmap, index))
		return bpf_core_field_offset(struct page___rmap, index);
	return ~0ULL;
}

static __always_inline void read_slab_cache(struct pt_page_identity *st, const void *head)
{
	__u64 off = slab_cache_offset();
	struct kmem_cache *cache = NULL;

	if (off == ~0ULL || bpf_probe_read_kernel(&cache, sizeof(cache), (const char *)head + off) || !cache)
		return;
	bpf_probe_read_kernel_str(st->slab_cache, sizeof(st->slab_cache), BPF_CORE_READ(cache, name));
}

static __always_inline __u64 folio_index(const void *head)
{
	__u64 off = folio_index_offset(), index = 0;

	if (off != ~0ULL)
		bpf_probe_read_kernel(&index, sizeof(index), (const char *)head + off);
	return index;
}

/* @page: the failed page (a head or a tail), @head its folio's head page
 * (the caller knows how to find it); NULL: nothing to read. */
static __always_inline void read_page_identity(struct pt_page_identity *st, const void *page, const void *head)
{
	__u64 flags, mapping;

	__builtin_memset(st, 0, sizeof(*st));
	if (!page || !head)
		return;
	flags = page_flags(head);
	st->flags = flags;
	st->refcount = BPF_CORE_READ((struct page *)head, _refcount.counter);
	st->mapcount = BPF_CORE_READ((struct page *)page, _mapcount.counter) + 1;
	mapping = (__u64)BPF_CORE_READ((struct page___rmap *)head, mapping);
	st->page_type = BPF_CORE_READ((struct page___page_type *)head, page_type);
	st->type = page_type_of(st->page_type, flags);
	st->kind = page_kind_of(mapping, st->type, flags);
	if (st->kind == PT_PAGE_FILE) {
		st->index = folio_index(head) + (ptr_to_u64(page) - ptr_to_u64(head)) / bpf_core_type_size(struct page);
		read_file(st, mapping & ~3ULL);
	}
	if (st->type == PT_TYPE_SLAB)
		read_slab_cache(st, head);
}

#endif
