// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The capture's own cost, run natively (tests/bench/capture_cost_bench.cpp,
 * docs/performance.md "Native capture cost").
 *
 * This object is the capture object itself, pintrace.bpf.c included whole
 * (the same bodies, maps and load-time constants, compiled the same way),
 * plus raw_tp programs that run those bodies on real pages. A raw_tp
 * program runs through BPF_PROG_TEST_RUN with no attach point, so this
 * works on a host that refuses fentry and kprobes. Each program times a
 * bpf_loop() of cost_iterations iterations with bpf_ktime_get_ns(): per-run
 * overheads (the test run's syscall, the kernel's BPF statistics, ~130 ns a
 * run on the development host) are spread over thousands of iterations, and
 * an empty loop, measured alike, gives the floor to subtract.
 *
 * The bench loads only the programs below; the capture's own stay unloaded.
 */
#include "pintrace.bpf.c"
#include "capture_cost.h"

/* Real pages to run the bodies on: pfns of a buffer the bench locked in
 * memory. The grabs mark theirs (mark_grabbed); the free of an untracked
 * page gets pages none marks. */
__u64 cost_pfns[COST_PAGES];
__u64 cost_untracked_pfns[COST_PAGES];
__u32 cost_iterations;

/* Out: what the last run took, and the iterations bpf_loop() ran. */
__u64 cost_elapsed_ns;
__s64 cost_loops;

struct cost_loop {
	void *ctx; /* the program's: the stack walk needs it */
};

static __always_inline const void *page_of(__u64 pfn)
{
	return (const void *)(vmemmap_base + pfn * bpf_core_type_size(struct page));
}

static __always_inline const void *cost_page(__u32 i)
{
	return page_of(cost_pfns[i & (COST_PAGES - 1)]);
}

/* A short-term grab, as fast GUP's hook records it (try_grab_folio_fast's
 * exit: one page, one pin): its stacks are the thread's sampled ones. */
static __always_inline void short_term_grab(void *ctx, __u32 i)
{
	emit_grab(ctx, PT_HOOK_TRY_GRAB_FOLIO_FAST, cost_page(i), 1, 1, foll_pin);
}

/* Its release, as gup_put_folio's entry records it. */
static __always_inline void its_release(__u32 i)
{
	release_refs(PT_HOOK_GUP_PUT_FOLIO, (const struct folio *)cost_page(i), 1, foll_pin);
}

#define COST_PROGRAM(name, body)                                                \
	static long cost_##name##_iteration(__u32 i, void *data)               \
	{                                                                       \
		struct cost_loop *loop = data;                                  \
		(void)loop;                                                     \
		body;                                                           \
		return 0;                                                       \
	}                                                                       \
	SEC("raw_tp")                                                           \
	int cost_##name(void *ctx)                                              \
	{                                                                       \
		struct cost_loop loop = { .ctx = ctx };                         \
		__u64 start = bpf_ktime_get_ns();                               \
                                                                                \
		cost_loops = bpf_loop(cost_iterations, cost_##name##_iteration, &loop, 0); \
		cost_elapsed_ns = bpf_ktime_get_ns() - start;                   \
		return 0;                                                       \
	}

/* The floor: bpf_loop()'s own call per iteration, and the page lookup. */
COST_PROGRAM(empty, barrier_var(i))
COST_PROGRAM(grab, short_term_grab(loop->ctx, i))
/* A long-term pin: its stacks are walked every time (fill_stacks). */
COST_PROGRAM(grab_fresh_stacks,
	     emit_grab(loop->ctx, PT_HOOK_TRY_GRAB_FOLIO_FAST, cost_page(i), 1, 1, foll_pin | foll_longterm))
COST_PROGRAM(release, its_release(i))
/* A short-lived pin: a direct I/O's grab and its completion's release. */
COST_PROGRAM(pair, short_term_grab(loop->ctx, i); its_release(i))
/* The same pin paired in the kernel (record's default where the kernel
 * can): the grab parked in its folio's slot, the release claims it, and
 * neither is recorded. The bench loads the object with pairing off, so
 * the calls are made here as emit_grab() and emit_release() make them
 * with it on. */
static __always_inline void paired_pin(void *ctx, __u32 i)
{
	const void *page = cost_page(i);

	if (!park_grab(ctx, PT_HOOK_TRY_GRAB_FOLIO_FAST, page, 1, 1, foll_pin))
		short_term_grab(ctx, i);
	if (!pair_release(page_to_pfn(page), 1, false))
		its_release(i);
}
/* Over all 4096 pages, so each slot is cold (a buffer pool); over 8, as a
 * loop reading into the same small buffer keeps its slots in the cache. */
COST_PROGRAM(paired_pair, paired_pin(loop->ctx, i))
COST_PROGRAM(paired_pair_hot, paired_pin(loop->ctx, i & 7))
/* A direct I/O's release as 6.12 and later make it: unpin_user_page()'s
 * entry reports it and marks the folio, gup_put_folio() inside it skips the
 * marked folio, its exit clears the mark (three programs). */
static __always_inline void unpin_path_release(__u32 i)
{
	const void *folio = cost_page(i);

	unpin_entry(PT_HOOK_UNPIN_USER_PAGE, folio, 1);
	release_refs(PT_HOOK_GUP_PUT_FOLIO, (const struct folio *)folio, 1, foll_pin);
	leave_unpin(folio);
}
COST_PROGRAM(release_unpin, unpin_path_release(i))

/* The same pin paired on that path: the entry claims the parked grab, the
 * gup_put_folio() inside finds the slot claimed, the exit frees it. */
static __always_inline void paired_unpin_pin(void *ctx, __u32 i)
{
	const void *page = cost_page(i);

	if (!park_grab(ctx, PT_HOOK_TRY_GRAB_FOLIO_FAST, page, 1, 1, foll_pin))
		short_term_grab(ctx, i);
	if (!pair_release(page_to_pfn(page), 1, true)) {
		unpin_path_release(i);
		return;
	}
	if (!claimed_slot(page))
		release_refs(PT_HOOK_GUP_PUT_FOLIO, (const struct folio *)page, 1, foll_pin);
	free_claimed(page);
}
COST_PROGRAM(paired_unpin, paired_unpin_pin(loop->ctx, i))
/* One folio a migration left on its list (walk_failed_list's per-folio body). */
COST_PROGRAM(failure,
	     emit_failed_folio((struct list_head *)((__u64)cost_page(i) + bpf_core_field_offset(struct page, lru)), i))
/* kmem:mm_page_free on a page nobody grabbed: the tax on every free. */
COST_PROGRAM(free_untracked, page_freed(page_of(cost_untracked_pfns[i & (COST_PAGES - 1)]), 0))
/* ... and on the pages the grabs marked: each is reported once (the bench
 * checks that the filter lets these through before it times anything). */
COST_PROGRAM(free_tracked, page_freed(cost_page(i), 0))

/* Not a capture body: what pairing grabs and releases in the kernel would
 * pay at least (issue 14), a hash insert at the grab and a delete at the
 * release of an entry the size a live grab would need. For the cost model
 * only; docs/performance.md says which figure is which. */
struct live_grab {
	__u64 since_ns;
	__u32 tid;
	__u32 gup_flags;
	__s32 kstack_id;
	__s32 ustack_id;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, struct live_grab);
} cost_live_grabs SEC(".maps");

static __always_inline void map_pair(__u32 i)
{
	__u64 pfn = cost_pfns[i & (COST_PAGES - 1)];
	struct live_grab g = { .since_ns = bpf_ktime_get_ns(), .tid = (__u32)bpf_get_current_pid_tgid() };

	bpf_map_update_elem(&cost_live_grabs, &pfn, &g, BPF_ANY);
	bpf_map_delete_elem(&cost_live_grabs, &pfn);
}

COST_PROGRAM(map_pair, map_pair(i))

/* Not a capture body either: the part every record pays, a grab-sized
 * record reserved, its header filled (clock, task, comm, cgroup) and
 * submitted, nothing else. */
static __always_inline void record_only(void)
{
	struct pt_grab *r = reserve(sizeof(*r));

	if (!r)
		return;
	fill_header(&r->h, PT_REC_GRAB, sizeof(*r), PT_HOOK_TRY_GRAB_FOLIO_FAST);
	submit(r);
}

COST_PROGRAM(record_only, record_only())

/* The free of a whole block of 2^cost_block_order pages at cost_block_pfn
 * (user space sets order 10): it spans two regions of the free filter, and
 * the check puts the only grabbed page in the second. The order is a
 * variable, as mm_page_free's is: a constant lets the verifier tell every
 * pass of take_grabbed()'s loop apart, and it gives up at a million
 * instructions (kernel 6.18.44 of 2026-12). */
__u64 cost_block_pfn;
__u32 cost_block_order;
COST_PROGRAM(free_block, page_freed(page_of(cost_block_pfn), cost_block_order))

/* Not a capture body: pairing in a per-CPU ring of recent grabs instead of
 * a shared hash (docs/performance.md, the design note): a grab writes the
 * next slot of its CPU's ring, its release on the same CPU finds it among
 * the last COST_RING slots and clears it. What the other design costs. */
struct recent_grabs {
	__u64 head;
	struct live_grab slot[COST_RING];
	__u64 pfn[COST_RING];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct recent_grabs);
} cost_recent_grabs SEC(".maps");

static __always_inline void ring_pair(__u32 i)
{
	__u64 pfn = cost_pfns[i & (COST_PAGES - 1)];
	__u32 zero = 0, k;
	struct recent_grabs *ring = bpf_map_lookup_elem(&cost_recent_grabs, &zero);
	__u32 at;

	if (!ring)
		return;
	/* The grab. */
	at = ring->head++ & (COST_RING - 1);
	ring->pfn[at] = pfn;
	ring->slot[at].since_ns = bpf_ktime_get_ns();
	ring->slot[at].tid = (__u32)bpf_get_current_pid_tgid();
	/* Its release. */
	ring = bpf_map_lookup_elem(&cost_recent_grabs, &zero);
	if (!ring)
		return;
	for (k = 0; k < COST_RING; k++) {
		if (ring->pfn[k] == pfn) {
			ring->pfn[k] = 0;
			break;
		}
	}
}

COST_PROGRAM(ring_pair, ring_pair(i))

/* Not a capture body: the design of docs/pairing.md, measured. A grab
 * parks in a global array, a row of COST_RING slots per CPU, and a release
 * claims its grab by compare-and-exchange. parked_pair: a pin released on
 * its own CPU. parked_miss: a release whose grab is parked nowhere, which
 * looks through every row before it would be sent as today (a completion
 * interrupt on another CPU finds its grab somewhere on the way: this is
 * the most it pays). */
struct cost_parked_grab {
	__u64 state; /* 0: free, 1: parked */
	__u64 pfn;
	struct live_grab grab;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, COST_ROWS * COST_RING);
	__type(key, __u32);
	__type(value, struct cost_parked_grab);
} cost_parked SEC(".maps");

__u32 cost_parked_head[COST_ROWS];

static __always_inline __u32 own_row(void)
{
	return bpf_get_smp_processor_id() & (COST_ROWS - 1);
}

static __always_inline struct cost_parked_grab *parked_slot(__u32 row, __u32 k)
{
	__u32 at = (row * COST_RING + k) & (COST_ROWS * COST_RING - 1);

	return bpf_map_lookup_elem(&cost_parked, &at);
}

/* Parks a grab of pfn in the next slot of row; returns the slot's index in
 * cost_parked, or -1. */
static __always_inline int park_on(__u32 row, __u64 pfn)
{
	__u32 k = cost_parked_head[row & (COST_ROWS - 1)]++ & (COST_RING - 1);
	struct cost_parked_grab *p = parked_slot(row, k);

	if (!p)
		return -1;
	/* An occupant claimed here would be sent, with its own timestamp. */
	__sync_val_compare_and_swap(&p->state, 1, 0);
	p->pfn = pfn;
	p->grab.since_ns = bpf_ktime_get_ns();
	p->grab.tid = (__u32)bpf_get_current_pid_tgid();
	__sync_val_compare_and_swap(&p->state, 0, 1);
	return (row * COST_RING + k) & (COST_ROWS * COST_RING - 1);
}

static __always_inline void park(__u64 pfn)
{
	park_on(own_row(), pfn);
}

static __always_inline bool claim_in_row(__u32 row, __u64 pfn)
{
	for (__u32 k = 0; k < COST_RING; k++) {
		struct cost_parked_grab *p = parked_slot(row, k);

		if (p && p->state == 1 && p->pfn == pfn && __sync_val_compare_and_swap(&p->state, 1, 0) == 1)
			return true;
	}
	return false;
}

static __always_inline bool claim(__u64 pfn)
{
	__u32 row = own_row();

	if (claim_in_row(row, pfn))
		return true;
	for (__u32 r = 0; r < COST_ROWS; r++)
		if (r != row && claim_in_row(r, pfn))
			return true;
	return false;
}

static __always_inline void parked_pair(__u32 i)
{
	__u64 pfn = cost_pfns[i & (COST_PAGES - 1)];

	park(pfn);
	claim(pfn);
}

COST_PROGRAM(parked_pair, parked_pair(i))
COST_PROGRAM(parked_miss, claim(cost_untracked_pfns[i & (COST_PAGES - 1)]))

/* ... and with the hint instead of the search: the park notes its slot in
 * a direct-mapped table indexed by the pfn's low bits; the release reads
 * the hint and tries that one slot. hinted_pair parks on the next CPU's
 * row, as a grab whose completion interrupt runs elsewhere. */
#define COST_HINTS 65536

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, COST_HINTS);
	__type(key, __u32);
	__type(value, __u32);
} cost_parked_hint SEC(".maps");

static __always_inline void park_hinted(__u32 row, __u64 pfn)
{
	int at = park_on(row, pfn);
	__u32 key = (__u32)pfn & (COST_HINTS - 1), *hint;

	if (at < 0)
		return;
	hint = bpf_map_lookup_elem(&cost_parked_hint, &key);
	if (hint)
		*hint = at;
}

static __always_inline bool claim_hinted(__u64 pfn)
{
	__u32 key = (__u32)pfn & (COST_HINTS - 1), *hint = bpf_map_lookup_elem(&cost_parked_hint, &key);
	struct cost_parked_grab *p;

	if (!hint)
		return false;
	p = bpf_map_lookup_elem(&cost_parked, hint);
	return p && p->state == 1 && p->pfn == pfn && __sync_val_compare_and_swap(&p->state, 1, 0) == 1;
}

static __always_inline void hinted_pair(__u32 i)
{
	__u64 pfn = cost_pfns[i & (COST_PAGES - 1)];

	park_hinted(own_row() + 1, pfn);
	claim_hinted(pfn);
}

COST_PROGRAM(hinted_pair, hinted_pair(i))

/* ---- pairing's checks (not timed): the bench loads the object a second
 * time with pairing on and runs each once, on one page, checking the
 * records each leaves (tests/bench/capture_cost_bench.cpp, kPairingChecks) */

static __always_inline void check_grab(void *ctx)
{
	emit_grab(ctx, PT_HOOK_TRY_GRAB_FOLIO_FAST, cost_page(0), 1, 1, foll_pin);
}

static __always_inline void check_release(__u32 refs)
{
	release_refs(PT_HOOK_GUP_PUT_FOLIO, (const struct folio *)cost_page(0), refs, foll_pin);
}

/* Parked, then released with the same refs: nothing recorded. */
COST_PROGRAM(check_pair, check_grab(loop->ctx); check_release(1))
/* Released with other refs: the parked grab goes first, then the release. */
COST_PROGRAM(check_other_refs, check_grab(loop->ctx); check_release(2))
/* A second pin of the folio sends the first; the release pairs the second. */
COST_PROGRAM(check_second_pin, check_grab(loop->ctx); check_grab(loop->ctx); check_release(1))
/* A failure on the folio sends its parked grab. */
COST_PROGRAM(check_failure, check_grab(loop->ctx); pt_send_parked(ptr_to_u64(cost_page(0))))
/* Parked and left: the flush program sends it (the bench runs it). */
COST_PROGRAM(check_park, check_grab(loop->ctx))
/* Long-term: never parked. */
COST_PROGRAM(check_longterm,
	     emit_grab(loop->ctx, PT_HOOK_TRY_GRAB_FOLIO_FAST, cost_page(0), 1, 1, foll_pin | foll_longterm);
	     check_release(1))
/* The unpin path paired: its entry claims, the gup_put_folio() inside is
 * silent, its exit frees the slot. */
COST_PROGRAM(check_unpin_paired, check_grab(loop->ctx); unpin_entry(PT_HOOK_UNPIN_USER_PAGE, cost_page(0), 1);
	     check_release(1); unpin_exit(cost_page(0)))
/* An unpaired unpin (nothing parked: it sends its release and marks the
 * folio), a grab parked meanwhile, then the gup_put_folio() inside: it is
 * the unpin's own release and must not take that grab. */
COST_PROGRAM(check_unpin_order, unpin_entry(PT_HOOK_UNPIN_USER_PAGE, cost_page(0), 1); check_grab(loop->ctx);
	     check_release(1); unpin_exit(cost_page(0)))
