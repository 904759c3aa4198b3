// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Owner discovery from the page: which address spaces map one pfn, and at
 * which virtual address, the way mm/rmap.c finds them for migration, so
 * that the cost follows the suspicious pages, not the memory processes map.
 *
 * A raw_tp program never attached: user space runs it with
 * BPF_PROG_TEST_RUN, as snapshot.bpf.c, at the calibrated vmemmap base.
 *
 *   struct page -> head page (compound_head, 7.x compound_info: see
 *     compound_head.h) -> folio mapping and index
 *   mapping & 1 (PAGE_MAPPING_ANON): struct anon_vma, whose rb_root is an
 *     interval tree of anon_vma_chain, each naming a vma;
 *   otherwise an address_space, whose i_mmap is the same kind of tree of
 *     vmas (vma->shared.rb);
 *   vma -> vm_mm -> mm->owner (CONFIG_MEMCG) -> tgid, comm;
 *   vaddr = vm_start + ((index - vm_pgoff) << PAGE_SHIFT), where an
 *   anonymous page's vm_pgoff is 7.3's anon page offset if the vma has one.
 *
 * The kernel walks these trees under the anon_vma or i_mmap lock; a BPF
 * program cannot take them. Every read here is bpf_probe_read_kernel on
 * structures that may change or be freed meanwhile: a racy snapshot that
 * may name a vma that has just gone, or miss one just made. User space
 * confirms each answer in /proc/PID/pagemap before believing it.
 *
 * 5.10 has no bpf_loop, and the verifier walks every iteration of a
 * bounded loop, so one run visits at most RMAP_NODES tree nodes from an
 * explicit stack kept in .bss; when nodes remain (rmap_sp > 0) user space
 * runs the program again with rmap_resume = 1 and it continues where it
 * stopped. User space bounds the number of runs. The loop keeps its state
 * in globals, not registers, so that the verifier's states at the loop
 * head look alike and prune.
 */
#include "kernel_types.h"
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include "pintrace.h"
#include "bpf_util.h"
#include "compound_head.h"
#include "page_identity.h"
#include "rmap.h"

char LICENSE[] SEC("license") = "GPL";

#define RMAP_SLOTS 16  /* mappers per run; user space collects and resumes */
#define RMAP_STACK 64  /* an rbtree of n nodes is at most 2*log2(n+1) deep: 64 is never the limit */
#define RMAP_NODES 48  /* tree nodes per run: what the 5.10 verifier accepts comfortably */
#define PAGE_SHIFT 12  /* x86-64 only, as the rest of pintrace */

#define PAGE_MAPPING_ANON 1UL
#define PAGE_MAPPING_MOVABLE 2UL

/* Input. */
__u64 vmemmap_base = 0;
__u64 rmap_pfn = 0;
__u32 rmap_resume = 0;

/* The walk, kept between runs. */
__u32 rmap_kind = 0;
__u64 rmap_pgoff = 0;
__u32 rmap_sp = 0;
__u64 rmap_stack[RMAP_STACK];

/* The layout, found by each run outside the walk (find_layout). */
__u32 head_mode = 0;     /* enum head_mode */
__u64 head_off = 0;
__u32 anon_pgoff = 0;    /* 7.3: vma->__vm_anon_pgoff_{lo,hi} */
__u64 anon_lo_off = 0, anon_hi_off = 0;

/* Output of a first run (rmap_resume 0): what the page is. */
struct pt_page_identity rmap_identity = {};

/* Output of one run. */
__u32 rmap_flags = 0;
__u32 rmap_visited = 0;
__u32 rmap_nr = 0;
__u32 rmap_tgid[RMAP_SLOTS];
__u64 rmap_vaddr[RMAP_SLOTS];
__u64 rmap_mm[RMAP_SLOTS];
char rmap_comm[RMAP_SLOTS][16];

static __always_inline void push(__u64 node)
{
	__u32 sp = rmap_sp;

	if (!node)
		return;
	if (sp >= RMAP_STACK) {
		rmap_flags |= RMAP_STACK_FULL;
		return;
	}
	rmap_stack[sp & (RMAP_STACK - 1)] = node;
	rmap_sp = sp + 1;
}

/* Offsets of fields only some kernels have, found outside the walk so that
 * clang cannot hoist a relocation the kernel lacks out of its guard. */
static __noinline void find_layout(void)
{
	head_mode = head_layout(bpf_core_type_size(struct page), &head_off);
	anon_pgoff = 0;
	if (bpf_core_field_exists(struct vm_area_struct___anon_pgoff, __vm_anon_pgoff_lo) &&
	    bpf_core_field_exists(struct vm_area_struct___anon_pgoff, __vm_anon_pgoff_hi)) {
		anon_lo_off = bpf_core_field_offset(struct vm_area_struct___anon_pgoff, __vm_anon_pgoff_lo);
		anon_hi_off = bpf_core_field_offset(struct vm_area_struct___anon_pgoff, __vm_anon_pgoff_hi);
		anon_pgoff = 1;
	}
}

/* Sets rmap_kind and rmap_pgoff, and pushes the tree's root. */
static __always_inline void resolve(void)
{
	__u64 size = bpf_core_type_size(struct page);
	__u64 page = vmemmap_base + rmap_pfn * size, head = page;
	__u64 info = 0, mapping = 0, index = 0, root = 0;
	struct page___rmap *pg;

	rmap_kind = RMAP_UNREADABLE;
	rmap_sp = 0;
	rmap_pgoff = 0;
	__builtin_memset(&rmap_identity, 0, sizeof(rmap_identity));
	if (head_mode == HEAD_UNKNOWN ||
	    bpf_probe_read_kernel(&info, sizeof(info), (void *)(page + head_off)))
		return;
	if (info & 1) {
		head = head_of_tail(page, info, head_mode, vmemmap_base, size);
		if (!head) {
			rmap_flags |= RMAP_NO_HEAD;
			return;
		}
	}
	pg = (void *)head;
	read_page_identity(&rmap_identity, (const void *)page, (const void *)head);
	if (bpf_core_read(&mapping, sizeof(mapping), &pg->mapping))
		return;
	/* 6.16 renamed page->index; folio->index (5.16+) is the same word. */
	if (bpf_core_field_exists(((struct folio___rmap *)0)->index)) {
		struct folio___rmap *folio = (void *)head;

		if (bpf_core_read(&index, sizeof(index), &folio->index))
			return;
	} else if (bpf_core_read(&index, sizeof(index), &pg->index)) {
		return;
	}
	/* A tail page's offset: the head's plus its place in the folio. */
	rmap_pgoff = index + rmap_pfn - (head - vmemmap_base) / size;

	if (!mapping) {
		rmap_kind = RMAP_NONE;
		return;
	}
	switch (mapping & (PAGE_MAPPING_ANON | PAGE_MAPPING_MOVABLE)) {
	case PAGE_MAPPING_ANON: {
		struct anon_vma *av = (void *)(mapping - PAGE_MAPPING_ANON);

		rmap_kind = RMAP_ANON;
		bpf_core_read(&root, sizeof(root), &av->rb_root.rb_root.rb_node);
		break;
	}
	case 0: {
		struct address_space *as = (void *)mapping;

		rmap_kind = RMAP_FILE;
		bpf_core_read(&root, sizeof(root), &as->i_mmap.rb_root.rb_node);
		break;
	}
	case PAGE_MAPPING_ANON | PAGE_MAPPING_MOVABLE:
		rmap_kind = RMAP_KSM;
		return;
	default:
		rmap_kind = RMAP_MOVABLE;
		return;
	}
	push(root);
}

static __always_inline void emit(struct vm_area_struct *vma, __u64 start, __u64 vm_pgoff)
{
	__u32 k = rmap_nr;
	__u64 mm = 0, owner = 0;
	struct task_struct___rmap *task;

	if (k >= RMAP_SLOTS)
		return;
	k &= RMAP_SLOTS - 1;
	bpf_core_read(&mm, sizeof(mm), &vma->vm_mm);
	rmap_mm[k] = mm;
	rmap_vaddr[k] = start + ((rmap_pgoff - vm_pgoff) << PAGE_SHIFT);
	rmap_tgid[k] = 0;
	rmap_comm[k][0] = 0;
	if (bpf_core_field_exists(((struct mm_struct *)0)->owner)) {
		bpf_core_read(&owner, sizeof(owner), &((struct mm_struct *)mm)->owner);
		task = (void *)owner;
		if (owner) {
			bpf_core_read(&rmap_tgid[k], sizeof(rmap_tgid[k]), &task->tgid);
			bpf_core_read_str(rmap_comm[k], sizeof(rmap_comm[k]), &task->comm);
		}
	} else {
		rmap_flags |= RMAP_NO_OWNER;
	}
	rmap_nr = k + 1;
}

SEC("raw_tp")
int rmap_walk(void *ctx)
{
	__u32 i;

	rmap_nr = 0;
	rmap_visited = 0;
	find_layout();
	if (!rmap_resume) {
		rmap_flags = 0;
		resolve();
	}
	if (rmap_kind != RMAP_ANON && rmap_kind != RMAP_FILE)
		return 0;

	/* The interval-tree search of mm/interval_tree.c, iteratively: a
	 * subtree whose largest last page offset is below ours holds no
	 * match; nodes are ordered by first page offset, so when a node
	 * starts after ours its right subtree cannot match either. */
	for (i = 0; i < RMAP_NODES; i++) {
		__u64 node, vma = 0, last = 0, left = 0, right = 0, start = 0, end = 0, vm_pgoff = 0;
		__u32 sp = rmap_sp;
		struct vm_area_struct *v;
		struct rb_node *n;

		if (sp == 0 || rmap_nr >= RMAP_SLOTS)
			break;
		sp--;
		rmap_sp = sp;
		node = rmap_stack[sp & (RMAP_STACK - 1)];
		rmap_visited++;
		if (rmap_kind == RMAP_ANON) {
			struct anon_vma_chain *avc =
				(void *)(node - bpf_core_field_offset(struct anon_vma_chain, rb));

			bpf_core_read(&last, sizeof(last), &avc->rb_subtree_last);
			bpf_core_read(&vma, sizeof(vma), &avc->vma);
		} else {
			v = (void *)(node - bpf_core_field_offset(struct vm_area_struct, shared.rb));
			bpf_core_read(&last, sizeof(last), &v->shared.rb_subtree_last);
			vma = (__u64)v;
		}
		if (last < rmap_pgoff || !vma)
			continue;
		n = (void *)node;
		bpf_core_read(&left, sizeof(left), &n->rb_left);
		bpf_core_read(&right, sizeof(right), &n->rb_right);
		v = (void *)vma;
		bpf_core_read(&start, sizeof(start), &v->vm_start);
		bpf_core_read(&end, sizeof(end), &v->vm_end);
		if (rmap_kind == RMAP_ANON && anon_pgoff) {
			__u32 lo = 0, hi = 0;

			bpf_probe_read_kernel(&lo, sizeof(lo), (void *)(vma + anon_lo_off));
			bpf_probe_read_kernel(&hi, sizeof(hi), (void *)(vma + anon_hi_off));
			vm_pgoff = ((__u64)hi << 32) | lo;
		} else {
			bpf_core_read(&vm_pgoff, sizeof(vm_pgoff), &v->vm_pgoff);
		}
		if (vm_pgoff <= rmap_pgoff) {
			if (rmap_pgoff < vm_pgoff + ((end - start) >> PAGE_SHIFT))
				emit(v, start, vm_pgoff);
			push(right);
		}
		push(left);
	}
	return 0;
}
