/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef PINTRACE_BPF_UTIL_H
#define PINTRACE_BPF_UTIL_H

#include <bpf/bpf_helpers.h>

/* The verifier forbids arithmetic on typed kernel pointers (fentry, tp_btf
 * arguments); reading the pointer's own bytes yields a plain number. */
static __always_inline __u64 ptr_to_u64(const void *ptr)
{
	__u64 value = 0;

	bpf_probe_read_kernel(&value, sizeof(value), &ptr);
	return value;
}

#endif
