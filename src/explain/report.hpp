// What the explainer concludes from a trace: the model every view renders.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "events/event.hpp"
#include "explain/cause.hpp"
#include "explain/seeds.hpp"
#include "ledger/ledger.hpp"
#include "trace/reader.hpp"
#include "trace/trace_info.hpp"

namespace pintrace {

struct StuckPage {
    uint64_t pfn = 0;
    int32_t refcount = 0;
    int32_t mapcount = 0;
    uint64_t page_flags = 0;
    std::vector<Holder> holders;  // the ledger's owners at the failure
    Cause cause = Cause::NoHolderSeen;
    uint32_t nr_pages = 1;  // a large folio fails whole: pfn is its head
    // No traced holder, but the snapshot at the start of the recording
    // (record --snapshot) found the page held: its state then, and the
    // holders it inferred (indices into Report::snapshot->holders).
    std::optional<SeedPage> at_snapshot;
    std::vector<uint32_t> inferred;
    // False where the kernel gave no counts (an isolation failure's busy
    // page, the other held pages of its range): refcount and mapcount are
    // then not the page's, and say nothing either way.
    bool counts_known = true;
    // What the page was at the failure (absent in traces of older pintraces).
    std::optional<PageIdentity> identity;
    // References the page accounts for itself, beyond its mappings: the
    // migration's isolation (a failed list's page), and where its identity
    // is known the page cache's (and its private data's) or the swap
    // cache's. Anything beyond is someone else's.
    uint32_t own_refs = 1;
    // Earlier failures of this trace in which this page was stuck with no
    // holder either: a state that survives retries is not transient.
    uint32_t earlier_failures = 0;

    // References beyond the page's own (own_refs) and its mappings': what
    // pins and FOLL_GET references add (a pin adds 1024). Known for small
    // pages only: a large folio's counts are per folio, its mapcount per
    // page. Unknown where the kernel gave no counts.
    // 64-bit: the counts come from a file, and any two int32s subtract.
    std::optional<int64_t> extra_refs() const
    {
        if (nr_pages != 1 || !counts_known) return std::nullopt;
        return int64_t{refcount} - mapcount - own_refs;
    }
};

struct PfnRange {
    uint64_t start = 0, end = 0;  // [start, end)
    bool operator==(const PfnRange&) const = default;
};

struct Failure {
    // A migration that left pages behind; a range that could not be
    // isolated (alloc_contig_range for CMA / gigantic pages, offline_pages):
    // then pages holds the first busy page, and reason is "isolation"; or a
    // CMA allocation that failed: pages holds the busy pages its isolation
    // failures named, ranges the ranges it found busy, reason is "cma".
    // ContigAlloc: alloc_contig_pages() returned nothing; the isolation
    // failures of the ranges it tried are failures of their own.
    enum class Kind { Migration, Isolation, Cma, ContigAlloc } kind = Kind::Migration;
    uint64_t range_start = 0, range_end = 0;  // Isolation only
    // Isolation only: refused when isolation began (start_isolate_page_range,
    // an unmovable page; ret holds the kernel's error), not found busy after
    // migration (test_pages_isolated).
    bool refused_at_isolation = false;
    std::vector<PfnRange> ranges;  // Isolation and Cma: where held pages block

    // Cma only.
    std::string cma_area;  // empty where the kernel does not name it (before 5.11)
    uint64_t requested_pages = 0;
    std::optional<int32_t> cma_error;  // the kernel's error (6.3+)
    // ContigAlloc only: the node asked for (-1: any), and how many ranges it
    // tried (their isolation failures); 0: it skipped every candidate range.
    int32_t nid = -1;
    size_t ranges_tried = 0;
    bool start_seen = true;  // false: the trace began inside it, what it tried before is unknown
    uint32_t busy_retries = 0;  // cma_alloc_busy_retry events: ranges tried and found busy
    bool outcome_seen = true;  // false: still retrying when recording stopped

    EventHead head;  // the task that migrated, and when
    std::optional<MigrateEvent> outcome;  // from the tracepoint
    std::string reason;  // kernel's name: compaction, syscall_or_cpuset, ...
    std::string mode;
    bool pfns_observed = false;  // the failed-list walk ran
    bool walk_truncated = false;
    bool walk_complete = false;  // migrate_pages() return was seen
    int64_t ret = 0;  // < 0: gave up (e.g. -ENOMEM); its list includes pages never tried

    bool aborted() const { return walk_complete && ret < 0; }
    std::vector<StuckPage> pages;

    // Isolation and Cma: the other pages of the ranges the ledger shows held.
    // The kernel stops at the first busy page; these would stop the next
    // attempt. Capped at kMaxHeldInRange pages (sorted by pfn); the total
    // says how many there were.
    static constexpr size_t kMaxHeldInRange = 4096;
    std::vector<StuckPage> held_in_range;
    size_t held_in_range_total = 0;
};

// What the replay keeps beyond failures, for the views over the ledger.
struct ExplainOptions {
    std::optional<uint64_t> until_ns;  // CLOCK_MONOTONIC: events after it are not replayed
    uint64_t threshold_ns = 0;  // > 0: collect pins held longer than this
    std::vector<uint64_t> history_pfns;  // pages whose every event is kept (report --pfn)
};

// One owner as the replay left it: its totals, and what it still held.
struct OwnerState {
    Owner owner;
    uint64_t oldest_ns = 0;  // the oldest pin it still held (0: it held nothing)
    uint64_t pages_over_threshold = 0;
    DurationHistogram held_now;  // ages of the pins it still held
    // Records were lost while it held pages: some of them may have been
    // released unseen. Never shown as certain.
    bool uncertain = false;
};

// A pin held longer than ExplainOptions::threshold_ns: released (or freed)
// after that long, or still held when the replay stopped.
struct LongHold {
    OwnerId owner = 0;
    uint64_t pfn = 0;
    uint32_t count = 0;
    uint64_t since_ns = 0;
    uint64_t until_ns = 0;
    bool released = false;  // false: still held at the end
    bool by_free = false;  // closed because its page was freed
};

// One event in the life of a page the user asked about (report --pfn).
// Its Taker is who did it (Closed: the owner that lost the pins); a
// failure, a free or a snapshot names only the task.
struct HistoryEntry : Taker {
    // Snapshot: what record --snapshot found at the start (inferred, not traced).
    enum class What { Grab, Release, Closed, Freed, MigrationFailed, IsolationBusy, Snapshot };
    What what = What::Grab;
    uint64_t ts_ns = 0;
    uint64_t pfn = 0;
    uint32_t count = 0;
    uint32_t nr_pages = 1;  // pages the grab or folio spans
    std::string detail;  // the failure's reason, "freed", ...

    static HistoryEntry of(What what, uint64_t ts_ns, uint64_t pfn, const Taker& who, std::string detail = {})
    {
        HistoryEntry h;
        static_cast<Taker&>(h) = who;
        h.what = what;
        h.ts_ns = ts_ns;
        h.pfn = pfn;
        h.detail = std::move(detail);
        return h;
    }
};

// Consecutive pages one owner holds now.
struct HeldRange {
    OwnerId owner = 0;
    uint64_t start = 0, end = 0;  // [start, end)
    uint64_t pins = 0;  // outstanding pins or references on them
    uint64_t oldest_ns = 0;  // their oldest and newest outstanding pin
    uint64_t newest_ns = 0;
};

// A long-term pin (FOLL_LONGTERM) that first moved pages out of CMA or
// ZONE_MOVABLE: migrate_pages() with reason longterm_pin. The pin is taken
// on the copies; pages that did not move make the pin fail (a failure of
// its own, reason longterm_pin).
struct PinMigration {
    EventHead head;  // the pinning task
    uint64_t moved = 0;  // pages migrated out (succeeded)
    uint64_t failed = 0;  // pages that stayed
};

struct ReportStats {
    uint64_t grabs = 0;
    uint64_t releases = 0;
    uint64_t unmatched_releases = 0;  // pins released that were taken before the trace
    uint64_t cross_task_releases = 0;  // released by a task other than the pinner's process
    uint64_t migrations = 0;
    uint64_t closed_by_page_free = 0;  // holders whose page was freed (unseen put_page)
    uint64_t pages_held_at_end = 0;
    uint64_t process_exits = 0;  // processes that grabbed pages and exited
    uint64_t reordered = 0;  // records that came before older ones (other CPUs)
    uint64_t ledger_page_ops = 0;  // the replay's work (PinLedger::page_ops); not rendered
};

struct Report {
    TraceInfo info;
    ExplainOptions options;
    uint64_t end_ns = 0;  // the moment "held now" refers to: --until, or the end of the trace
    std::vector<OwnerState> owners;  // by OwnerId
    std::vector<LongHold> long_holds;  // the longest first, at most kMaxLongHolds
    uint64_t long_holds_total = 0;
    static constexpr size_t kMaxLongHolds = 10000;
    std::vector<HistoryEntry> history;
    std::map<uint64_t, std::vector<Holder>> history_holders;  // the --pfn pages' holders at end_ns
    std::vector<Failure> failures;
    std::vector<PinMigration> pin_migrations;  // every longterm_pin migration, by time
    std::vector<LostEvent> lost;
    uint64_t lost_total = 0;
    std::optional<FinishEvent> finish;
    std::optional<ReadSummary> file;  // how the file ended and how much of it was checked, when read from one
    std::map<int32_t, StackEvent> kernel_stacks;
    std::map<std::pair<int32_t, uint32_t>, StackEvent> user_stacks;  // (id, tgid)
    std::map<std::pair<uint32_t, uint32_t>, ProcessInfoEvent> processes;  // (tgid, incarnation)
    std::map<uint64_t, std::vector<PipeOpenersEvent>> pipe_looks;  // by pipe inode, in file order
    ReportStats stats;
    std::optional<SnapshotSeed> snapshot;  // record --snapshot
    uint64_t first_ns = 0;
    uint64_t last_ns = 0;

    bool capture_complete() const;
    // Frames of a holder's stack, kernel first, as "symbol" strings.
    // Frames as "symbol+0xoff", innermost first; empty when not recorded.
    std::vector<std::string> kernel_frames(int32_t kstack) const;
    std::vector<std::string> user_frames(int32_t ustack, uint32_t tgid) const;  // up to the process's entry
    std::vector<std::string> kernel_frames(const Holder& h) const { return kernel_frames(h.kstack); }
    std::vector<std::string> user_frames(const Holder& h) const { return user_frames(h.ustack, h.task.tgid); }
    // Lost-event windows overlapping [from, to].
    bool lost_between(uint64_t from, uint64_t to) const;
    // Who had the pipe open, from the recorder's look nearest to at_ns (the
    // one a failure prompts comes just after it); null if it never looked.
    const PipeOpenersEvent* pipe_look(uint64_t ino, uint64_t at_ns) const;
    // The process details recorded for an owner (exe, cgroup path), if any.
    const ProcessInfoEvent* process(OwnerId id) const;
    const Owner& owner(OwnerId id) const { return owners[id].owner; }
    // A holder some of whose pins may have been released unseen (lost events).
    bool holder_uncertain(const Holder& h, uint64_t at_ns) const { return lost_between(h.first_ns, at_ns); }
};

// The cause a page's holders (or, without holders, its counts) point to.
Cause classify(const StuckPage& page);
// What one holder's grab was: long-term pin, short-term pin or reference.
// The kind of hold its FOLL_* flags make: long-term pin, pin, or reference.
Cause cause_of_flags(uint32_t flags);
inline Cause holder_cause(const Holder& h) { return cause_of_flags(h.flags); }

}  // namespace pintrace
