// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Snapshot: the refcount of a run of pages, read on demand.
 *
 * A raw_tp program never attached: user space runs it with
 * BPF_PROG_TEST_RUN (raw_tp test runs exist since 5.10), each run reading
 * up to SNAP_CHUNK pages from start_pfn. struct page lives at
 * vmemmap_base + pfn * sizeof(struct page); the base comes from the
 * calibration (calibrate.bpf.c), the size from the running kernel's BTF.
 * A bounded loop, not bpf_loop, so that 5.10 (before bpf_loop, 5.17) runs it.
 *
 * Only the refcount: /proc/kpageflags and /proc/kpagecount already give
 * the flags (page types decoded by the kernel itself) and the mapcount.
 * A pfn whose struct page cannot be read (a hole with no memmap) reads as
 * SNAP_NO_PAGE, as does a page not wanted. The values are read without locks: a snapshot, not atomic.
 */
#include "kernel_types.h"
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

char LICENSE[] SEC("license") = "GPL";

#define SNAP_CHUNK 1024 /* 4096 exceeds the verifier's 8192-jump history on 6.18 */
#define SNAP_NO_PAGE (-2147483647 - 1)

__u64 vmemmap_base = 0;
__u64 start_pfn = 0;
__u32 count = 0;
__u32 done = 0;
__s32 refcount[SNAP_CHUNK];
/* Bit i set: read page i. Free pages and holes (known from
 * /proc/kpageflags) are skipped: most of a machine's memory is often free,
 * and the read is the cost. */
__u64 want[SNAP_CHUNK / 64];

SEC("raw_tp")
int snapshot_refcounts(void *ctx)
{
	__u64 size = bpf_core_type_size(struct page);
	__u64 base = vmemmap_base + start_pfn * size;
	__u32 n = count, i;

	for (i = 0; i < SNAP_CHUNK; i++) {
		struct page *pg;
		int r = 0;

		if (i >= n)
			break;
		if (!(want[i / 64] & (1ULL << (i % 64)))) {
			refcount[i] = SNAP_NO_PAGE;
			continue;
		}
		pg = (struct page *)(base + (__u64)i * size);
		if (bpf_core_read(&r, sizeof(r), &pg->_refcount.counter))
			r = SNAP_NO_PAGE;
		refcount[i] = r;
	}
	done = i;
	return 0;
}
