// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * pintrace capture: who pins or references which page, who releases it, and
 * which pages a migration could not move.
 *
 * Each attach point exists in up to two variants: fentry/fexit (cheapest,
 * and the only one with typed arguments) and kprobe/kretprobe (for kernels
 * or targets where the trampoline is refused, e.g. more than 6 arguments
 * before 6.3, or a host that forbids tracing programs). User space probes
 * which variant attaches and turns the others off with
 * bpf_program__set_autoload() before load; see src/capture/attach_plan.cpp.
 */
#include "kernel_types.h"
#include <linux/bpf.h>
#include <linux/errno.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "pintrace.h"
#include "bpf_util.h"
#include "compound_head.h"
#include "page_identity.h"

char LICENSE[] SEC("license") = "GPL";

/* Set by user space before load (read-only afterwards, so the verifier
 * treats them as constants and prunes branches that cannot run). */
const volatile __u64 vmemmap_base = 0;
const volatile __u32 foll_get = 0;
const volatile __u32 foll_pin = 0;
const volatile __u32 foll_longterm = 0;
/* Short-term grabs reuse their thread's stack for this long (0: never). */
const volatile __u64 stack_sample_ns = 1000000000ULL;
const volatile __u32 wakeup_bytes = 1 << 20;
const volatile bool try_grab_page_returns_errno = false;
/* Pairing short-lived pins in the kernel (docs/pairing.md): set by user
 * space where the kernel has BPF compare-and-exchange and bpf_loop (5.17+),
 * unless `record --all-events`. Off, every branch using it is pruned, so
 * 5.10 never sees the atomics it lacks. */
const volatile bool pair_pins = false;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 16 << 20);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_STACK_TRACE);
	__uint(max_entries, 16384);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, PT_MAX_STACK_DEPTH * sizeof(__u64));
} stacks SEC(".maps");

/* Stacks whose bucket in `stacks` held another one (PT_STACK_SPILL). A
 * different size gives a different bucket for the same hash. */
struct {
	__uint(type, BPF_MAP_TYPE_STACK_TRACE);
	__uint(max_entries, 4096);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, PT_MAX_STACK_DEPTH * sizeof(__u64));
} stacks_spill SEC(".maps");

/* Records the ring buffer had no room for, per CPU. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} lost SEC(".maps");

/* Arguments a kprobe saw at entry, for its kretprobe. */
struct entry_args {
	__u64 arg[2];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8192);
	__type(key, __u64); /* hook << 32 | tid */
	__type(value, struct entry_args);
} entries SEC(".maps");

/* Threads inside follow_page(): move_pages, KSM and THP splitting take a
 * FOLL_GET reference through it and drop it a few lines later with an
 * inline put_page() no probe can see. Those are the kernel's own transient
 * references, never a holder: grabs made there are not recorded. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, __u8);
} in_follow_page SEC(".maps");

/* How many entries in_follow_page holds (one is added with each entry the
 * map takes and taken off with each it gives up). While it is 0, a grab
 * skips the map lookup: a grab inside follow_page() runs on the thread
 * that entered it, after that thread's entry was counted. A stale entry (a
 * missed kretprobe) keeps it above 0, which only costs the lookups. On
 * kernels whose follow_page() is gone or not hooked, no grab pays it. */
__u64 threads_in_follow_page = 0;

/* Set by user space before its last flush of parked pins (recording
 * stops): a pin taken after it is sent at once, never left parked. */
__u32 stop_parking = 0;

/* Processes that have grabbed pages, until their last thread exits. The
 * first grab of a process wakes user space at once, so it reads the
 * process's memory map (for user stacks) while the process is still alive:
 * pinners can be short-lived. An exec keeps the process here (its exit
 * still matters) but makes its next grab wake user space again. */
#define PINNER_MAPPED 1
#define PINNER_EXECED 2
/* Only parked pins so far (pairing): its exit is reported, and its first
 * grab sent wakes user space as a first grab does. */
#define PINNER_PARKED 3
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192);
	__type(key, __u32);
	__type(value, __u8);
} known_pinners SEC(".maps");

struct thread_stack {
	__u64 ts_ns;
	__s32 kstack_id;
	__s32 ustack_id;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64); /* tid << 32 | FOLL_* flags: call sites differ in flags */
	__type(value, struct thread_stack);
} thread_stacks SEC(".maps");

/* Long-term pins always get their own stacks: they are rare and they are
 * what an SRE acts on. Other grabs take one per (thread, FOLL_* flags) per
 * interval: a thread's grabs with the same flags come from the same call
 * site in practice (exec's argument copying and a vmsplice do not share). */

/* A stack's id in `stacks`, or in `stacks_spill` (PT_STACK_SPILL set) when
 * its bucket in `stacks` already holds a different stack. */
static __always_inline __s32 stack_id(void *ctx, __u64 flags)
{
	__s32 id = bpf_get_stackid(ctx, &stacks, flags);

	if (id == -EEXIST) {
		id = bpf_get_stackid(ctx, &stacks_spill, flags);
		if (id >= 0)
			id |= PT_STACK_SPILL;
	}
	return id;
}

/* @key_flags: the thread's sampled stacks are kept per these (its FOLL_*
 * flags, or a call site's own marker). */
static __always_inline void fill_stacks_keyed(void *ctx, struct pt_grab *r, __u32 gup_flags, __u32 key_flags)
{
	__u64 key = ((__u64)r->h.tid << 32) | key_flags;
	struct thread_stack *cached;
	struct thread_stack fresh;

	r->stack_flags = 0;
	if (!(gup_flags & foll_longterm) && stack_sample_ns) {
		cached = bpf_map_lookup_elem(&thread_stacks, &key);
		if (cached && r->h.ts_ns - cached->ts_ns < stack_sample_ns) {
			r->kstack_id = cached->kstack_id;
			r->ustack_id = cached->ustack_id;
			r->stack_flags = PT_STACK_SAMPLED;
			return;
		}
	}
	r->kstack_id = stack_id(ctx, 0);
	r->ustack_id = stack_id(ctx, BPF_F_USER_STACK);
	if (!(gup_flags & foll_longterm)) {
		fresh.ts_ns = r->h.ts_ns;
		fresh.kstack_id = r->kstack_id;
		fresh.ustack_id = r->ustack_id;
		bpf_map_update_elem(&thread_stacks, &key, &fresh, BPF_ANY);
	}
}

static __always_inline void fill_stacks(void *ctx, struct pt_grab *r, __u32 gup_flags)
{
	fill_stacks_keyed(ctx, r, gup_flags, gup_flags);
}

/* Pages grabbed during the trace. A reference's release (put_page) is
 * inline and invisible, but the page's eventual free is not: when a page
 * in here is freed, user space learns that nobody holds it any more.
 *
 * One bit per page, 64 pages per entry (key: pfn / 64), and every page of
 * a grab is marked, not only its first: the free of a large folio names its
 * head with an order (a grab through the folio may have named a tail page),
 * and a folio split before its free is freed page by page. A free looks up
 * every entry its 2^order pages touch (at most 16: MAX_ORDER).
 *
 * Bits are set and cleared with atomic adds (5.10 has no atomic or/and),
 * each adding only bits it saw unset (set) or set (clear): concurrent
 * updates of other pages of the entry are safe; two CPUs setting the same
 * bit at once (the same page's first grab on two CPUs together) would carry
 * into the next bit, and that page's free could then go unreported. An
 * entry evicted by the LRU (more than 65536 entries of grabbed pages alive)
 * loses its pages' frees the same way; docs/ledger.md says what the report
 * does with references whose free it never saw. */
#define PT_BLOCK_PAGES (1u << PT_BLOCK_SHIFT)
#define PT_MAX_FREE_BLOCKS 16 /* 2^10 pages: the largest buddy order */
#define PT_MAX_GRAB_BLOCKS 16 /* a grab of up to 1024 pages is marked whole */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64);   /* pfn >> PT_BLOCK_SHIFT */
	__type(value, __u64); /* bit (pfn & 63): grabbed, free not yet seen */
} grabbed_pages SEC(".maps");

/* The filter in front of grabbed_pages: one byte per region of 512 pages
 * (2 MiB, PT_REGION_SHIFT), set when a grab marks any page in it (or user
 * space a page whose free it watches, mark_pages_grabbed()) and never
 * cleared. Every page freed anywhere runs the free program; one in a
 * region no grab ever touched is let go after an array load, which the
 * verifier inlines, instead of a hash lookup (the page-churn figures are in docs/performance.md,
 * "Frees"). Eight regions a word; user space sizes the array to the
 * machine's highest RAM pfn, and a pfn past it takes the hash lookup.
 * Bytes are set with plain stores: setting one twice is harmless, so no
 * atomic is needed (5.10 has no atomic or). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1); /* set by user space before load */
	__type(key, __u32);
	__type(value, __u64);
} grabbed_regions SEC(".maps");

/* The filter's byte for a region, or NULL past the array. */
static __always_inline __u8 *region_byte(__u64 region)
{
	__u32 word = region >> 3;
	__u8 *bytes = bpf_map_lookup_elem(&grabbed_regions, &word);

	return bytes ? bytes + (region & 7) : NULL;
}

static __always_inline void mark_region(__u64 pfn)
{
	__u8 *byte = region_byte(pfn >> PT_REGION_SHIFT);

	if (byte)
		*byte = 1;
}

/* Whether a grab may have marked a page of [pfn, end): false only when
 * every region the range touches is known and unmarked. */
static __always_inline bool region_may_hold_grabs(__u64 pfn, __u64 end)
{
	__u64 region = pfn >> PT_REGION_SHIFT;
	__u64 last = (end - 1) >> PT_REGION_SHIFT;
	__u32 i;

	/* A buddy free of up to 2^10 pages touches at most 3 regions. */
	for (i = 0; i < 3 && region <= last; i++, region++) {
		__u8 *byte = region_byte(region);

		if (!byte || *byte)
			return true;
	}
	return false;
}

/* Bits [first, first + n) of a 64-bit mask, n >= 1. */
static __always_inline __u64 bit_range(__u32 first, __u32 n)
{
	__u64 ones = n >= 64 ? ~0ULL : (1ULL << n) - 1;

	return ones << first;
}

/* Marks pages [pfn, pfn + nr) as grabbed. Hot buffers are grabbed again and
 * again: a lookup is far cheaper than an update (measured: 3.1 -> 6.5 us
 * per grab under TCG when updating every time). */
static __always_inline void mark_grabbed(__u64 pfn, __u32 nr)
{
	__u64 end = pfn + nr;
	__u32 i;

	for (i = 0; i < PT_MAX_GRAB_BLOCKS && pfn < end; i++) {
		__u64 key = pfn >> PT_BLOCK_SHIFT;
		__u32 first = pfn & (PT_BLOCK_PAGES - 1);
		__u64 left = end - pfn;
		__u32 n = left < PT_BLOCK_PAGES - first ? left : PT_BLOCK_PAGES - first;
		__u64 mask = bit_range(first, n);
		__u64 *bits;

		mark_region(pfn);
		bits = bpf_map_lookup_elem(&grabbed_pages, &key);

		if (!bits && bpf_map_update_elem(&grabbed_pages, &key, &mask, BPF_NOEXIST) == 0) {
			pfn += n;
			continue;
		}
		if (!bits)
			bits = bpf_map_lookup_elem(&grabbed_pages, &key);
		if (bits) {
			__u64 missing = mask & ~*bits;

			if (missing)
				__sync_fetch_and_add(bits, missing);
		}
		pfn += n;
	}
}

/* Clears the grabbed marks of [pfn, pfn + 2^order): whether any was set. */
static __always_inline bool take_grabbed(__u64 pfn, __u32 order)
{
	__u64 end = pfn + (1ULL << (order > 10 ? 10 : order));
	bool any = false;
	__u32 i;

	if (!region_may_hold_grabs(pfn, end))
		return false;
	for (i = 0; i < PT_MAX_FREE_BLOCKS && pfn < end; i++) {
		__u64 key = pfn >> PT_BLOCK_SHIFT;
		__u32 first = pfn & (PT_BLOCK_PAGES - 1);
		__u64 left = end - pfn;
		__u32 n = left < PT_BLOCK_PAGES - first ? left : PT_BLOCK_PAGES - first;
		__u64 *bits = bpf_map_lookup_elem(&grabbed_pages, &key);

		if (bits) {
			__u64 hit = *bits & bit_range(first, n);

			if (hit) {
				__sync_fetch_and_add(bits, -hit);
				any = true;
			}
		}
		pfn += n;
	}
	return any;
}

static __always_inline __u64 page_to_pfn(const void *page)
{
	return (ptr_to_u64(page) - vmemmap_base) / bpf_core_type_size(struct page);
}

static __always_inline void *reserve(__u32 size)
{
	__u32 zero = 0;
	void *rec = bpf_ringbuf_reserve(&events, size, 0);

	if (!rec) {
		__u64 *n = bpf_map_lookup_elem(&lost, &zero);
		if (n)
			*n += 1;
	}
	return rec;
}

/* No wakeup per record: user space drains on a timer, and is woken early
 * only when the buffer fills past wakeup_bytes. */
static __always_inline void submit(void *rec)
{
	__u64 flags = BPF_RB_NO_WAKEUP;

	if (bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >= wakeup_bytes)
		flags = BPF_RB_FORCE_WAKEUP;
	bpf_ringbuf_submit(rec, flags);
}

static __always_inline void fill_header(struct pt_header *h, __u16 type, __u16 size, __u16 hook)
{
	__u64 id = bpf_get_current_pid_tgid();

	h->type = type;
	h->size = size;
	h->hook = hook;
	h->cpu = bpf_get_smp_processor_id();
	h->ts_ns = bpf_ktime_get_ns();
	h->tgid = id >> 32;
	h->tid = (__u32)id;
	bpf_get_current_comm(h->comm, sizeof(h->comm));
	h->cgroup_id = bpf_get_current_cgroup_id();
}

static __always_inline __u32 folio_nr_pages(const struct folio *folio)
{
	__u32 order = 0;

	if (!(page_flags(folio) & (1ULL << bpf_core_enum_value(enum pageflags, PG_head))))
		return 1;
	if (bpf_core_field_exists(struct folio___order_field, _folio_order))
		order = BPF_CORE_READ((struct folio___order_field *)folio, _folio_order);
	else if (bpf_core_field_exists(struct folio___memdesc_flags1, _flags_1))
		order = BPF_CORE_READ((struct folio___memdesc_flags1 *)folio, _flags_1.f) & 0xff;
	else if (bpf_core_field_exists(struct folio___flags1, _flags_1))
		order = BPF_CORE_READ((struct folio___flags1 *)folio, _flags_1) & 0xff;
	else if (bpf_core_field_exists(struct page___compound_order, compound_order))
		order = BPF_CORE_READ((struct page___compound_order *)((void *)folio + bpf_core_type_size(struct page)),
				      compound_order);
	return 1u << (order & 31);
}

/* ---- grab: a page gets a pin (FOLL_PIN) or a reference (FOLL_GET) ---- */

/* What every grab record gets before it goes: its pages marked for the
 * free program, and the first grab of a process wakes user space at once
 * to read its memory map. @parked: sent from its slot, maybe after its
 * process exited: a process no longer known is not made known again (its
 * pid may be another process's by now). */
static __always_inline void submit_grab(struct pt_grab *r, bool parked)
{
	__u32 tgid = r->h.tgid;
	__u8 *known;

	mark_grabbed(r->pfn, r->nr_pages);
	known = bpf_map_lookup_elem(&known_pinners, &tgid);
	if ((known && *known == PINNER_MAPPED) || (!known && parked)) {
		submit(r);
	} else {
		__u8 mapped = PINNER_MAPPED;

		bpf_map_update_elem(&known_pinners, &tgid, &mapped, BPF_ANY);
		bpf_ringbuf_submit(r, BPF_RB_FORCE_WAKEUP);
	}
}

static __always_inline void fill_grab(void *ctx, struct pt_grab *r, __u16 hook, const void *page, __u32 nr_pages,
				      __u32 count, __u32 gup_flags)
{
	fill_header(&r->h, PT_REC_GRAB, sizeof(*r), hook);
	r->pfn = page_to_pfn(page);
	r->nr_pages = nr_pages;
	r->count = count;
	r->gup_flags = gup_flags;
	fill_stacks(ctx, r, gup_flags);
}

/* ---- pairing: a short-lived pin and its release never leave the kernel ----
 *
 * A short-term pin (FOLL_PIN without FOLL_LONGTERM: direct I/O, vmsplice
 * of pinned pages) is parked, not sent: its whole grab record waits in the
 * slot of its folio in parked_grabs. The release of that folio's pins
 * claims the slot, and neither record is sent; pairs_elided counts them.
 * Everything else sends the parked grab, with its own timestamp, before
 * anything that depends on it: a second pin of a folio in the same slot
 * (eviction), a release of other refs, a migration or isolation failure
 * on the folio, and user space's flush program for grabs parked longer
 * than the threshold (at every drain, and all of them when recording
 * stops). A claim is a compare-and-exchange, so a grab is sent once or
 * elided once, never both. docs/pairing.md has the design and its limits. */
#define PARK_FREE 0
#define PARK_PARKED 1
#define PARK_BUSY 2 /* being written or sent by one program */
/* Paired by an unpin_*() entry (claimer: who ran it, claimer_id()): the
 * gup_put_folio() inside it is the same release, and the exit frees the
 * slot. This stands in for in_unpin's hash entry on the paired path, at an
 * array's cost. */
#define PARK_CLAIMED 3

/* Who runs this program, as a claim names it: the thread, or, in an
 * interrupt (direct I/O completes there, where the thread id is 0), the
 * CPU, which an interrupt cannot leave. Never 0. */
static __always_inline __u32 claimer_id(void)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();

	return tid ? tid : 0x80000000u | bpf_get_smp_processor_id();
}

struct parked_grab {
	__u64 state;
	__u64 folio_pfn;
	__u32 claimer;
	__u32 pad;
	struct pt_grab rec;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, PT_PARK_SLOTS); /* 1 when not pairing (user space) */
	__type(key, __u32);
	__type(value, struct parked_grab);
} parked_grabs SEC(".maps");

/* Short-lived pins paired and dropped here, per CPU (user space sums). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} pairs_elided SEC(".maps");

/* A folio's slot: hashed, since large folios' pfns share their low bits. */
static __always_inline struct parked_grab *park_slot(__u64 folio_pfn)
{
	__u32 key = (__u32)((folio_pfn * 0x9E3779B97F4A7C15ULL) >> 32) & (PT_PARK_SLOTS - 1);

	return bpf_map_lookup_elem(&parked_grabs, &key);
}

#ifndef PT_NO_ATOMICS
/* Sends the grab parked in @slot, which the caller has claimed (BUSY). */
static __always_inline void send_parked_record(struct parked_grab *slot)
{
	struct pt_grab *r = reserve(sizeof(*r));

	if (r) {
		__builtin_memcpy(r, &slot->rec, sizeof(*r));
		submit_grab(r, true);
	}
}

/* ... and frees the slot. */
static __always_inline void send_claimed(struct parked_grab *slot)
{
	send_parked_record(slot);
	__sync_lock_test_and_set(&slot->state, PARK_FREE);
}

/* A failure met the folio of @page: its parked grab, if any, goes out
 * first. A global function, verified once: the failed-list walk calls it
 * for up to PT_MAX_FAILED_WALK folios, and inlined there it made the
 * verifier's work too large. */
static __always_inline const void *page_head(const void *page);

__noinline int pt_send_parked(__u64 page)
{
	__u64 folio_pfn;
	struct parked_grab *slot;

	if (!pair_pins || !page)
		return 0;
	folio_pfn = page_to_pfn(page_head((const void *)page));
	slot = park_slot(folio_pfn);
	if (slot && slot->state == PARK_PARKED && slot->folio_pfn == folio_pfn &&
	    __sync_val_compare_and_swap(&slot->state, PARK_PARKED, PARK_BUSY) == PARK_PARKED) {
		if (slot->folio_pfn == folio_pfn)
			send_claimed(slot);
		else
			__sync_lock_test_and_set(&slot->state, PARK_PARKED); /* parked again meanwhile */
	}
	return 0;
}

/* Parks a short-term pin; false when it must be sent now (its slot busy). */
static __always_inline bool park_grab(void *ctx, __u16 hook, const void *page, __u32 nr_pages, __u32 count,
				      __u32 gup_flags)
{
	__u64 folio_pfn;
	struct parked_grab *slot;
	__u32 tgid;

	if (stop_parking)
		return false;
	folio_pfn = page_to_pfn(page_head(page));
	slot = park_slot(folio_pfn);
	if (!slot)
		return false;
	if (__sync_val_compare_and_swap(&slot->state, PARK_FREE, PARK_BUSY) != PARK_FREE) {
		if (__sync_val_compare_and_swap(&slot->state, PARK_PARKED, PARK_BUSY) != PARK_PARKED)
			return false;
		/* Another folio's (or an earlier pin of this one): out it goes. */
		send_parked_record(slot);
	}
	slot->folio_pfn = folio_pfn;
	fill_grab(ctx, &slot->rec, hook, page, nr_pages, count, gup_flags);
	__sync_lock_test_and_set(&slot->state, PARK_PARKED);
	/* Its exit must be reported: a pin parked past it is sent after it. */
	tgid = bpf_get_current_pid_tgid() >> 32;
	if (!bpf_map_lookup_elem(&known_pinners, &tgid)) {
		__u8 parked = PINNER_PARKED;

		bpf_map_update_elem(&known_pinners, &tgid, &parked, BPF_NOEXIST);
	}
	return true;
}

/* A release of @refs pins of @folio_pfn: true when it paired with the
 * parked grab of exactly those pins (neither is sent). A parked grab of
 * other pins goes out before the release. @claim: an unpin_*() entry's,
 * which leaves the slot CLAIMED for its exit to free (else freed now). */
static __always_inline bool pair_release(__u64 folio_pfn, __u32 refs, bool claim)
{
	struct parked_grab *slot = park_slot(folio_pfn);
	__u32 zero = 0;
	__u64 *elided;

	if (!slot || slot->state != PARK_PARKED || slot->folio_pfn != folio_pfn ||
	    __sync_val_compare_and_swap(&slot->state, PARK_PARKED, PARK_BUSY) != PARK_PARKED)
		return false;
	if (slot->folio_pfn != folio_pfn) {
		__sync_lock_test_and_set(&slot->state, PARK_PARKED); /* parked again meanwhile */
		return false;
	}
	if ((__u64)slot->rec.nr_pages * slot->rec.count != refs) {
		send_claimed(slot);
		return false;
	}
	slot->claimer = claim ? claimer_id() : 0;
	__sync_lock_test_and_set(&slot->state, claim ? PARK_CLAIMED : PARK_FREE);
	elided = bpf_map_lookup_elem(&pairs_elided, &zero);
	if (elided)
		*elided += 1;
	return true;
}

/* The slot of @folio, CLAIMED by this thread's unpin_*() entry. */
static __always_inline struct parked_grab *claimed_slot(const void *folio)
{
	__u64 folio_pfn = page_to_pfn(folio);
	struct parked_grab *slot = park_slot(folio_pfn);

	if (slot && slot->state == PARK_CLAIMED && slot->folio_pfn == folio_pfn &&
	    slot->claimer == claimer_id())
		return slot;
	return NULL;
}

/* unpin_*()'s exit: frees the slot its entry paired, if it did. */
static __always_inline bool free_claimed(const void *folio)
{
	struct parked_grab *slot = claimed_slot(folio);

	return slot && __sync_val_compare_and_swap(&slot->state, PARK_CLAIMED, PARK_FREE) == PARK_CLAIMED;
}

#else /* PT_NO_ATOMICS: bpf/pintrace_compat.bpf.c, never pairing */
__noinline int pt_send_parked(__u64 page)
{
	return page == 0; /* a global function must stay: the layouts match */
}

static __always_inline bool park_grab(void *ctx, __u16 hook, const void *page, __u32 nr_pages, __u32 count,
				      __u32 gup_flags)
{
	return false;
}

static __always_inline bool pair_release(__u64 folio_pfn, __u32 refs, bool claim)
{
	return false;
}

static __always_inline void *claimed_slot(const void *folio)
{
	return NULL;
}

static __always_inline bool free_claimed(const void *folio)
{
	return false;
}
#endif

static __always_inline bool parks(__u32 gup_flags)
{
	return pair_pins && (gup_flags & foll_pin) && !(gup_flags & foll_longterm);
}

static __always_inline int emit_grab(void *ctx, __u16 hook, const void *page, __u32 nr_pages, __u32 count,
				     __u32 gup_flags)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct pt_grab *r;

	if (!page || !(gup_flags & (foll_get | foll_pin)))
		return 0;
	if (threads_in_follow_page && bpf_map_lookup_elem(&in_follow_page, &tid))
		return 0;
	if (parks(gup_flags) && park_grab(ctx, hook, page, nr_pages, count, gup_flags))
		return 0;
	r = reserve(sizeof(*r));
	if (!r)
		return 0;
	fill_grab(ctx, r, hook, page, nr_pages, count, gup_flags);
	submit_grab(r, false);
	return 0;
}

/* User space's flush, run through BPF_PROG_TEST_RUN at every drain:
 * sends every grab parked at or before args[0] (CLOCK_MONOTONIC ns; all of
 * them when recording stops). Loaded only when pairing. */
#ifndef PT_NO_ATOMICS
static long flush_slot(__u32 i, void *data)
{
	__u64 before = *(__u64 *)data;
	struct parked_grab *slot = bpf_map_lookup_elem(&parked_grabs, &i);

	if (!slot || slot->rec.h.ts_ns > before)
		return 0;
	if (slot->state == PARK_PARKED && __sync_val_compare_and_swap(&slot->state, PARK_PARKED, PARK_BUSY) == PARK_PARKED)
		send_claimed(slot);
	/* A claim whose unpin_*() exit never ran (a missed kretprobe) would
	 * keep the slot and hide that thread's next release of the folio. */
	else if (slot->state == PARK_CLAIMED)
		__sync_val_compare_and_swap(&slot->state, PARK_CLAIMED, PARK_FREE);
	return 0;
}

SEC("raw_tp")
int flush_parked(struct bpf_raw_tracepoint_args *ctx)
{
	__u64 before = ctx->args[0];

	if (pair_pins)
		bpf_loop(PT_PARK_SLOTS, flush_slot, &before, 0);
	return 0;
}
#else
SEC("raw_tp")
int flush_parked(struct bpf_raw_tracepoint_args *ctx)
{
	return 0;
}
#endif

static __always_inline void stash_entry(__u16 hook, __u64 a0, __u64 a1)
{
	__u64 key = ((__u64)hook << 32) | (__u32)bpf_get_current_pid_tgid();
	struct entry_args args = { .arg = { a0, a1 } };

	bpf_map_update_elem(&entries, &key, &args, BPF_ANY);
}

static __always_inline bool take_entry(__u16 hook, struct entry_args *out)
{
	__u64 key = ((__u64)hook << 32) | (__u32)bpf_get_current_pid_tgid();
	struct entry_args *args = bpf_map_lookup_elem(&entries, &key);

	if (!args)
		return false;
	*out = *args;
	bpf_map_delete_elem(&entries, &key);
	return true;
}

static __always_inline bool try_grab_page_succeeded(long ret)
{
	/* bool "grabbed" up to 6.1, 0/-errno from 6.2 on. */
	if (try_grab_page_returns_errno)
		return (int)ret == 0;
	return (__u8)ret != 0;
}

/* try_grab_page(page, flags): slow GUP, one page (5.x – 6.9). */
SEC("fexit/try_grab_page")
int BPF_PROG(fexit_try_grab_page, struct page *page, unsigned int flags, long ret)
{
	if (!try_grab_page_succeeded(ret))
		return 0;
	return emit_grab(ctx, PT_HOOK_TRY_GRAB_PAGE, page, 1, 1, flags);
}

SEC("kprobe/try_grab_page")
int BPF_KPROBE(kprobe_try_grab_page, struct page *page, unsigned int flags)
{
	stash_entry(PT_HOOK_TRY_GRAB_PAGE, (__u64)page, flags);
	return 0;
}

SEC("kretprobe/try_grab_page")
int BPF_KRETPROBE(kretprobe_try_grab_page, long ret)
{
	struct entry_args a;

	if (!take_entry(PT_HOOK_TRY_GRAB_PAGE, &a) || !try_grab_page_succeeded(ret))
		return 0;
	return emit_grab(ctx, PT_HOOK_TRY_GRAB_PAGE, (void *)a.arg[0], 1, 1, a.arg[1]);
}

/*
 * (page, refs, flags) -> folio or head page, NULL on failure: one pin or
 * reference on each of @refs consecutive pages from @page. The shape of
 * try_grab_compound_head (5.x), try_grab_folio (6.0 – 6.9) and
 * try_grab_folio_fast (6.10+), each a variant user space may pick.
 */
#define GRAB_PAGES_RETURNING_PTR(fn, hook)                                                         \
	SEC("fexit/" #fn)                                                                          \
	int BPF_PROG(fexit_##fn, struct page *page, int refs, unsigned int flags, void *grabbed)  \
	{                                                                                          \
		if (!grabbed)                                                                      \
			return 0;                                                                  \
		return emit_grab(ctx, hook, page, refs, 1, flags);                                 \
	}                                                                                          \
	SEC("kprobe/" #fn)                                                                         \
	int BPF_KPROBE(kprobe_##fn, struct page *page, int refs, unsigned int flags)              \
	{                                                                                          \
		stash_entry(hook, (__u64)page, ((__u64)(__u32)refs << 32) | flags);                \
		return 0;                                                                          \
	}                                                                                          \
	SEC("kretprobe/" #fn)                                                                      \
	int BPF_KRETPROBE(kretprobe_##fn, void *grabbed)                                          \
	{                                                                                          \
		struct entry_args a;                                                               \
		if (!take_entry(hook, &a) || !grabbed)                                             \
			return 0;                                                                  \
		return emit_grab(ctx, hook, (void *)a.arg[0], a.arg[1] >> 32, 1, (__u32)a.arg[1]); \
	}

GRAB_PAGES_RETURNING_PTR(try_grab_compound_head, PT_HOOK_TRY_GRAB_COMPOUND_HEAD)
GRAB_PAGES_RETURNING_PTR(try_grab_folio, PT_HOOK_TRY_GRAB_FOLIO)
GRAB_PAGES_RETURNING_PTR(try_grab_folio_fast, PT_HOOK_TRY_GRAB_FOLIO_FAST)

/* 6.10+: int try_grab_folio(struct folio *folio, int refs, unsigned int flags),
 * 0 on success: @refs pins or references on the folio itself. */
SEC("fexit/try_grab_folio")
int BPF_PROG(fexit_try_grab_folio_int, struct folio *folio, int refs, unsigned int flags, int ret)
{
	if (ret)
		return 0;
	return emit_grab(ctx, PT_HOOK_TRY_GRAB_FOLIO, folio, 1, refs, flags);
}

SEC("kprobe/try_grab_folio")
int BPF_KPROBE(kprobe_try_grab_folio_int, struct folio *folio, int refs, unsigned int flags)
{
	stash_entry(PT_HOOK_TRY_GRAB_FOLIO, (__u64)folio, ((__u64)(__u32)refs << 32) | flags);
	return 0;
}

SEC("kretprobe/try_grab_folio")
int BPF_KRETPROBE(kretprobe_try_grab_folio_int, int ret)
{
	struct entry_args a;

	if (!take_entry(PT_HOOK_TRY_GRAB_FOLIO, &a) || ret)
		return 0;
	return emit_grab(ctx, PT_HOOK_TRY_GRAB_FOLIO, (void *)a.arg[0], 1, a.arg[1] >> 32, (__u32)a.arg[1]);
}

static __always_inline void enter_follow_page(void)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	__u8 one = 1;

	if (bpf_map_update_elem(&in_follow_page, &tid, &one, BPF_NOEXIST) == 0)
		__sync_fetch_and_add(&threads_in_follow_page, 1);
}

static __always_inline void leave_follow_page(void)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();

	if (bpf_map_delete_elem(&in_follow_page, &tid) == 0)
		__sync_fetch_and_add(&threads_in_follow_page, -1);
}

SEC("fentry/follow_page")
int BPF_PROG(fentry_follow_page)
{
	enter_follow_page();
	return 0;
}

SEC("fexit/follow_page")
int BPF_PROG(fexit_follow_page)
{
	leave_follow_page();
	return 0;
}

SEC("kprobe/follow_page")
int BPF_KPROBE(kprobe_follow_page)
{
	enter_follow_page();
	return 0;
}

SEC("kretprobe/follow_page")
int BPF_KRETPROBE(kretprobe_follow_page)
{
	leave_follow_page();
	return 0;
}

/* ---- release: pins or references dropped ---- */

static __always_inline int emit_release(__u16 hook, const struct folio *folio, __u32 refs,
					__u32 gup_flags)
{
	struct pt_release *r;

	if (!folio || !(gup_flags & (foll_get | foll_pin)))
		return 0;
	r = reserve(sizeof(*r));
	if (!r)
		return 0;
	fill_header(&r->h, PT_REC_RELEASE, sizeof(*r), hook);
	r->pfn = page_to_pfn(folio);
	r->refs = refs;
	r->gup_flags = gup_flags;
	r->nr_pages = folio_nr_pages(folio);
	r->pad = 0;
	submit(r);
	return 0;
}

/*
 * Where releases are seen. Every pin release ends in gup_put_folio (6.0+)
 * or put_compound_head (5.x), but both are static: the compiler may inline
 * them into some callers and keep a copy for the others. Debian's 7.2.13
 * and 7.3.4 builds inline gup_put_folio into the exported unpin_user_page(),
 * unpin_folio() and unpin_user_folio() (the only callers besides its own
 * copy that update NR_FOLL_PIN_RELEASED), which is where io_uring's buffer
 * unregistration (io_release_ubuf) and direct I/O completion
 * (__bio_release_pages) release their pins there; its copy still serves
 * unpin_user_pages(), unpin_folios(), the *_dirty_lock() variants and
 * GUP's own undo paths. 6.12 tail-calls the copy from all three.
 *
 * So those three exported functions are hooked as well, on every kernel
 * that has them, and report their release at entry. While one runs, the
 * thread's (folio) is marked, and gup_put_folio / put_compound_head skip a
 * release of the marked folio: it was reported by the caller. An exit
 * program clears the mark, so these hooks attach as entry+exit pairs. */
struct unpin_key {
	__u32 tid;
	__u32 pad;
	__u64 folio;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, struct unpin_key);
	__type(value, __u32); /* nesting depth */
} in_unpin SEC(".maps");

static __always_inline struct unpin_key unpin_key_of(const void *folio)
{
	struct unpin_key k = { .tid = (__u32)bpf_get_current_pid_tgid(), .pad = 0, .folio = ptr_to_u64(folio) };

	return k;
}

static __always_inline bool reported_by_caller(const void *folio)
{
	struct unpin_key k = unpin_key_of(folio);

	return bpf_map_lookup_elem(&in_unpin, &k) != NULL;
}

static __always_inline void enter_unpin(const void *folio)
{
	struct unpin_key k = unpin_key_of(folio);
	__u32 one = 1;
	__u32 *depth = bpf_map_lookup_elem(&in_unpin, &k);

	if (depth)
		__sync_fetch_and_add(depth, 1);
	else
		bpf_map_update_elem(&in_unpin, &k, &one, BPF_ANY);
}

static __always_inline void leave_unpin(const void *folio)
{
	struct unpin_key k = unpin_key_of(folio);
	__u32 *depth = bpf_map_lookup_elem(&in_unpin, &k);

	if (!depth)
		return;
	if (*depth <= 1)
		bpf_map_delete_elem(&in_unpin, &k);
	else
		__sync_fetch_and_add(depth, -1);
}

/* The head word's layout (compound_head.h), in a subprogram of its own so
 * that the relocation of the field this kernel lacks stays behind its
 * guard. */
static __noinline __u32 capture_head_layout(__u64 *off)
{
	return head_layout(bpf_core_type_size(struct page), off);
}

/* page_folio(): the head of the compound page @page belongs to, or @page
 * itself when it is no tail, or when its head word gives no page (said in
 * compound_head.h: then the release is reported on @page). */
static __always_inline const void *page_head(const void *page)
{
	__u64 size = bpf_core_type_size(struct page), off = 0, info = 0, head;
	__u32 mode = capture_head_layout(&off);

	if (mode == HEAD_UNKNOWN || bpf_probe_read_kernel(&info, sizeof(info), (const char *)page + off))
		return page;
	if (!(info & 1))
		return page;
	head = head_of_tail(ptr_to_u64(page), info, mode, vmemmap_base, size);
	return head ? (const void *)head : page;
}

/* (folio or head page, refs, flags): gup_put_folio (6.0+) or
 * put_compound_head (5.x), reached from unpin_user_pages*(), unpin_folios()
 * and GUP's undo paths, and from the three callers above where not inlined. */
static __always_inline int release_refs(__u16 hook, const struct folio *folio, __u32 refs, __u32 flags)
{
	if (!folio)
		return 0;
	if (parks(flags) && claimed_slot(folio))
		return 0; /* paired by the unpin_*() we are inside */
	/* Before pairing: reported by the unpin_*() we are inside, this
	 * release must not take another thread's grab parked meanwhile. */
	if (reported_by_caller(folio))
		return 0;
	if (parks(flags) && pair_release(page_to_pfn(folio), refs, false))
		return 0;
	return emit_release(hook, folio, refs, flags);
}

#define RELEASE_REFS(fn, hook)                                                                   \
	SEC("fentry/" #fn)                                                                       \
	int BPF_PROG(fentry_##fn, struct folio *folio, int refs, unsigned int flags)            \
	{                                                                                        \
		return release_refs(hook, folio, refs, flags);                                   \
	}                                                                                        \
	SEC("kprobe/" #fn)                                                                       \
	int BPF_KPROBE(kprobe_##fn, struct folio *folio, int refs, unsigned int flags)          \
	{                                                                                        \
		return release_refs(hook, folio, refs, flags);                                   \
	}

RELEASE_REFS(gup_put_folio, PT_HOOK_GUP_PUT_FOLIO)
RELEASE_REFS(put_compound_head, PT_HOOK_PUT_COMPOUND_HEAD)

static __always_inline int unpin_entry(__u16 hook, const void *folio, __u32 refs)
{
	if (!folio)
		return 0;
	if (parks(foll_pin)) {
		if (pair_release(page_to_pfn(folio), refs, true))
			return 0;
		/* A claim of ours whose exit never ran would hide this release
		 * from the exit's leave_unpin(): it goes now. */
		free_claimed(folio);
	}
	enter_unpin(folio);
	return emit_release(hook, folio, refs, foll_pin);
}

static __always_inline void unpin_exit(const void *folio)
{
	if (!free_claimed(folio))
		leave_unpin(folio);
}

/* One folio, @refs pins: (folio) for unpin_folio, (folio, npages) for
 * unpin_user_folio, (page) for unpin_user_page. The kprobe variants keep
 * the folio for their kretprobe in `entries`. */
#define UNPIN_ONE(fn, hook, argtype, FOLIO, REFS, ...)                                           \
	SEC("fentry/" #fn)                                                                       \
	int BPF_PROG(fentry_##fn, argtype arg, ##__VA_ARGS__)                                     \
	{                                                                                        \
		return unpin_entry(hook, FOLIO, REFS);                                           \
	}                                                                                        \
	SEC("fexit/" #fn)                                                                        \
	int BPF_PROG(fexit_##fn, argtype arg, ##__VA_ARGS__)                                      \
	{                                                                                        \
		unpin_exit(FOLIO);                                                               \
		return 0;                                                                        \
	}                                                                                        \
	SEC("kprobe/" #fn)                                                                       \
	int BPF_KPROBE(kprobe_##fn, argtype arg, ##__VA_ARGS__)                                   \
	{                                                                                        \
		const void *folio = FOLIO;                                                       \
		stash_entry(hook, ptr_to_u64(folio), 0);                                         \
		return unpin_entry(hook, folio, REFS);                                           \
	}                                                                                        \
	SEC("kretprobe/" #fn)                                                                    \
	int BPF_KRETPROBE(kretprobe_##fn)                                                        \
	{                                                                                        \
		struct entry_args a;                                                             \
		if (take_entry(hook, &a))                                                        \
			unpin_exit((const void *)a.arg[0]);                                      \
		return 0;                                                                        \
	}

UNPIN_ONE(unpin_user_page, PT_HOOK_UNPIN_USER_PAGE, struct page *, page_head(arg), 1)
UNPIN_ONE(unpin_folio, PT_HOOK_UNPIN_FOLIO, struct folio *, arg, 1)
UNPIN_ONE(unpin_user_folio, PT_HOOK_UNPIN_USER_FOLIO, struct folio *, arg, (__u32)npages, unsigned long npages)

/* The struct page of @pfn; NULL when the vmemmap base is unknown. */
static __always_inline const void *pfn_to_page(__u64 pfn)
{
	if (!vmemmap_base || pfn == PT_NO_PFN)
		return NULL;
	return (const void *)(vmemmap_base + pfn * bpf_core_type_size(struct page));
}

/* The identity reader runs in a global function: the verifier checks a
 * global function once, on its own, where it would check an inlined or
 * static one again at each of the failed-list walk's 1024 iterations (5.10
 * refused the walk so: its verifier log ran out of room). A global function
 * takes scalars only, and a program holding a ring buffer reservation
 * should not call one: it reads into a per-CPU scratch record before the
 * caller reserves, and the caller copies that. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct pt_page_identity);
} identity_scratch SEC(".maps");

/* Reads the identity of the struct page at @page (0: none) into this CPU's
 * scratch record; 1 when it did. */
__noinline int pt_identify(__u64 page)
{
	__u32 zero = 0;
	struct pt_page_identity *st = bpf_map_lookup_elem(&identity_scratch, &zero);

	if (!st)
		return 0;
	read_page_identity(st, (const void *)page, page ? page_head((const void *)page) : NULL);
	return 1;
}

/* The scratch record pt_identify() filled, into @st; zeroes (unread) when
 * it did not. */
static __always_inline void copy_identity(struct pt_page_identity *st, int identified)
{
	__u32 zero = 0;
	void *scratch = identified ? bpf_map_lookup_elem(&identity_scratch, &zero) : NULL;

	/* A failed read (scratch NULL) zero-fills st. */
	bpf_probe_read_kernel(st, sizeof(*st), scratch);
}

/* ---- splice: page cache pages referenced by a pipe ----
 *
 * A splice from a file into a pipe (splice(2), io_uring's splice) puts page
 * cache pages into the pipe's buffers with a reference each (get_page in
 * 5.10/6.1's copy_page_to_iter_pipe, folio_get in 6.5+'s
 * splice_folio_into_pipe), held until the pipe is read or closed. No GUP
 * call takes it. Every such splice passes through do_splice_to (5.10, 6.1)
 * or do_splice_read (6.8+), both (in, ppos, pipe, len, flags): the entry
 * notes the pipe's head, the exit reads the buffers added since. A buffer
 * holds a page cache reference when its ops release it through
 * page_cache_pipe_buf_release (the address user space read from kallsyms;
 * where kallsyms hides it, when its page belongs to a file mapping), and
 * each is recorded as a FOLL_GET grab of its page.
 *
 * Its release: the pipe buffers holding a recorded page are counted in
 * pipe_refs (tee() and partial pipe-to-pipe splices add copies through
 * generic_pipe_buf_get), each page_cache_pipe_buf_release of one of them
 * takes one off, and the last one is recorded as the release. Copies of
 * buffers of other ops (a vmsplice'd page), buffers of the pipe a splice is
 * filling (its own error path) and of sendfile's internal pipe are not
 * counted. docs/non-gup-holders.md has the design. */
#define PT_MAX_SPLICE_BUFS 16 /* a pipe's default ring: a larger one is read in part */

const volatile __u64 pipe_buf_release_fn = 0; /* page_cache_pipe_buf_release, 0 if unknown */

/* A recorded page's pipe buffers: how many, their ops, and how many grab
 * records they made (a page spliced twice, into one pipe or two, is two
 * grabs; tee()'s copies are none): the last buffer's release closes them
 * all. */
struct pipe_ref {
	__u64 buffers;
	__u64 ops;
	__u64 grabs;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64); /* struct page address */
	__type(value, struct pipe_ref);
} pipe_refs SEC(".maps");

/* The task's own splice pipe: sendfile and copy_file_range go through it,
 * and it is emptied before the call returns. */
static __always_inline bool internal_pipe(const void *pipe)
{
	struct task_struct___splice *task = (void *)bpf_get_current_task();

	return BPF_CORE_READ(task, splice_pipe) == pipe;
}

#define PT_PIPEFS_MAGIC 0x50495045 /* include/uapi/linux/magic.h */

/* The pipe a thread's do_splice() writes to, until its next do_splice():
 * an LRU of its own, since many splices never reach the funnel that reads
 * it (pipe to socket, EAGAIN, kernels without the funnel) and a thread's
 * exit leaves its entry behind. */
struct splice_pipe {
	__u64 pipe;  /* its pipe_inode_info */
	__u64 ino;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32); /* tid */
	__type(value, struct splice_pipe);
} splice_pipes SEC(".maps");

/* do_splice(in, off_in, out, ...) with an anonymous pipe for out (pipefs:
 * a named FIFO's inode is its filesystem's, and /proc shows it by path):
 * the pipe's inode, for the funnel below to name the pipe it fills. */
static __always_inline int splice_named(struct file *out)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct splice_pipe named = {};

	if (BPF_CORE_READ(out, f_inode, i_sb, s_magic) == PT_PIPEFS_MAGIC) {
		named.pipe = (__u64)BPF_CORE_READ(out, private_data);
		named.ino = BPF_CORE_READ(out, f_inode, i_ino);
	}
	bpf_map_update_elem(&splice_pipes, &tid, &named, BPF_ANY);
	return 0;
}

SEC("fentry/do_splice")
int BPF_PROG(fentry_do_splice, void *in, void *off_in, struct file *out)
{
	return splice_named(out);
}

SEC("kprobe/do_splice")
int BPF_KPROBE(kprobe_do_splice, void *in, void *off_in, struct file *out)
{
	return splice_named(out);
}

/* The entry stashes the pipe, and its head and inode number packed in one
 * word: the head is 32 bits, a pipe's i_ino (get_next_ino()) too. */
static __always_inline void splice_enter(__u16 hook, struct pipe_inode_info *pipe)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct splice_pipe *named;
	__u64 ino = 0;

	if (!pipe || internal_pipe(pipe))
		return;
	/* Read, not taken: 6.8+ runs the funnel again inside itself for a
	 * file on overlayfs or FUSE passthrough (backing_file_splice_read),
	 * and the inner run must name the pipe too. */
	named = bpf_map_lookup_elem(&splice_pipes, &tid);
	if (named && named->pipe == (__u64)pipe)
		ino = (__u32)named->ino;
	stash_entry(hook, (__u64)pipe, (ino << 32) | BPF_CORE_READ(pipe, head));
}

/* A page cache page: its folio's mapping is an address_space (no low
 * bits: anonymous and movable_ops mappings set them). */
static __always_inline bool page_cache_page(const void *page)
{
	struct page___rmap *head = (void *)page_head(page);
	__u64 mapping = (__u64)BPF_CORE_READ(head, mapping);

	return mapping && !(mapping & 3);
}

/* Does this buffer hold a page cache reference? Its ops, when known. */
static __always_inline bool page_cache_buffer(struct pipe_buffer *buf, const void *page, __u64 *ops)
{
	const struct pipe_buf_operations *o = BPF_CORE_READ(buf, ops);

	*ops = (__u64)o;
	if (pipe_buf_release_fn)
		return o && (__u64)BPF_CORE_READ(o, release) == pipe_buf_release_fn;
	return page_cache_page(page);
}

/* A splice grab's stacks are its own: keyed apart from the thread's other
 * FOLL_GET grabs (a vmsplice's, exec's), whose sampled stacks would
 * otherwise merge the two into one owner. */
#define PT_SPLICE_STACK_KEY (1u << 31)

static __always_inline void splice_buffer(void *ctx, __u16 hook, struct pipe_buffer *buf, __u32 pipe_ino)
{
	const void *page = BPF_CORE_READ(buf, page);
	__u64 key = (__u64)page, ops = 0;
	struct pipe_ref one = { .buffers = 1 }, *ref;
	struct pt_grab_in_pipe *r;

	if (!page || !page_cache_buffer(buf, page, &ops))
		return;
	r = reserve(sizeof(*r));
	if (!r)
		return;
	fill_header(&r->base.h, PT_REC_GRAB, sizeof(*r), hook);
	r->base.pfn = page_to_pfn(page);
	r->base.nr_pages = 1;
	r->base.count = 1;
	r->base.gup_flags = foll_get;
	r->pipe_ino = pipe_ino;
	fill_stacks_keyed(ctx, &r->base, foll_get, foll_get | PT_SPLICE_STACK_KEY);
	submit_grab(&r->base, false);
	one.ops = ops;
	one.grabs = 1;
	if (bpf_map_update_elem(&pipe_refs, &key, &one, BPF_NOEXIST)) {
		ref = bpf_map_lookup_elem(&pipe_refs, &key);
		if (ref) {
			__sync_fetch_and_add(&ref->buffers, 1);
			__sync_fetch_and_add(&ref->grabs, 1);
		}
	}
}

static __always_inline int splice_exit(void *ctx, __u16 hook, long ret)
{
	struct pipe_inode_info *pipe;
	__u64 bufs, stride = bpf_core_type_size(struct pipe_buffer);
	struct entry_args a;
	__u32 from, to, mask, i;

	if (!take_entry(hook, &a) || ret <= 0)
		return 0;
	pipe = (void *)a.arg[0];
	from = (__u32)a.arg[1];
	to = BPF_CORE_READ(pipe, head);
	mask = BPF_CORE_READ(pipe, ring_size) - 1;
	bufs = (__u64)BPF_CORE_READ(pipe, bufs);
	/* The kernel's struct size, not this file's (it declares two fields). */
	for (i = 0; i < PT_MAX_SPLICE_BUFS && from + i != to; i++)
		splice_buffer(ctx, hook, (struct pipe_buffer *)(bufs + ((from + i) & mask) * stride), a.arg[1] >> 32);
	return 0;
}

SEC("fentry/do_splice_read")
int BPF_PROG(fentry_do_splice_read, void *in, void *ppos, struct pipe_inode_info *pipe)
{
	splice_enter(PT_HOOK_SPLICE_READ, pipe);
	return 0;
}

SEC("fexit/do_splice_read")
int BPF_PROG(fexit_do_splice_read, void *in, void *ppos, void *pipe, __u64 len, unsigned int flags, long ret)
{
	return splice_exit(ctx, PT_HOOK_SPLICE_READ, ret);
}

SEC("kprobe/do_splice_read")
int BPF_KPROBE(kprobe_do_splice_read, void *in, void *ppos, struct pipe_inode_info *pipe)
{
	splice_enter(PT_HOOK_SPLICE_READ, pipe);
	return 0;
}

SEC("kretprobe/do_splice_read")
int BPF_KRETPROBE(kretprobe_do_splice_read, long ret)
{
	return splice_exit(ctx, PT_HOOK_SPLICE_READ, ret);
}

SEC("fentry/do_splice_to")
int BPF_PROG(fentry_do_splice_to, void *in, void *ppos, struct pipe_inode_info *pipe)
{
	splice_enter(PT_HOOK_SPLICE_TO, pipe);
	return 0;
}

SEC("fexit/do_splice_to")
int BPF_PROG(fexit_do_splice_to, void *in, void *ppos, void *pipe, __u64 len, unsigned int flags, long ret)
{
	return splice_exit(ctx, PT_HOOK_SPLICE_TO, ret);
}

SEC("kprobe/do_splice_to")
int BPF_KPROBE(kprobe_do_splice_to, void *in, void *ppos, struct pipe_inode_info *pipe)
{
	splice_enter(PT_HOOK_SPLICE_TO, pipe);
	return 0;
}

SEC("kretprobe/do_splice_to")
int BPF_KRETPROBE(kretprobe_do_splice_to, long ret)
{
	return splice_exit(ctx, PT_HOOK_SPLICE_TO, ret);
}

/* The counted pipe buffer this is, or NULL: one of a recorded page, in a
 * pipe that is not being filled by this thread's splice. @check_ops: with
 * the ops it was recorded with. pipe_buf_release() clears buf->ops before
 * it calls the release, so a release cannot check them; the function
 * itself says they were page_cache_pipe_buf_ops or vmsplice's. */
static __always_inline struct pipe_ref *counted_buffer(const void *pipe, struct pipe_buffer *buf, const void **page,
						       bool check_ops)
{
	struct pipe_ref *ref;
	struct entry_args *filling;
	__u64 key, filling_key;

	*page = BPF_CORE_READ(buf, page);
	key = (__u64)*page;
	ref = bpf_map_lookup_elem(&pipe_refs, &key);
	if (!ref || !ref->buffers || internal_pipe(pipe))
		return NULL;
	if (check_ops && ref->ops != (__u64)BPF_CORE_READ(buf, ops))
		return NULL;
	/* A splice's own error path (5.10, 6.1) drops buffers it added before
	 * its exit recorded them. */
	for (__u16 hook = PT_HOOK_SPLICE_TO; hook <= PT_HOOK_SPLICE_READ; hook++) {
		filling_key = ((__u64)hook << 32) | (__u32)bpf_get_current_pid_tgid();
		filling = bpf_map_lookup_elem(&entries, &filling_key);
		if (filling && filling->arg[0] == (__u64)pipe)
			return NULL;
	}
	return ref;
}

/* tee(), or part of a buffer spliced to another pipe: one more buffer. */
static __always_inline int pipe_buf_got(const void *pipe, struct pipe_buffer *buf)
{
	const void *page;
	struct pipe_ref *ref = counted_buffer(pipe, buf, &page, true);

	if (ref)
		__sync_fetch_and_add(&ref->buffers, 1);
	return 0;
}

/* A pipe let go of a buffer (read, or the pipe closed): the last one of a
 * recorded page is its reference's release. */
static __always_inline int pipe_buf_released(const void *pipe, struct pipe_buffer *buf)
{
	const void *page;
	struct pipe_ref *ref = counted_buffer(pipe, buf, &page, false);
	struct pt_release *r;
	__u64 key, grabs;

	if (!ref)
		return 0;
#ifndef PT_NO_ATOMICS
	if (__sync_fetch_and_add(&ref->buffers, -1) != 1)
		return 0;
#else
	/* 5.10: no fetching atomics. Two last releases at once may both send. */
	__sync_fetch_and_add(&ref->buffers, -1);
	if (ref->buffers)
		return 0;
#endif
	/* Every grab its buffers made goes with the last one; the page starts
	 * afresh if spliced again. */
	grabs = ref->grabs;
	key = (__u64)page;
	bpf_map_delete_elem(&pipe_refs, &key);
	r = reserve(sizeof(*r));
	if (!r)
		return 0;
	/* The buffer's own page, as its grab named it, not its folio. */
	fill_header(&r->h, PT_REC_RELEASE, sizeof(*r), PT_HOOK_PIPE_BUF_RELEASE);
	r->pfn = page_to_pfn(page);
	r->refs = grabs ? (grabs > 65535 ? 65535 : grabs) : 1;
	r->gup_flags = foll_get;
	r->nr_pages = 1;
	r->pad = 0;
	submit(r);
	return 0;
}

SEC("fentry/page_cache_pipe_buf_release")
int BPF_PROG(fentry_page_cache_pipe_buf_release, void *pipe, struct pipe_buffer *buf)
{
	return pipe_buf_released(pipe, buf);
}

SEC("kprobe/page_cache_pipe_buf_release")
int BPF_KPROBE(kprobe_page_cache_pipe_buf_release, void *pipe, struct pipe_buffer *buf)
{
	return pipe_buf_released(pipe, buf);
}

SEC("fentry/generic_pipe_buf_get")
int BPF_PROG(fentry_generic_pipe_buf_get, void *pipe, struct pipe_buffer *buf)
{
	return pipe_buf_got(pipe, buf);
}

SEC("kprobe/generic_pipe_buf_get")
int BPF_KPROBE(kprobe_generic_pipe_buf_get, void *pipe, struct pipe_buffer *buf)
{
	return pipe_buf_got(pipe, buf);
}

/* ---- isolation: the page a contiguous allocation or an offline died on ---- */

SEC("tracepoint/page_isolation/test_pages_isolated")
int tp_test_pages_isolated(struct trace_event_raw_test_pages_isolated *ctx)
{
	struct pt_isolation_failed_identified *r;
	int identified;

	if (ctx->fin_pfn >= ctx->end_pfn)
		return 0; /* success: nothing to explain */
	identified = pt_identify(ptr_to_u64(pfn_to_page(ctx->fin_pfn)));
	pt_send_parked(ptr_to_u64(pfn_to_page(ctx->fin_pfn)));
	r = reserve(sizeof(*r));
	if (!r)
		return 0;
	fill_header(&r->base.h, PT_REC_ISOLATION_FAILED, sizeof(*r), PT_HOOK_ISOLATION_TP);
	r->base.start_pfn = ctx->start_pfn;
	r->base.end_pfn = ctx->end_pfn;
	r->base.busy_pfn = ctx->fin_pfn;
	copy_identity(&r->identity, identified);
	submit(r);
	return 0;
}

/* ---- isolation refused: a range with a page the kernel will not move ----
 *
 * Contiguous allocations (alloc_contig_range: CMA, gigantic pages) and
 * memory offline first mark the range's pageblocks isolated; a pageblock
 * holding a page has_unmovable_pages() calls unmovable (kernel memory,
 * reserved, not on an LRU list) makes start_isolate_page_range() return
 * -EBUSY with no tracepoint. Its arguments begin (start_pfn, end_pfn) on
 * every kernel; their number varies (4 on 5.10, 5 on 6.1-6.12, 3 where a
 * single isolation mode replaced migratetype and flags), and the
 * return value follows them: one fexit variant per count. Only 5.10 keeps
 * has_unmovable_pages() a function of its own (later kernels inline it):
 * there the refusing page is known, stashed per thread until the range's
 * exit. */

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32); /* tid */
	__type(value, __u64); /* pfn */
} unmovable_seen SEC(".maps");

static __always_inline void emit_isolation_refused(__u64 start_pfn, __u64 end_pfn, long ret)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	__u64 *seen = bpf_map_lookup_elem(&unmovable_seen, &tid);
	__u64 unmovable = seen ? *seen : PT_NO_PFN;
	struct pt_isolation_refused_identified *r;
	int identified;

	if (seen)
		bpf_map_delete_elem(&unmovable_seen, &tid);
	if ((int)ret == 0)
		return;
	identified = pt_identify(ptr_to_u64(pfn_to_page(unmovable)));
	r = reserve(sizeof(*r));
	if (!r)
		return;
	fill_header(&r->base.h, PT_REC_ISOLATION_REFUSED, sizeof(*r), PT_HOOK_ISOLATE_RANGE);
	r->base.start_pfn = start_pfn;
	r->base.end_pfn = end_pfn;
	r->base.unmovable_pfn = unmovable;
	r->base.error = (int)ret;
	r->base.pad = 0;
	copy_identity(&r->identity, identified);
	submit(r);
}

SEC("fexit/start_isolate_page_range")
int BPF_PROG(fexit_start_isolate_page_range_3args, unsigned long start_pfn, unsigned long end_pfn, int a2, int ret)
{
	emit_isolation_refused(start_pfn, end_pfn, ret);
	return 0;
}

SEC("fexit/start_isolate_page_range")
int BPF_PROG(fexit_start_isolate_page_range_4args, unsigned long start_pfn, unsigned long end_pfn, int a2, int a3,
	     int ret)
{
	emit_isolation_refused(start_pfn, end_pfn, ret);
	return 0;
}

SEC("fexit/start_isolate_page_range")
int BPF_PROG(fexit_start_isolate_page_range_5args, unsigned long start_pfn, unsigned long end_pfn, int a2, int a3,
	     unsigned int a4, int ret)
{
	emit_isolation_refused(start_pfn, end_pfn, ret);
	return 0;
}

SEC("kprobe/start_isolate_page_range")
int BPF_KPROBE(kprobe_start_isolate_page_range, unsigned long start_pfn, unsigned long end_pfn)
{
	stash_entry(PT_HOOK_ISOLATE_RANGE, start_pfn, end_pfn);
	return 0;
}

SEC("kretprobe/start_isolate_page_range")
int BPF_KRETPROBE(kretprobe_start_isolate_page_range, long ret)
{
	struct entry_args a;

	if (take_entry(PT_HOOK_ISOLATE_RANGE, &a))
		emit_isolation_refused(a.arg[0], a.arg[1], ret);
	return 0;
}

static __always_inline void note_unmovable(const void *page)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	__u64 pfn;

	if (!page)
		return;
	pfn = page_to_pfn(page);
	bpf_map_update_elem(&unmovable_seen, &tid, &pfn, BPF_ANY);
}

/* 6.1 on inline has_unmovable_pages(), but memory offline (MEMORY_OFFLINE |
 * REPORT_FAILURE, 7.x PB_ISOLATE_MODE_MEM_OFFLINE) still names the page it
 * refused: dump_page(page, "unmovable page"), inside the isolation. Other
 * dumps (bad pages, VM_BUG_ON_PAGE) are not an isolation's. */
static __always_inline int dumped(const void *page, const char *reason)
{
	static const char want[] = "unmovable page";
	char got[sizeof(want)];

	if (bpf_probe_read_kernel_str(got, sizeof(got), reason) != sizeof(want))
		return 0;
	for (int i = 0; i < sizeof(want); i++)
		if (got[i] != want[i])
			return 0;
	note_unmovable(page);
	return 0;
}

SEC("fentry/dump_page")
int BPF_PROG(fentry_dump_page, struct page *page, const char *reason)
{
	return dumped(page, reason);
}

SEC("kprobe/dump_page")
int BPF_KPROBE(kprobe_dump_page, struct page *page, const char *reason)
{
	return dumped(page, reason);
}

/* 5.10: struct page *has_unmovable_pages(zone, page, migratetype, flags). */
SEC("fexit/has_unmovable_pages")
int BPF_PROG(fexit_has_unmovable_pages, void *zone, struct page *page, int migratetype, int flags,
	     struct page *unmovable)
{
	note_unmovable(unmovable);
	return 0;
}

SEC("kretprobe/has_unmovable_pages")
int BPF_KRETPROBE(kretprobe_has_unmovable_pages, struct page *unmovable)
{
	note_unmovable(unmovable);
	return 0;
}

/* ---- contiguous allocations: a gigantic page and the like ----
 *
 * alloc_contig_pages() tries each aligned range of the zones it may use,
 * and skips without a trace every range holding a page in use (5.10) or
 * one it calls unmovable (7.x): it can fail without one isolation or
 * migration. Its start and end bracket the ranges it tried; its end with
 * no page is the failure. 6.10 renamed it *_noprof; 7.x wraps
 * alloc_contig_frozen_pages_noprof() in it (user space keeps the outer
 * call of a thread). All take (nr_pages, gfp_mask, nid, nodemask). */

static __always_inline void emit_contig(__u16 hook, __u32 op, __u64 nr_pages, int nid, const void *page)
{
	struct pt_contig_alloc *r = reserve(sizeof(*r));

	if (!r)
		return;
	fill_header(&r->h, PT_REC_CONTIG_ALLOC, sizeof(*r), hook);
	r->nr_pages = nr_pages;
	r->nid = nid;
	r->op = op;
	r->pfn = page ? page_to_pfn(page) : PT_NO_PFN;
	submit(r);
}

#define CONTIG_ALLOC(fn, hook)                                                                         \
	SEC("fentry/" #fn)                                                                             \
	int BPF_PROG(fentry_##fn, unsigned long nr_pages, unsigned int gfp, int nid, void *nodemask)  \
	{                                                                                              \
		emit_contig(hook, PT_CONTIG_START, nr_pages, nid, NULL);                               \
		return 0;                                                                              \
	}                                                                                              \
	SEC("fexit/" #fn)                                                                              \
	int BPF_PROG(fexit_##fn, unsigned long nr_pages, unsigned int gfp, int nid, void *nodemask,   \
		     struct page *page)                                                                \
	{                                                                                              \
		emit_contig(hook, PT_CONTIG_END, nr_pages, nid, page);                                 \
		return 0;                                                                              \
	}                                                                                              \
	SEC("kprobe/" #fn)                                                                             \
	int BPF_KPROBE(kprobe_##fn, unsigned long nr_pages, unsigned int gfp, int nid)                \
	{                                                                                              \
		stash_entry(hook, nr_pages, (__u32)nid);                                               \
		emit_contig(hook, PT_CONTIG_START, nr_pages, nid, NULL);                               \
		return 0;                                                                              \
	}                                                                                              \
	SEC("kretprobe/" #fn)                                                                          \
	int BPF_KRETPROBE(kretprobe_##fn, struct page *page)                                          \
	{                                                                                              \
		struct entry_args a;                                                                   \
		if (take_entry(hook, &a))                                                              \
			emit_contig(hook, PT_CONTIG_END, a.arg[0], (int)a.arg[1], page);               \
		return 0;                                                                              \
	}

CONTIG_ALLOC(alloc_contig_pages, PT_HOOK_CONTIG_PAGES)
CONTIG_ALLOC(alloc_contig_pages_noprof, PT_HOOK_CONTIG_PAGES_NOPROF)
CONTIG_ALLOC(alloc_contig_frozen_pages_noprof, PT_HOOK_CONTIG_FROZEN_PAGES)

/* ---- CMA: which ranges an allocation found busy, and how it ended ----
 *
 * Integer fields are read by their size in the running kernel (count
 * shrank and grew across versions); the area name is a __data_loc string:
 * offset in the low 16 bits, from the start of the event. */

#define CMA_FIELD(ev, field) BPF_CORE_READ_BITFIELD_PROBED(ev, field)
#define CMA_READ_RANGE(r, ev)                      \
	do {                                       \
		(r)->pfn = CMA_FIELD(ev, pfn);     \
		(r)->count = CMA_FIELD(ev, count); \
		(r)->align = CMA_FIELD(ev, align); \
	} while (0)

static __always_inline struct pt_cma *cma_record(__u16 op, __u16 hook, void *ctx, __u32 name_loc, bool has_name)
{
	struct pt_cma *r = reserve(sizeof(*r));

	if (!r)
		return NULL;
	fill_header(&r->h, PT_REC_CMA, sizeof(*r), hook);
	r->op = op;
	r->flags = 0;
	r->pfn = 0;
	r->count = 0;
	r->align = 0;
	r->errorno = 0;
	r->pad = 0;
	r->name[0] = 0;
	if (has_name) {
		r->flags |= PT_CMA_HAS_NAME;
		bpf_probe_read_kernel_str(r->name, sizeof(r->name), (char *)ctx + (name_loc & 0xffff));
	}
	return r;
}

SEC("tracepoint/cma/cma_alloc_start")
int tp_cma_alloc_start(struct trace_event_raw_cma_alloc_start *ctx)
{
	struct pt_cma *r = cma_record(PT_CMA_ALLOC_START, PT_HOOK_CMA_ALLOC_START_TP, ctx,
				      CMA_FIELD(ctx, __data_loc_name), true);

	struct trace_event_raw_cma_alloc_start___request_count *v7 = (void *)ctx;

	if (!r)
		return 0;
	if (bpf_core_field_exists(v7->request_count))
		r->count = CMA_FIELD(v7, request_count);
	else
		r->count = CMA_FIELD(ctx, count);
	r->align = CMA_FIELD(ctx, align);
	submit(r);
	return 0;
}

/* busy_retry has its own layout from 6.3, cma_alloc_class's before. */
SEC("tracepoint/cma/cma_alloc_busy_retry")
int tp_cma_alloc_busy_retry(void *ctx)
{
	struct trace_event_raw_cma_alloc_busy_retry *own = ctx;
	struct trace_event_raw_cma_alloc_class *cls = ctx;
	struct pt_cma *r;

	if (bpf_core_type_exists(struct trace_event_raw_cma_alloc_busy_retry)) {
		r = cma_record(PT_CMA_BUSY_RETRY, PT_HOOK_CMA_BUSY_RETRY_TP, ctx, CMA_FIELD(own, __data_loc_name), true);
		if (!r)
			return 0;
		CMA_READ_RANGE(r, own);
	} else {
		r = cma_record(PT_CMA_BUSY_RETRY, PT_HOOK_CMA_BUSY_RETRY_TP, ctx, CMA_FIELD(cls, __data_loc_name), true);
		if (!r)
			return 0;
		CMA_READ_RANGE(r, cls);
	}
	submit(r);
	return 0;
}

SEC("tracepoint/cma/cma_alloc_finish")
int tp_cma_alloc_finish(void *ctx)
{
	struct trace_event_raw_cma_alloc_finish *own = ctx;
	struct trace_event_raw_cma_alloc_class *cls = ctx;
	struct pt_cma *r;
	bool ok;

	if (bpf_core_type_exists(struct trace_event_raw_cma_alloc_finish)) {
		r = cma_record(PT_CMA_ALLOC_END, PT_HOOK_CMA_ALLOC_FINISH_TP, ctx, CMA_FIELD(own, __data_loc_name), true);
		if (!r)
			return 0;
		CMA_READ_RANGE(r, own);
		ok = BPF_CORE_READ(own, page) != NULL;
		if (bpf_core_field_exists(own->errorno)) {
			r->errorno = CMA_FIELD(own, errorno);
			r->flags |= PT_CMA_HAS_ERRNO;
		}
	} else {
		r = cma_record(PT_CMA_ALLOC_END, PT_HOOK_CMA_ALLOC_FINISH_TP, ctx, CMA_FIELD(cls, __data_loc_name), true);
		if (!r)
			return 0;
		CMA_READ_RANGE(r, cls);
		ok = BPF_CORE_READ(cls, page) != NULL;
	}
	if (ok)
		r->flags |= PT_CMA_SUCCEEDED;
	submit(r);
	return 0;
}

/* Before 5.11: one event at the end, no area name, no busy retries. */
SEC("tracepoint/cma/cma_alloc")
int tp_cma_alloc(struct trace_event_raw_cma_alloc *ctx)
{
	struct pt_cma *r = cma_record(PT_CMA_ALLOC_END, PT_HOOK_CMA_ALLOC_TP, ctx, 0, false);

	if (!r)
		return 0;
	CMA_READ_RANGE(r, ctx);
	if (BPF_CORE_READ(ctx, page))
		r->flags |= PT_CMA_SUCCEEDED;
	submit(r);
	return 0;
}

/* ---- frees: a grabbed page went back to the allocator ---- */

/* A BTF tracepoint (raw), not a classic one: the kernel skips a classic
 * tracepoint program whenever any kprobe or classic-tracepoint BPF runs on
 * the CPU, and while user space reads a map (bpf_prog_active): frees inside
 * those windows were missed (seen on 7.2: a process's vmspliced pages freed
 * at its exit, never reported). A raw one is skipped only when this very
 * program is interrupted by a free on its CPU; record counts those
 * (recursion_misses) and says so. mm_page_free(struct page *, order). */
static __always_inline int page_freed(const void *page, unsigned int order)
{
	__u64 pfn = page_to_pfn(page), pipe_key;
	struct pt_page_freed *r;

	/* Every free of a buddy page passes here (free_pages_prepare()), the
	 * batched ones of free_unref_page_list() / free_unref_folios() too,
	 * before their mm_page_free_batched: see docs/ledger.md. */
	if (!take_grabbed(pfn, order))
		return 0;
	/* A page a recorded splice put in a pipe: a stale count (its last
	 * release missed) must not outlive the page. */
	pipe_key = (__u64)page;
	bpf_map_delete_elem(&pipe_refs, &pipe_key);
	r = reserve(sizeof(*r));
	if (!r)
		return 0;
	fill_header(&r->h, PT_REC_PAGE_FREED, sizeof(*r), PT_HOOK_PAGE_FREE_TP);
	r->pfn = pfn;
	r->order = order;
	r->pad = 0;
	submit(r);
	return 0;
}

SEC("tp_btf/mm_page_free")
int BPF_PROG(tp_mm_page_free, struct page *page, unsigned int order)
{
	return page_freed(page, order);
}

/* ---- processes: a pinner's exec invalidates its memory map; its exit ends it ---- */

SEC("tracepoint/sched/sched_process_exec")
int tp_sched_process_exec(void *ctx)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	__u8 *known = bpf_map_lookup_elem(&known_pinners, &tgid);
	struct pt_exec *r;

	if (!known)
		return 0;
	/* The next grab wakes user space again, to read the new map. */
	*known = PINNER_EXECED;
	r = reserve(sizeof(*r));
	if (!r)
		return 0;
	fill_header(&r->h, PT_REC_EXEC, sizeof(*r), PT_HOOK_EXEC_TP);
	/* Now, so user space reads the new program's path while it runs. */
	bpf_ringbuf_submit(r, BPF_RB_FORCE_WAKEUP);
	return 0;
}

/* Every exiting thread passes here, after do_exit() has counted it out of
 * signal->live (5.10 to 6.12 at least): 0 means no thread of the group is
 * left. Threads exiting together may all read 0; the one whose delete
 * succeeds reports. A BTF (raw) tracepoint, like the free program and for
 * the same reason: the kernel skipped the classic one whenever other BPF
 * ran on the CPU or user space read a map there (bpf_prog_active), and
 * free_stress on 7.2.13 lost one of its 29 exits that way. Nothing of the
 * tracepoint's arguments is read: the exiting task is current. */
SEC("tp_btf/sched_process_exit")
int BPF_PROG(tp_sched_process_exit)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct task_struct *task;
	struct pt_process_exit *r;

	if (!bpf_map_lookup_elem(&known_pinners, &tgid))
		return 0;
	task = (struct task_struct *)bpf_get_current_task();
	if (BPF_CORE_READ(task, signal, live.counter) != 0)
		return 0;
	if (bpf_map_delete_elem(&known_pinners, &tgid) != 0)
		return 0;
	r = reserve(sizeof(*r));
	if (!r)
		return 0;
	fill_header(&r->h, PT_REC_PROCESS_EXIT, sizeof(*r), PT_HOOK_EXIT_TP);
	submit(r);
	return 0;
}

/* ---- migration: the outcome, and which folios stayed ---- */

SEC("tracepoint/migrate/mm_migrate_pages")
int tp_mm_migrate_pages(struct trace_event_raw_mm_migrate_pages *ctx)
{
	struct pt_migrate *r = reserve(sizeof(*r));

	if (!r)
		return 0;
	fill_header(&r->h, PT_REC_MIGRATE, sizeof(*r), PT_HOOK_MIGRATE_TP);
	r->succeeded = ctx->succeeded;
	r->failed = ctx->failed;
	r->thp_succeeded = bpf_core_field_exists(ctx->thp_succeeded) ? ctx->thp_succeeded : 0;
	r->thp_failed = bpf_core_field_exists(ctx->thp_failed) ? ctx->thp_failed : 0;
	r->thp_split = bpf_core_field_exists(ctx->thp_split) ? ctx->thp_split : 0;
	r->mode = ctx->mode;
	if (bpf_core_field_exists(((struct trace_event_raw_mm_migrate_pages___enum_reason *)ctx)->reason))
		r->reason = BPF_CORE_READ((struct trace_event_raw_mm_migrate_pages___enum_reason *)ctx, reason);
	else
		r->reason = ctx->reason;
	submit(r);
	return 0;
}

static __always_inline void emit_failed_folio(struct list_head *entry, __u32 index)
{
	struct page *page = (void *)entry - bpf_core_field_offset(struct page, lru);
	int identified = pt_identify(ptr_to_u64(page));
	struct pt_failed_folio_identified *r;

	/* A short-term pin on it is a holder now: its grab goes first. */
	pt_send_parked(ptr_to_u64(page));
	r = reserve(sizeof(*r));

	if (!r)
		return;
	fill_header(&r->base.h, PT_REC_FAILED_FOLIO, sizeof(*r), PT_HOOK_MIGRATE_PAGES_EXIT);
	r->base.pfn = page_to_pfn(page);
	r->base.page_flags = page_flags(page);
	r->base.refcount = BPF_CORE_READ(page, _refcount.counter);
	r->base.mapcount = BPF_CORE_READ(page, _mapcount.counter) + 1;
	r->base.index = index;
	r->base.nr_pages = folio_nr_pages((struct folio *)page);
	copy_identity(&r->identity, identified);
	submit(r);
}

/* After migrate_pages() returns, the folios still on @from are exactly the
 * ones it could not migrate; the caller puts them back afterwards. */
static __always_inline void walk_failed_list(struct list_head *from, long ret)
{
	struct list_head *pos = BPF_CORE_READ(from, next);
	struct pt_migrate_end *end;
	__u32 i;

	for (i = 0; i < PT_MAX_FAILED_WALK; i++) {
		if (!pos || pos == from)
			break;
		emit_failed_folio(pos, i);
		pos = BPF_CORE_READ(pos, next);
	}
	end = reserve(sizeof(*end));
	if (!end)
		return;
	fill_header(&end->h, PT_REC_MIGRATE_END, sizeof(*end), PT_HOOK_MIGRATE_PAGES_EXIT);
	end->ret = ret;
	end->walked = i;
	end->truncated = pos && pos != from;
	submit(end);
}

/* The return value follows the arguments, whose number varies (6 up to
 * 6.1's 7-argument form; 5.10 lacks bpf_get_func_ret()): one variant per
 * count, chosen from BTF. */
SEC("fexit/migrate_pages")
int BPF_PROG(fexit_migrate_pages_6args, struct list_head *from, void *a1, void *a2, unsigned long a3, int mode,
	     int reason, int ret)
{
	walk_failed_list(from, ret);
	return 0;
}

SEC("fexit/migrate_pages")
int BPF_PROG(fexit_migrate_pages_7args, struct list_head *from, void *a1, void *a2, unsigned long a3, int mode,
	     int reason, void *a6, int ret)
{
	walk_failed_list(from, ret);
	return 0;
}

SEC("kprobe/migrate_pages")
int BPF_KPROBE(kprobe_migrate_pages, struct list_head *from)
{
	stash_entry(PT_HOOK_MIGRATE_PAGES_EXIT, (__u64)from, 0);
	return 0;
}

SEC("kretprobe/migrate_pages")
int BPF_KRETPROBE(kretprobe_migrate_pages, long ret)
{
	struct entry_args a;

	if (take_entry(PT_HOOK_MIGRATE_PAGES_EXIT, &a))
		walk_failed_list((struct list_head *)a.arg[0], ret);
	return 0;
}
