/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The few kernel types pintrace's BPF programs read, declared by hand for
 * CO-RE instead of a generated vmlinux.h (see docs/build.md for why).
 *
 * preserve_access_index makes every field access a relocation that libbpf
 * resolves by *name* against the running kernel's BTF at load time, so the
 * offsets written here do not matter and fields may sit inside anonymous
 * unions in the real kernel. Only the names and types must match.
 */
#ifndef PINTRACE_KERNEL_TYPES_H
#define PINTRACE_KERNEL_TYPES_H

#include <linux/types.h>
#include <stdbool.h>

#pragma clang attribute push(__attribute__((preserve_access_index)), apply_to = record)

struct list_head {
	struct list_head *next, *prev;
};

typedef struct {
	int counter;
} atomic_t;

struct page {
	unsigned long flags;
	struct list_head lru;
	atomic_t _mapcount;
	atomic_t _refcount;
};

struct folio {
	unsigned long flags;
	struct list_head lru;
};

/* A large folio's order moved: page[1].compound_order (5.x),
 * folio->_folio_order (6.1), low byte of folio->_flags_1 (6.6+). */
struct folio___order_field {
	unsigned char _folio_order;
};

struct folio___flags1 {
	unsigned long _flags_1;
};

/* 6.17 wrapped page and folio flags in memdesc_flags_t { unsigned long f; }.
 * CO-RE matches a struct field to any struct, so these variants exist only
 * on kernels with the wrapper. */
struct memdesc_flags___x {
	unsigned long f;
};

struct page___memdesc {
	struct memdesc_flags___x flags;
};

struct folio___memdesc_flags1 {
	struct memdesc_flags___x _flags_1;
};

/* 5.x: no folios; the order is in the first tail page. */
struct page___compound_order {
	unsigned char compound_order;
};

struct signal_struct {
	atomic_t live; /* threads of the group that have not yet passed do_exit()'s count-down */
};

struct task_struct {
	struct signal_struct *signal;
};

enum pageflags { /* the real values come from the kernel's BTF */
	PG_head = 16,
	PG_slab = 9,        /* up to 6.9; a page type from 6.10 */
	PG_movable_ops = 3, /* 6.17+: a typed page moved through movable_ops (aliases PG_uptodate) */
};

struct trace_entry {
	unsigned short type;
	unsigned char flags;
	unsigned char preempt_count;
	int pid;
};

enum migrate_mode {
	MIGRATE_ASYNC,
};

struct trace_event_raw_mm_migrate_pages {
	struct trace_entry ent;
	unsigned long succeeded;
	unsigned long failed;
	unsigned long thp_succeeded;
	unsigned long thp_failed;
	unsigned long thp_split;
	enum migrate_mode mode;
	int reason;
};

/* 7.x declares reason as enum migrate_reason (an int before), and libbpf
 * does not relocate an int field onto an enum one: one flavour per type,
 * picked with bpf_core_field_exists. */
enum migrate_reason {
	MR_COMPACTION,
};

struct trace_event_raw_mm_migrate_pages___enum_reason {
	enum migrate_reason reason;
};

struct trace_event_raw_mm_page_alloc {
	struct trace_entry ent;
	unsigned long pfn;
	unsigned int order;
};

struct trace_event_raw_test_pages_isolated {
	struct trace_entry ent;
	unsigned long start_pfn;
	unsigned long end_pfn;
	unsigned long fin_pfn;
};

struct trace_event_raw_mm_page_free {
	struct trace_entry ent;
	unsigned long pfn;
	unsigned int order;
};

/* cma:* events. Their layouts changed: 5.10 has one cma_alloc event and no
 * area name; 5.11+ name the area (a __data_loc string) and split the event
 * in start / busy_retry / finish, the latter two sharing cma_alloc_class
 * until 6.3 gave finish an errorno; count was unsigned int until 6.0. */
struct trace_event_raw_cma_alloc {
	struct trace_entry ent;
	unsigned long pfn;
	const struct page *page;
	unsigned int count;
	unsigned int align;
};

struct trace_event_raw_cma_alloc_start {
	struct trace_entry ent;
	__u32 __data_loc_name;
	unsigned long count;
	unsigned int align;
};

/* 7.2 renamed cma_alloc_start's count to request_count (beside the area's
 * available_count and total_count). */
struct trace_event_raw_cma_alloc_start___request_count {
	unsigned long request_count;
};

struct trace_event_raw_cma_alloc_class {
	struct trace_entry ent;
	__u32 __data_loc_name;
	unsigned long pfn;
	const struct page *page;
	unsigned long count;
	unsigned int align;
};

struct trace_event_raw_cma_alloc_busy_retry {
	struct trace_entry ent;
	__u32 __data_loc_name;
	unsigned long pfn;
	const struct page *page;
	unsigned long count;
	unsigned int align;
};

struct trace_event_raw_cma_alloc_finish {
	struct trace_entry ent;
	__u32 __data_loc_name;
	unsigned long pfn;
	const struct page *page;
	unsigned long count;
	unsigned int align;
	int errorno;
};

/* A pipe's ring of buffers (5.5+). From 6.14 head shares a union with
 * tail (head_tail); CO-RE finds it by name through the anonymous members. */
struct pipe_buf_operations {
	void *release; /* a function: compared with page_cache_pipe_buf_release's address */
};

struct pipe_buffer {
	struct page *page;
	const struct pipe_buf_operations *ops;
};

struct pipe_inode_info {
	unsigned int head;
	unsigned int ring_size;
	struct pipe_buffer *bufs;
};

/* do_splice()'s files: a pipe's private_data is its pipe_inode_info, its
 * inode the one /proc/PID/fd shows as pipe:[INO]. */
struct file {
	struct inode *f_inode;
	void *private_data;
};

struct task_struct___splice {
	struct pipe_inode_info *splice_pipe; /* sendfile's internal pipe */
};

/* The reverse map (rmap.bpf.c): from a page to the address spaces that map
 * it, as mm/rmap.c walks it. Flavoured (___rmap) where another program
 * declares the same struct, so each program's view stays its own. */
struct page___rmap {
	struct address_space *mapping;
	unsigned long index; /* renamed __folio_index in 6.16: read folio->index there */
};

struct folio___rmap { /* 5.16+ */
	struct address_space *mapping;
	unsigned long index;
};

struct rb_node {
	unsigned long __rb_parent_color;
	struct rb_node *rb_right;
	struct rb_node *rb_left;
};

struct rb_root {
	struct rb_node *rb_node;
};

struct rb_root_cached {
	struct rb_root rb_root;
	struct rb_node *rb_leftmost;
};

/* An anonymous folio's mapping (with bit 0 set): its vmas hang off rb_root
 * through anon_vma_chain, an interval tree on the vmas' page offsets. */
struct anon_vma {
	struct rb_root_cached rb_root;
};

struct anon_vma_chain {
	struct vm_area_struct *vma;
	struct rb_node rb;
	unsigned long rb_subtree_last;
};

/* A file folio's mapping: its vmas are in i_mmap, the same kind of tree,
 * linked through vma->shared.rb. */
struct address_space {
	struct inode *host;
	struct rb_root_cached i_mmap;
};

struct vm_area_struct {
	unsigned long vm_start;
	unsigned long vm_end;
	struct mm_struct *vm_mm;
	unsigned long vm_pgoff;
	struct {
		struct rb_node rb;
		unsigned long rb_subtree_last;
	} shared;
};

/* 7.3 keeps an anonymous page offset of its own per vma
 * (vma_start_anon_pgoff(): hi << 32 | lo), which the anon_vma interval tree
 * and an anonymous folio's index use; vm_pgoff stays the file offset of a
 * MAP_PRIVATE file mapping. Up to 7.2 both are vm_pgoff. */
struct vm_area_struct___anon_pgoff {
	unsigned int __vm_anon_pgoff_lo;
	unsigned int __vm_anon_pgoff_hi;
};

struct mm_struct {
	struct task_struct *owner; /* CONFIG_MEMCG only */
};

struct task_struct___rmap {
	int tgid;
	char comm[16];
};

/* ---- snapshot.bpf.c: large-folio pin counts, compound heads, pageblocks ----
 *
 * Where a large folio counts its FOLL_PIN pins moved three times:
 *   5.8-5.11  page[2].hpage_pinned_refcount (second tail page; order >= 2 only)
 *   5.12-6.0  page[1].compound_pincount (first tail page)
 *   6.1+      struct folio._pincount (in page[1] on 64-bit; 6.1 has both names)
 * Verified in the BTF of Debian's 5.10.0-32, 6.1.0-50, 6.12.117 and this
 * host's 6.18. */
struct folio___pincount {
	atomic_t _pincount;
};

struct page___compound_pincount {
	atomic_t compound_pincount;
};

struct page___hpage_pinned {
	atomic_t hpage_pinned_refcount;
};

/* A tail page points at its head: compound_head = head address | 1
 * (up to 6.x); 7.x renamed the word compound_info, which may hold a mask
 * instead (compound_head.h). */
struct page___compound_head {
	unsigned long compound_head;
};

struct page___compound_info {
	unsigned long compound_info;
};

/* Declared exactly when CONFIG_HUGETLB_PAGE_OPTIMIZE_VMEMMAP (7.2, 7.3
 * mmzone.h): the witness of compound_info's mask mode. */
struct zone___hvo {
	struct page *vmemmap_tails[16];
};

/* The pageblock bits hang off the sparse memory sections: with
 * SPARSEMEM_EXTREME (always on x86-64) mem_section is a pointer to roots,
 * each a page of struct mem_section. */
struct mem_section_usage {
	unsigned long pageblock_flags[0];
};

struct mem_section {
	unsigned long section_mem_map;
	struct mem_section_usage *usage;
};

/* ---- what a failed page is (pintrace.bpf.c read_page_state) ---- */

struct hlist_node {
	struct hlist_node *next, **pprev;
};

struct hlist_head {
	struct hlist_node *first;
};

struct file_system_type {
	const char *name;
};

struct super_block {
	__u32 s_dev;
	unsigned long s_magic; /* PIPEFS_MAGIC for an anonymous pipe's inode */
	struct file_system_type *s_type;
};

struct inode {
	struct super_block *i_sb;
	unsigned long i_ino;
	struct hlist_head i_dentry; /* in an anonymous union: CO-RE finds it there */
};

struct qstr {
	const unsigned char *name;
};

struct dentry {
	struct dentry *d_parent;
	struct qstr d_name; /* 7.x: in an anonymous union with __d_name */
};

/* A dentry's place on its inode's alias list: in the union d_u up to 6.x,
 * in an anonymous union from 7.x. */
struct dentry___d_u {
	union {
		struct hlist_node d_alias;
	} d_u;
};

struct dentry___alias {
	struct hlist_node d_alias;
};

struct kmem_cache {
	const char *name;
};

struct slab { /* 5.17+ */
	struct kmem_cache *slab_cache;
};

struct page___slab_cache { /* before struct slab */
	struct kmem_cache *slab_cache;
};

/* 5.11+ (memcg_data replaced mem_cgroup): the witness that the page types
 * lost PG_kmemcg and moved down a bit. */
struct page___memcg_data {
	unsigned long memcg_data;
};

/* 6.12+: the top byte of page_type is the type (include/linux/page-flags.h). */
enum pagetype {
	PGTY_buddy = 0xf0,
	PGTY_offline = 0xf1,
	PGTY_table = 0xf2,
	PGTY_guard = 0xf3,
	PGTY_hugetlb = 0xf4,
	PGTY_slab = 0xf5,
	PGTY_zsmalloc = 0xf6,
	PGTY_unaccepted = 0xf7,
	PGTY_large_kmalloc = 0xf8,
};

struct page___page_type {
	unsigned int page_type; /* shares its word with _mapcount */
};

#pragma clang attribute pop

/* x86-64 kprobe context. Its layout is user ABI (asm/ptrace.h), not a
 * relocatable kernel type, so it carries no preserve_access_index. */
struct pt_regs {
	unsigned long r15, r14, r13, r12, rbp, rbx, r11, r10, r9, r8;
	unsigned long rax, rcx, rdx, rsi, rdi, orig_rax, rip, cs, eflags, rsp, ss;
};

#endif
