/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Shared by bpf/snapshot.bpf.c and src/snapshot/bpf_source.*: what user
 * space asks a run of the snapshot program to read, and the values that
 * say it could not. */
#ifndef PINTRACE_SNAPSHOT_H
#define PINTRACE_SNAPSHOT_H

#define SNAP_CHUNK 2048  /* pages per run */
#define SNAP_SLOTS 4     /* runs at the same time: one slot each */
#define SNAP_BLOCKS 32   /* pageblocks a run can touch */
#define SNAP_NONE (-2147483647 - 1)  /* no readable struct page; no pin count kept */
#define SNAP_NO_BLOCK 0xffff         /* pageblock bits unreadable */
#define SNAP_NO_HEAD (~0ULL)         /* a tail page whose head was not found */

/* What to read for page i (op[i]), from its /proc/kpageflags flags. */
enum snap_op {
	SNAP_SKIP = 0,  /* free, hole, or a tail whose head is already known */
	SNAP_SMALL = 1, /* refcount and mapcount */
	SNAP_HEAD = 2,  /* a folio head: also its order and pin count */
	SNAP_TAIL = 3,  /* a tail whose head is not in the run: find the head, read it as HEAD */
};

#endif
