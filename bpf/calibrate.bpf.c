// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Calibration: find the vmemmap base so the capture programs can turn a
 * struct page pointer into a pfn.
 *
 * vmemmap_base is only in /proc/kallsyms with CONFIG_KALLSYMS_ALL, and
 * reading its value needs kernel memory access anyway. Instead, two programs
 * watch the same event, kmem:mm_page_alloc: the BTF-typed one sees the
 * struct page pointer, the classic tracepoint sees the pfn the kernel
 * computed from it. Which of the two runs first is not specified, so each
 * pairs its value with the other's latest one; in one of the two directions
 * every sample gives the same base, and user space looks for that consensus.
 */
#include "kernel_types.h"
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "pintrace.h"
#include "bpf_util.h"

char LICENSE[] SEC("license") = "GPL";

struct pt_calib calib;

struct last_seen {
	__u64 page;
	__u64 pfn;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct last_seen);
} last SEC(".maps");

static __always_inline void add_sample(__u64 *samples, __u32 *count, __u64 value)
{
	__u32 idx = *count;

	/* Racing CPUs may overwrite one slot: every value written is a real
	 * candidate, so that only costs a sample. */
	if (idx >= PT_CALIB_SAMPLES)
		return;
	samples[idx & (PT_CALIB_SAMPLES - 1)] = value;
	*count = idx + 1;
}

SEC("tp_btf/mm_page_alloc")
int BPF_PROG(calib_page, struct page *page)
{
	__u32 zero = 0;
	struct last_seen *l = bpf_map_lookup_elem(&last, &zero);
	__u64 size = bpf_core_type_size(struct page);

	if (!l || !page)
		return 0;
	calib.struct_page_size = size;
	if (l->pfn) {
		add_sample(calib.pfn_then_page, &calib.n_pfn_then_page,
			   ptr_to_u64(page) - l->pfn * size);
		l->pfn = 0;
	}
	l->page = ptr_to_u64(page);
	return 0;
}

SEC("tracepoint/kmem/mm_page_alloc")
int calib_pfn(struct trace_event_raw_mm_page_alloc *ctx)
{
	__u32 zero = 0;
	struct last_seen *l = bpf_map_lookup_elem(&last, &zero);
	__u64 size = bpf_core_type_size(struct page);
	__u64 pfn = ctx->pfn;

	if (!l || pfn == (__u64)-1 || pfn == 0)
		return 0;
	if (l->page) {
		add_sample(calib.page_then_pfn, &calib.n_page_then_pfn,
			   l->page - pfn * size);
		l->page = 0;
	}
	l->pfn = pfn;
	return 0;
}
