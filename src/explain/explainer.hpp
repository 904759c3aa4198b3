// Replays a trace's events through the pin ledger and assembles, for every
// failed migration, the pages that stayed and who held them at that moment.
#pragma once

#include <set>
#include <span>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "events/event.hpp"
#include "explain/event_order.hpp"
#include "explain/report.hpp"
#include "explain/seeds.hpp"
#include "ledger/ledger.hpp"

namespace pintrace {

class Explainer {
public:
    explicit Explainer(TraceInfo info, ExplainOptions options = {});
    // The ledger calls back into this object: it stays where it was made.
    Explainer(const Explainer&) = delete;
    Explainer& operator=(const Explainer&) = delete;

    // Events may come in file order; they reach the ledger in time order.
    void consume(const Event& event);
    Report finish() &&;
    // The report as of the events dispatched so far (live views: top).
    // Failures still open and events waiting for their time order are not
    // in it yet.
    Report snapshot() const;
    // The trace ended but the view stays (top after a replay): dispatches
    // the events waiting for their time order and closes the attempts still
    // open, as finish() does, so snapshots show them.
    void flush();
    // What these owners hold now, as runs of consecutive pfns (top's
    // detail view): a walk of the whole ledger, so only on demand.
    std::vector<HeldRange> held_ranges(std::span<const OwnerId> owners) const;

private:
    void dispatch(const Event& event);
    void dispatch_ready();
    void dispatch_all();
    void on(const GrabEvent& e);
    void on(const ReleaseEvent& e);
    void on(const MigrateEvent& e);
    void on(const FailedFolioEvent& e);
    void on(const MigrateEndEvent& e);
    void on(const IsolationFailedEvent& e);
    void on(const CmaEvent& e);
    void on(const ContigAllocEvent& e);
    void on(const PageFreedEvent& e);
    void on(const ProcessExitEvent& e);
    void on(const ProcessInfoEvent& e);
    void on(const PipeOpenersEvent& e);
    void on(const StackEvent& e);
    void on(const LostEvent& e);
    void on(const FinishEvent& e);
    void on(const SnapshotPagesEvent& e);
    void on(const SnapshotHolderEvent& e);
    void on(const SnapshotEndEvent& e);
    void infer_holders(StuckPage& page) const;
    void note_stuck(StuckPage& page);
    void add_snapshot_history();
    void watch_closes();
    void collect_held_in_range(Failure& f) const;
    void close_cma_request(uint32_t tid, const CmaEvent* end);
    void close_attempt(Failure&& f);
    void note_time(uint64_t ts);
    bool in_history(uint64_t pfn, uint32_t nr_pages) const;
    void add_history(HistoryEntry entry);
    void on_closed(const ClosedPins& c);
    static void collect_owner_states(Report& r, const PinLedger& ledger);

    Report report_;
    EventOrder order_;
    PinLedger ledger_;
    bool walk_attached_;
    // Migrations in progress, by thread: the tracepoint fires inside
    // migrate_pages(), the failed-list walk at its return.
    std::unordered_map<uint32_t, Failure> open_;
    // Per pfn: failures in which it was stuck with no traced holder.
    std::unordered_map<uint64_t, uint32_t> stuck_before_;
    // CMA allocations in progress, by thread: their isolation failures and
    // busy retries fold into one failure when the allocation ends.
    std::unordered_map<uint32_t, Failure> cma_open_;
    // What each open allocation has already listed, so that a retry or an
    // isolation failure is deduplicated in O(log n), not by a search of
    // every range and page before it (quadratic in one allocation's retries).
    struct CmaSeen {
        std::set<std::pair<uint64_t, uint64_t>> ranges;
        std::unordered_set<uint64_t> pages;
    };
    std::unordered_map<uint32_t, CmaSeen> cma_seen_;
    // Contiguous allocations in progress, by thread (7.x nests one hooked
    // function in another: the outer call counts), and where the report's
    // failures stood when each began.
    struct ContigOpen {
        uint32_t depth = 0;
        size_t failures_before = 0;
    };
    std::unordered_map<uint32_t, ContigOpen> contig_open_;
    SeedTable seeds_;  // record --snapshot
};

}  // namespace pintrace
