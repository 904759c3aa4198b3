/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Shared by bpf/rmap.bpf.c and src/snapshot/rmap_source.cpp: what a run of
 * the reverse-map walk says of the page (rmap_kind) and of the walk
 * (rmap_flags). */
#ifndef PINTRACE_RMAP_H
#define PINTRACE_RMAP_H

/* What the page's mapping says. */
enum rmap_kind {
	RMAP_NONE = 0,       /* no mapping: kernel, driver or free page, or truncated from its file */
	RMAP_ANON = 1,
	RMAP_FILE = 2,
	RMAP_KSM = 3,        /* a KSM stable node: its mappers are not walked */
	RMAP_MOVABLE = 4,    /* non-LRU movable (balloon, zsmalloc): no user mappers */
	RMAP_UNREADABLE = 5, /* no struct page there */
};

#define RMAP_STACK_FULL 1 /* a subtree was not searched */
#define RMAP_NO_OWNER 2   /* mm->owner absent (no CONFIG_MEMCG): mappers without a pid */
#define RMAP_NO_HEAD 4    /* a tail page whose head word made no sense: not walked */

#endif
