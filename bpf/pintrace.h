/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The records the BPF programs put in the ring buffer. This header is the
 * only definition of their layout: the BPF side fills them, the trace file
 * stores them byte for byte, and src/events/decode.cpp decodes them (their
 * sizes are checked at the end of this header, on both sides).
 *
 * Compatibility rule (the trace file depends on it): a record type's layout
 * never changes once released. New information goes into a new record type
 * or at the end of a record (readers take the first `size` bytes they know).
 */
#ifndef PINTRACE_BPF_H
#define PINTRACE_BPF_H

#include <linux/types.h>

#define PT_COMM_LEN 16
/* Frames a stack map entry holds: the kernel's PERF_MAX_STACK_DEPTH. */
#define PT_MAX_STACK_DEPTH 127
/* A walk of a failed migration's list stops here; the end record says so. */
#define PT_MAX_FAILED_WALK 1024
/* unpin_user_pages(pages, n) arrays are walked up to this many entries. */
#define PT_MAX_UNPIN_ARRAY 512
/* A block of grabbed_pages (one bit a page, 2^6 pages an entry) and a
 * region of the free filter in front of it (grabbed_regions: a byte per
 * 2^9 pages, 8 a word). User space marks pages in both (record --snapshot). */
#define PT_BLOCK_SHIFT 6
#define PT_REGION_SHIFT 9
/* Slots of parked short-term pins (pairing in the kernel, docs/pairing.md):
 * a power of two, hashed by folio; a collision only sends a grab early. */
#define PT_PARK_SLOTS 16384

enum pt_record_type {
	PT_REC_GRAB = 1,          /* a page pinned (FOLL_PIN) or referenced (FOLL_GET) */
	PT_REC_RELEASE = 2,       /* pins or references dropped on a folio */
	PT_REC_MIGRATE = 3,       /* migrate:mm_migrate_pages: one attempt's outcome */
	PT_REC_FAILED_FOLIO = 4,  /* a folio still on migrate_pages()' list at return */
	PT_REC_MIGRATE_END = 5,   /* migrate_pages() returned; the list walk is complete */
	PT_REC_EXEC = 6,          /* a process that grabbed pages exec'd: its old memory map is gone */
	PT_REC_ISOLATION_FAILED = 7, /* test_pages_isolated() found a busy page (contig alloc, offline) */
	PT_REC_PAGE_FREED = 8,    /* a page some grab took went back to the allocator */
	PT_REC_CMA = 9,           /* cma:* tracepoints: a CMA allocation's start, busy retries, end */
	PT_REC_PROCESS_EXIT = 10, /* the last thread of a process that grabbed pages exited */
	PT_REC_ISOLATION_REFUSED = 11, /* start_isolate_page_range() refused a range (an unmovable page) */
	PT_REC_CONTIG_ALLOC = 12,   /* alloc_contig_pages(): a contiguous allocation began or ended */
};

/*
 * Which attach point produced a record, and the kernel function or
 * tracepoint ("group:event") it attaches to: one row each, read by the BPF
 * programs (the numbers: stored in traces, never renumber) and by user
 * space (the names in reports and the attach targets of
 * src/capture/attach_plan.cpp, through hook_name()).
 */
#define PT_HOOKS(X) \
	X(TRY_GRAB_PAGE, 1, "try_grab_page") \
	X(TRY_GRAB_FOLIO, 2, "try_grab_folio") \
	X(GUP_PUT_FOLIO, 3, "gup_put_folio") \
	/* 4, 5: reserved (unpin_user_page, unpin_user_pages) */ \
	X(MIGRATE_TP, 6, "migrate:mm_migrate_pages") \
	X(MIGRATE_PAGES_EXIT, 7, "migrate_pages") \
	X(FOLLOW_PAGE, 8, "follow_page") /* not a record source: marks grabs to ignore */ \
	X(TRY_GRAB_FOLIO_FAST, 9, "try_grab_folio_fast") \
	X(TRY_GRAB_COMPOUND_HEAD, 10, "try_grab_compound_head") \
	X(PUT_COMPOUND_HEAD, 11, "put_compound_head") \
	X(EXEC_TP, 12, "sched:sched_process_exec") \
	X(ISOLATION_TP, 13, "page_isolation:test_pages_isolated") \
	X(PAGE_FREE_TP, 14, "kmem:mm_page_free") \
	X(CMA_ALLOC_START_TP, 15, "cma:cma_alloc_start") \
	X(CMA_BUSY_RETRY_TP, 16, "cma:cma_alloc_busy_retry") \
	X(CMA_ALLOC_FINISH_TP, 17, "cma:cma_alloc_finish") \
	X(CMA_ALLOC_TP, 18, "cma:cma_alloc") /* the single CMA event before 5.11 */ \
	X(EXIT_TP, 19, "sched:sched_process_exit") \
	/* start_isolate_page_range() returned an error */ \
	X(ISOLATE_RANGE, 20, "start_isolate_page_range") \
	/* has_unmovable_pages() named the page (where not inlined) */ \
	X(UNMOVABLE_PAGE, 21, "has_unmovable_pages") \
	X(CONTIG_PAGES, 22, "alloc_contig_pages") /* 5.x-6.9 */ \
	X(CONTIG_PAGES_NOPROF, 23, "alloc_contig_pages_noprof") /* 6.10+ */ \
	/* 7.x; alloc_contig_pages_noprof wraps it */ \
	X(CONTIG_FROZEN_PAGES, 24, "alloc_contig_frozen_pages_noprof") \
	/* releases where 7.x inlines gup_put_folio: unpin_user_page(page), */ \
	/* unpin_folio(folio), unpin_user_folio(folio, npages) (io_uring, bio completion) */ \
	X(UNPIN_USER_PAGE, 25, "unpin_user_page") \
	X(UNPIN_FOLIO, 26, "unpin_folio") \
	X(UNPIN_USER_FOLIO, 27, "unpin_user_folio") \
	/* file pages spliced into a pipe: the same funnel, renamed (BTF: 5.10 and 6.1; 6.12+) */ \
	X(SPLICE_TO, 28, "do_splice_to") \
	X(SPLICE_READ, 29, "do_splice_read") \
	/* a pipe buffer let go (read, or the pipe closed) */ \
	X(PIPE_BUF_RELEASE, 30, "page_cache_pipe_buf_release") \
	/* a pipe buffer copied (tee, part of a buffer spliced on) */ \
	X(PIPE_BUF_GET, 31, "generic_pipe_buf_get") \
	/* names the pipe a splice fills: its inode, pipe:[INO] in /proc/PID/fd */ \
	X(DO_SPLICE, 32, "do_splice") \
	/* the page memory offline's isolation refused (6.x inline has_unmovable_pages, but dump it) */ \
	X(DUMP_PAGE, 33, "dump_page")

enum pt_hook {
#define PT_HOOK_ENUMERATOR(name, number, target) PT_HOOK_##name = number,
	PT_HOOKS(PT_HOOK_ENUMERATOR)
#undef PT_HOOK_ENUMERATOR
};

struct pt_header {
	__u16 type;   /* enum pt_record_type */
	__u16 size;   /* whole record, header included */
	__u16 hook;   /* enum pt_hook */
	__u16 cpu;
	__u64 ts_ns;  /* bpf_ktime_get_ns(): CLOCK_MONOTONIC */
	__u32 tgid;   /* the task that ran the hook */
	__u32 tid;
	char comm[PT_COMM_LEN];
	__u64 cgroup_id;
};

struct pt_grab {
	struct pt_header h;
	__u64 pfn;
	__u32 nr_pages;   /* consecutive pages from pfn ... */
	__u32 count;      /* ... each given this many pins or references */
	__u32 gup_flags;  /* raw FOLL_* bits; their layout is in the trace header */
	__s32 kstack_id;  /* negative: errno from bpf_get_stackid */
	__s32 ustack_id;
	__u32 stack_flags; /* PT_STACK_* */
};

/* A grab a splice put in a pipe: the pipe's inode number (pipefs numbers
 * come from get_next_ino(), 32 bits), 0 where it could not be told (the
 * do_splice hook missing, a splice that did not come through it). */
struct pt_grab_in_pipe {
	struct pt_grab base;
	__u64 pipe_ino;
};

/* Bit 30 of a stack id: the stack is in the spill map. The main map hashes
 * stacks into buckets and refuses (-EEXIST) a stack whose bucket holds
 * another; it then goes to the smaller spill map instead of being lost. */
#define PT_STACK_SPILL (1 << 30)

/* The stacks are this thread's from an earlier grab (short-term grabs take
 * a stack at most once per thread per sampling interval: unwinding costs
 * more than everything else a grab record does). */
#define PT_STACK_SAMPLED 1

struct pt_release {
	struct pt_header h;
	__u64 pfn;        /* the folio's head page */
	__u32 refs;
	__u32 gup_flags;
	__u32 nr_pages;   /* pages the folio spans: the release may be for any of them */
	__u32 pad;
};

struct pt_migrate {
	struct pt_header h;
	__u64 succeeded;
	__u64 failed;
	__u64 thp_succeeded;
	__u64 thp_failed;
	__u64 thp_split;
	__u32 mode;       /* enum migrate_mode */
	__s32 reason;     /* enum migrate_reason; names are in the trace header */
};

struct pt_failed_folio {
	struct pt_header h;
	__u64 pfn;
	__u64 page_flags;
	__s32 refcount;   /* _refcount: small folios count a pin as 1024 (GUP_PIN_COUNTING_BIAS) */
	__s32 mapcount;   /* _mapcount + 1: how many page tables map it */
	__u32 index;      /* position on the list */
	__u32 nr_pages;   /* pages the folio spans */
};

struct pt_migrate_end {
	struct pt_header h;
	__s64 ret;        /* migrate_pages() return value */
	__u32 walked;     /* folios found on the list */
	__u32 truncated;  /* 1: the list was longer than PT_MAX_FAILED_WALK */
};

struct pt_exec {
	struct pt_header h;
};

/* The whole thread group is gone (the header names the thread that exited
 * last): the pins it took stay until someone releases them, and its pid
 * may come back as an unrelated process. */
struct pt_process_exit {
	struct pt_header h;
};

struct pt_isolation_failed {
	struct pt_header h;
	__u64 start_pfn;
	__u64 end_pfn;
	__u64 busy_pfn;   /* the first page of [start, end) that is not free and isolated */
};

/* No pfn: the kernel did not say which page. */
#define PT_NO_PFN (~0ULL)

struct pt_isolation_refused {
	struct pt_header h;
	__u64 start_pfn;
	__u64 end_pfn;
	__u64 unmovable_pfn; /* the page has_unmovable_pages() returned, or PT_NO_PFN */
	__s32 error;         /* start_isolate_page_range()'s return: -EBUSY */
	__u32 pad;
};

#define PT_CONTIG_START 1
#define PT_CONTIG_END 2

struct pt_contig_alloc {
	struct pt_header h;
	__u64 nr_pages;
	__u64 pfn;   /* END: the first page allocated, PT_NO_PFN when it failed */
	__s32 nid;   /* NUMA_NO_NODE (-1): any */
	__u32 op;    /* PT_CONTIG_START, PT_CONTIG_END */
};

struct pt_page_freed {
	struct pt_header h;
	__u64 pfn;
	__u32 order;
	__u32 pad;
};

enum pt_cma_op {
	PT_CMA_ALLOC_START = 1,  /* cma_alloc_start: count, align, area */
	PT_CMA_BUSY_RETRY = 2,   /* cma_alloc_busy_retry: [pfn, pfn + count) was busy, trying elsewhere */
	PT_CMA_ALLOC_END = 3,    /* cma_alloc_finish (or cma_alloc before 5.11): the outcome */
};

#define PT_CMA_NAME_LEN 32
#define PT_CMA_HAS_ERRNO 1      /* errorno is the kernel's (cma_alloc_finish, 6.3+) */
#define PT_CMA_HAS_NAME 2       /* the event names the area (5.11+) */
#define PT_CMA_SUCCEEDED 4      /* END: a page was returned */

struct pt_cma {
	struct pt_header h;
	__u64 pfn;        /* BUSY_RETRY: the busy range; END: the range allocated, or the last tried */
	__u64 count;      /* pages requested */
	__u32 align;      /* order of the requested alignment */
	__u16 op;         /* enum pt_cma_op */
	__u16 flags;      /* PT_CMA_* */
	__s32 errorno;
	__u32 pad;
	char name[PT_CMA_NAME_LEN];
};

/*
 * What a page was when an operation failed on it, read from its struct page
 * by the program that saw the failure: by the time anyone looks, the page
 * may be anything else. Records that name a failed page carry it at their
 * end (the *_identified records below); traces of older pintraces lack it.
 *
 * Kinds come from folio->mapping's low bits (and, 7.x, PG_movable_ops);
 * types from page->page_type, whose encoding changed three times (5.10,
 * 5.11-6.11, 6.12+): the BPF side translates both into pintrace's numbers,
 * and the raw word is kept for diagnosis.
 */
#define PT_PAGE_KINDS(X) \
	X(UNREAD, 0, "unread")          /* not read: no struct page known there */ \
	X(NO_MAPPING, 1, "no_mapping")  /* kernel or driver memory, or a page cache page cut from its file */ \
	X(ANON, 2, "anonymous") \
	X(FILE, 3, "file")              /* page cache: the file is named */ \
	X(KSM, 4, "ksm") \
	X(MOVABLE_OPS, 5, "driver_movable") /* non-LRU movable (zsmalloc, balloon): moved by its driver only */

enum pt_page_kind {
#define PT_PAGE_KIND_ENUMERATOR(name, number, label) PT_PAGE_##name = number,
	PT_PAGE_KINDS(PT_PAGE_KIND_ENUMERATOR)
#undef PT_PAGE_KIND_ENUMERATOR
};

#define PT_PAGE_TYPES(X) \
	X(NONE, 0, "") \
	X(BUDDY, 1, "buddy")          /* free, in the allocator */ \
	X(OFFLINE, 2, "offline")      /* logically offline: balloon, virtio-mem */ \
	X(TABLE, 3, "page_table") \
	X(GUARD, 4, "guard") \
	X(HUGETLB, 5, "hugetlb") \
	X(SLAB, 6, "slab")            /* PG_slab up to 6.9, a page type from 6.10 */ \
	X(ZSMALLOC, 7, "zsmalloc") \
	X(UNACCEPTED, 8, "unaccepted") \
	X(LARGE_KMALLOC, 9, "large_kmalloc") \
	X(KMEMCG, 10, "kmemcg")       /* 5.10: a kernel allocation charged to a cgroup */

enum pt_page_type {
#define PT_PAGE_TYPE_ENUMERATOR(name, number, label) PT_TYPE_##name = number,
	PT_PAGE_TYPES(PT_PAGE_TYPE_ENUMERATOR)
#undef PT_PAGE_TYPE_ENUMERATOR
};

#define PT_IDENTITY_NAME_LEN 32
#define PT_IDENTITY_PATH_DEPTH 4
#define PT_IDENTITY_FS_LEN 16

struct pt_page_identity {
	__u64 flags;        /* the head page's flags (as pt_failed_folio's) */
	__s32 refcount;     /* the head page's _refcount */
	__s32 mapcount;     /* the page's _mapcount + 1; meaningless where type is set (the same word) */
	__u64 index;        /* FILE: the folio's offset in its file, in pages */
	__u64 ino;          /* FILE: the inode number */
	__u32 dev;          /* FILE: the filesystem's s_dev, kernel encoding (major << 20 | minor) */
	__u32 page_type;    /* the raw page_type word */
	__u8 kind;          /* enum pt_page_kind */
	__u8 type;          /* enum pt_page_type */
	__u8 path_depth;    /* FILE: entries of path[] filled, the file's own name first */
	__u8 path_complete; /* FILE: path[] reached its filesystem's root */
	__u32 pad;
	char fs[PT_IDENTITY_FS_LEN];  /* FILE: the filesystem type: "tmpfs", "ext4" */
	char path[PT_IDENTITY_PATH_DEPTH][PT_IDENTITY_NAME_LEN]; /* FILE: dentry names, leaf first, each cut to 31 bytes */
	char slab_cache[PT_IDENTITY_NAME_LEN]; /* SLAB: the cache's name */
};

/* The records that name a failed page, with its identity at their end. */
struct pt_failed_folio_identified {
	struct pt_failed_folio base;
	struct pt_page_identity identity;
};

struct pt_isolation_failed_identified {
	struct pt_isolation_failed base;
	struct pt_page_identity identity;
};

struct pt_isolation_refused_identified {
	struct pt_isolation_refused base;
	struct pt_page_identity identity;
};

/* Calibration: pairs of (struct page *, pfn) seen by two programs attached
 * to kmem:mm_page_alloc, from which user space derives the vmemmap base. */
#define PT_CALIB_SAMPLES 64
struct pt_calib {
	__u64 page_then_pfn[PT_CALIB_SAMPLES]; /* base candidates, page seen first */
	__u64 pfn_then_page[PT_CALIB_SAMPLES]; /* base candidates, pfn seen first */
	__u32 n_page_then_pfn;
	__u32 n_pfn_then_page;
	__u64 struct_page_size;
};

/* The sizes the trace file stores: checked at compile time by the BPF
 * objects and by user space, so that a field added inside a released
 * record fails the build instead of every reader of old traces. */
#ifdef __cplusplus
#define PT_ASSERT_SIZE(type, bytes) static_assert(sizeof(struct type) == (bytes), #type " is stored byte for byte")
#else
#define PT_ASSERT_SIZE(type, bytes) _Static_assert(sizeof(struct type) == (bytes), #type " is stored byte for byte")
#endif
PT_ASSERT_SIZE(pt_header, 48);
PT_ASSERT_SIZE(pt_grab, 80);
PT_ASSERT_SIZE(pt_grab_in_pipe, 88);
PT_ASSERT_SIZE(pt_release, 72);
PT_ASSERT_SIZE(pt_migrate, 96);
PT_ASSERT_SIZE(pt_failed_folio, 80);
PT_ASSERT_SIZE(pt_migrate_end, 64);
PT_ASSERT_SIZE(pt_exec, 48);
PT_ASSERT_SIZE(pt_process_exit, 48);
PT_ASSERT_SIZE(pt_isolation_failed, 72);
PT_ASSERT_SIZE(pt_isolation_refused, 80);
PT_ASSERT_SIZE(pt_contig_alloc, 72);
PT_ASSERT_SIZE(pt_page_freed, 64);
PT_ASSERT_SIZE(pt_cma, 112);
PT_ASSERT_SIZE(pt_page_identity, 224);
PT_ASSERT_SIZE(pt_failed_folio_identified, 304);
PT_ASSERT_SIZE(pt_isolation_failed_identified, 296);
PT_ASSERT_SIZE(pt_isolation_refused_identified, 304);

#endif
