#include "explain/explainer.hpp"

#include <algorithm>
#include <map>
#include <unordered_set>

#include "events/gup_flags.hpp"
#include "pintrace.h"

namespace pintrace {
namespace {

const char* mode_name(uint32_t mode)
{
    static const char* names[] = {"MIGRATE_ASYNC", "MIGRATE_SYNC_LIGHT", "MIGRATE_SYNC", "MIGRATE_SYNC_NO_COPY"};
    return mode < 4 ? names[mode] : "MIGRATE_UNKNOWN";
}

}  // namespace

Cause cause_of_flags(uint32_t flags)
{
    if ((flags & kFlagPin) && (flags & kFlagLongterm)) return Cause::LongtermPin;
    if (flags & kFlagPin) return Cause::ShortPin;
    return Cause::Reference;
}

Cause classify(const StuckPage& page)
{
    // The holder that keeps the page longest decides (the enum is ordered:
    // a long-term pin outlasts a short-term one, which outlasts a reference).
    if (!page.holders.empty()) {
        Cause worst = Cause::Reference;
        for (const auto& h : page.holders) worst = std::min(worst, holder_cause(h));
        return worst;
    }
    // Without one, what the page is decides where its type does (kernel
    // memory, page tables, a driver's pages)...
    if (page.identity)
        if (const PageTypeInfo* t = page_type_info(page.identity->type); t && t->cause) return *t->cause;
    if (page.identity && page.identity->kind == PT_PAGE_MOVABLE_OPS) return Cause::DriverMovable;
    if (!page.counts_known) return Cause::NoHolderSeen;
    if (page.refcount >= kGupPinCountingBias) return Cause::PinnedUnknown;
    // ... then the counts: one reference per mapping, plus the page's own
    // (own_refs). Anything beyond is someone else's: a file's page is then
    // held by what takes file pages without GUP (a pipe, a socket).
    if (int64_t{page.refcount} > int64_t{page.mapcount} + page.own_refs)
        return page.identity && page.identity->kind == PT_PAGE_FILE ? Cause::FileReferenced : Cause::ExtraRefUnknown;
    return Cause::NoHolderSeen;
}

namespace {

// The references a page's own state holds (StuckPage::own_refs, without the
// isolation's): the page cache's, one a page, for a file page; the swap
// cache's for a swap-backed anonymous one (PG_swapcache is PG_owner_priv_1
// there); one more for private data (buffer heads). The snapshot's
// expected_refs() applies the same rule to /proc/kpageflags. Named by the
// recording kernel's flag layout.
uint32_t state_refs(const PageIdentity& id, uint32_t nr_pages, const TraceInfo& info)
{
    auto names = info.page_flag_names(id.flags);
    auto has = [&](std::string_view flag) { return std::find(names.begin(), names.end(), flag) != names.end(); };
    uint32_t refs = has("PG_private") ? 1 : 0;
    if (id.kind == PT_PAGE_FILE) refs += nr_pages;
    if (id.kind == PT_PAGE_ANON && has("PG_swapbacked") && (has("PG_swapcache") || has("PG_owner_priv_1")))
        refs += nr_pages;
    return refs;
}

}  // namespace

Explainer::Explainer(TraceInfo info, ExplainOptions options)
    : walk_attached_(info.hook_attached(PT_HOOK_MIGRATE_PAGES_EXIT))
{
    report_.info = std::move(info);
    auto& pfns = options.history_pfns;
    std::sort(pfns.begin(), pfns.end());
    pfns.erase(std::unique(pfns.begin(), pfns.end()), pfns.end());
    report_.options = std::move(options);
    if (report_.options.threshold_ns || !report_.options.history_pfns.empty()) watch_closes();
}

bool Explainer::in_history(uint64_t pfn, uint32_t nr_pages) const
{
    const auto& pfns = report_.options.history_pfns;
    if (pfns.empty()) return false;
    auto it = std::lower_bound(pfns.begin(), pfns.end(), pfn);
    return it != pfns.end() && *it < pfn + nr_pages;
}

namespace {

bool longer_first(const LongHold& a, const LongHold& b) { return a.until_ns - a.since_ns > b.until_ns - b.since_ns; }

// The kMaxLongHolds longest, as a heap whose top is the shortest kept.
// False when the hold is not kept (the heap is full of holds as long).
bool keep_long_hold(Report& r, const LongHold& hold)
{
    auto& heap = r.long_holds;
    ++r.long_holds_total;
    if (heap.size() == Report::kMaxLongHolds) {
        if (!longer_first(hold, heap.front())) return false;
        std::pop_heap(heap.begin(), heap.end(), longer_first);
        heap.back() = hold;
    } else {
        heap.push_back(hold);
    }
    std::push_heap(heap.begin(), heap.end(), longer_first);
    return true;
}

// The same hold on nr_pages pages from hold.pfn, one long hold per page:
// all as long as each other, so once one is not kept none of the rest is
// (the shortest kept can only have grown), and only the total grows.
void keep_long_holds(Report& r, LongHold hold, uint64_t nr_pages)
{
    for (uint64_t i = 0; i < nr_pages; ++i, ++hold.pfn)
        if (!keep_long_hold(r, hold)) {
            r.long_holds_total += nr_pages - i - 1;
            return;
        }
}

}  // namespace

void Explainer::add_history(HistoryEntry entry) { report_.history.push_back(std::move(entry)); }

void Explainer::on_closed(const ClosedPins& c)
{
    // A pin the trace saw taken while the snapshot ran may be in the
    // snapshot's counts too: its release takes it from both.
    if (!c.by_free && !seeds_.empty() && c.since_ns <= seeds_.taken_until())
        seeds_.released(c.pfn, c.nr_pages, c.count, c.at_ns);
    uint64_t held = c.at_ns > c.since_ns ? c.at_ns - c.since_ns : 0;
    if (report_.options.threshold_ns && held >= report_.options.threshold_ns)
        keep_long_holds(report_, {c.owner, c.pfn, c.count, c.since_ns, c.at_ns, true, c.by_free}, c.nr_pages);
    // A run closes many pages at once; the history is of the pages asked
    // about, each on its own line as if held one by one.
    const auto& pfns = report_.options.history_pfns;
    for (auto it = std::lower_bound(pfns.begin(), pfns.end(), c.pfn); it != pfns.end() && *it < c.pfn + c.nr_pages;
         ++it) {
        const Owner& o = ledger_.owner(c.owner);
        auto entry = HistoryEntry::of(HistoryEntry::What::Closed, c.at_ns, *it, o,
                                      c.by_free ? "closed by the page's free" : "closed by the release");
        entry.count = c.count;
        add_history(std::move(entry));
    }
}

void Explainer::note_time(uint64_t ts)
{
    if (!ts) return;
    if (!report_.first_ns || ts < report_.first_ns) report_.first_ns = ts;
    report_.last_ns = std::max(report_.last_ns, ts);
}

void Explainer::consume(const Event& event)
{
    // The end of the trace: everything queued happened before it.
    if (std::holds_alternative<FinishEvent>(event)) dispatch_all();
    if (order_.push(event))
        dispatch_ready();
    else
        dispatch(event);
}

void Explainer::dispatch(const Event& event)
{
    // --until: the ledger as it stood then; later events are not replayed.
    if (auto until = report_.options.until_ns)
        if (auto ts = event_time(event); ts && *ts > *until) return;
    std::visit([this](const auto& e) { on(e); }, event);
}

namespace {

// Pages a queued event will look up in the ledger.
std::optional<uint64_t> event_pfn(const Event& e)
{
    if (auto* g = std::get_if<GrabEvent>(&e)) return g->pfn;
    if (auto* r = std::get_if<ReleaseEvent>(&e)) return r->pfn;
    if (auto* f = std::get_if<PageFreedEvent>(&e)) return f->pfn;
    return std::nullopt;
}

}  // namespace

void Explainer::dispatch_ready()
{
    // The ledger's table is far larger than the caches: fetching the slot of
    // the event a few places behind the one dispatched now overlaps misses.
    constexpr size_t kPrefetchDistance = 16;
    while (const Event* e = order_.ready()) {
        if (order_.size() > kPrefetchDistance)
            if (auto pfn = event_pfn(order_.peek(kPrefetchDistance))) ledger_.prefetch(*pfn);
        dispatch(*e);
        order_.pop();
    }
}

void Explainer::dispatch_all()
{
    while (const Event* e = order_.oldest()) {
        dispatch(*e);
        order_.pop();
    }
}

void Explainer::on(const GrabEvent& e)
{
    note_time(e.head.ts_ns);
    ++report_.stats.grabs;
    ledger_.grab(e);
    if (in_history(e.pfn, e.nr_pages)) {
        auto entry = HistoryEntry::of(HistoryEntry::What::Grab, e.head.ts_ns, e.pfn, taker_of(e));
        entry.count = e.count;
        entry.nr_pages = e.nr_pages;
        add_history(std::move(entry));
    }
}

void Explainer::on(const ReleaseEvent& e)
{
    note_time(e.head.ts_ns);
    ++report_.stats.releases;
    if (in_history(e.pfn, e.nr_pages)) {
        auto entry = HistoryEntry::of(HistoryEntry::What::Release, e.head.ts_ns, e.pfn,
                                      Taker{.task = e.head.task, .flags = e.flags});
        entry.count = e.refs;
        entry.nr_pages = e.nr_pages;
        add_history(std::move(entry));
    }
    auto outcome = ledger_.release(e);
    report_.stats.unmatched_releases += outcome.unmatched;
    if (outcome.unmatched && !seeds_.empty()) seeds_.released(e.pfn, e.nr_pages, outcome.unmatched, e.head.ts_ns);
    if (outcome.other_owner) ++report_.stats.cross_task_releases;
}

void Explainer::on(const MigrateEvent& e)
{
    note_time(e.head.ts_ns);
    ++report_.stats.migrations;
    Failure f;
    f.head = e.head;
    f.outcome = e;
    f.reason = report_.info.reason_name(e.reason);
    f.mode = mode_name(e.mode);
    // A long-term pin moving its pages out of CMA / ZONE_MOVABLE first:
    // worth saying even when every page moved (the pin then succeeds).
    if (f.reason == "longterm_pin") report_.pin_migrations.push_back({e.head, e.succeeded, e.failed});
    if (!walk_attached_) {
        // Without the list walk this is all there will ever be.
        if (e.failed > 0) close_attempt(std::move(f));
        return;
    }
    open_[e.head.task.tid] = std::move(f);
}

void Explainer::on(const FailedFolioEvent& e)
{
    note_time(e.head.ts_ns);
    auto [it, fresh] = open_.try_emplace(e.head.task.tid);
    Failure& f = it->second;
    if (fresh) {
        f.head = e.head;
        f.reason = "unknown";
    }
    f.pfns_observed = true;
    StuckPage page{e.pfn, e.refcount, e.mapcount, e.page_flags, {}, Cause::NoHolderSeen, e.nr_pages};
    if (e.identity) {
        page.identity = e.identity;
        page.own_refs = 1 + state_refs(*e.identity, e.nr_pages, report_.info);
    }
    // A large folio fails as a whole; its pins may sit on any of its pages.
    // One entry per owner (its pins summed, dated by the oldest): a 1 GiB
    // folio pinned page by page would otherwise keep 262144 holders per
    // failure, and the report keeps every failure.
    for (const Holder& h : ledger_.holders_in(e.pfn, e.nr_pages)) page.holders.push_back(h);
    page.cause = classify(page);
    // The counts at the failure still show a pin or reference nobody was
    // seen taking: the snapshot may know who.
    if (page.cause == Cause::PinnedUnknown || page.cause == Cause::ExtraRefUnknown) infer_holders(page);
    f.pages.push_back(std::move(page));
    if (in_history(e.pfn, e.nr_pages)) {
        auto entry =
            HistoryEntry::of(HistoryEntry::What::MigrationFailed, e.head.ts_ns, e.pfn, Taker{.task = e.head.task},
                             "refcount " + std::to_string(e.refcount) + ", mapcount " + std::to_string(e.mapcount));
        entry.nr_pages = e.nr_pages;
        add_history(std::move(entry));
    }
}

void Explainer::on(const MigrateEndEvent& e)
{
    note_time(e.head.ts_ns);
    auto it = open_.find(e.head.task.tid);
    if (it == open_.end()) return;  // a call that started before the trace
    Failure f = std::move(it->second);
    open_.erase(it);
    f.pfns_observed = true;
    f.walk_complete = true;
    f.walk_truncated = e.truncated;
    f.ret = e.ret;
    // A migration that gave up leaves untried pages on its list too: without
    // a holder, such a page tells nothing about why it did not move.
    if (f.aborted())
        for (auto& page : f.pages)
            if (page.holders.empty()) page.cause = Cause::NotAttempted;
    bool failed = !f.pages.empty() || (f.outcome && f.outcome->failed > 0);
    if (failed) close_attempt(std::move(f));
}

// The kernel gives only the first busy pfn and no counts: the ledger's
// holders of that page are the explanation, when there are any. A range
// refused at the start of isolation names, at most, the page the kernel
// called unmovable: that is the kernel's reason, not a holder's.
void Explainer::on(const IsolationFailedEvent& e)
{
    note_time(e.head.ts_ns);
    bool refused = e.stage == IsolationFailedEvent::Stage::Start;
    Failure f;
    f.kind = Failure::Kind::Isolation;
    f.head = e.head;
    f.reason = "isolation";
    f.refused_at_isolation = refused;
    f.ret = e.error;
    f.range_start = e.start_pfn;
    f.range_end = e.end_pfn;
    f.ranges = {{e.start_pfn, e.end_pfn}};
    f.pfns_observed = e.busy_pfn.has_value();
    std::optional<StuckPage> page;
    if (e.busy_pfn) {
        uint64_t pfn = *e.busy_pfn;
        page = StuckPage{pfn, 0, 0, 0, {}, Cause::NoHolderSeen, 1};
        page->counts_known = false;
        if (e.identity && e.identity->kind != PT_PAGE_UNREAD) {
            // The page as the kernel left it: not isolated (a page that failed
            // to migrate is back on its LRU), its counts read with the rest.
            // A typed page keeps its type where the mapcount would be.
            const PageIdentity& id = *e.identity;
            page->identity = id;
            page->page_flags = id.flags;
            page->refcount = id.refcount;
            page->mapcount = id.mapcount;
            page->own_refs = state_refs(id, 1, report_.info);
            page->counts_known = id.type == PT_TYPE_NONE;
        }
        auto hs = ledger_.holders(pfn);
        page->holders.assign(hs.begin(), hs.end());
        page->cause = classify(*page);
        // What the kernel itself refused, where nothing else explains it.
        if (refused && page->holders.empty() &&
            (page->cause == Cause::NoHolderSeen || page->cause == Cause::ExtraRefUnknown))
            page->cause = Cause::Unmovable;
        // Without counts only the snapshot can tell a pin.
        if (!refused && (page->cause == Cause::NoHolderSeen || page->cause == Cause::PinnedUnknown ||
                         page->cause == Cause::ExtraRefUnknown))
            infer_holders(*page);
        if (in_history(pfn, 1))
            add_history(HistoryEntry::of(HistoryEntry::What::IsolationBusy, e.head.ts_ns, pfn,
                                         Taker{.task = e.head.task},
                                         (refused ? "refused at isolation (unmovable), range " : "range ") +
                                             std::to_string(e.start_pfn) + "-" + std::to_string(e.end_pfn)));
    }
    if (auto cma = cma_open_.find(e.head.task.tid); cma != cma_open_.end()) {
        // Part of a CMA allocation: its busy page, reported when the allocation ends.
        Failure& req = cma->second;
        CmaSeen& seen = cma_seen_[e.head.task.tid];
        if (seen.ranges.insert({e.start_pfn, e.end_pfn}).second) req.ranges.push_back(f.ranges[0]);
        if (page && seen.pages.insert(page->pfn).second) req.pages.push_back(std::move(*page));
        return;
    }
    if (page) f.pages.push_back(std::move(*page));
    // A refusal stops before any page is tried: the range's held pages are
    // not why it failed.
    if (!refused) collect_held_in_range(f);
    close_attempt(std::move(f));
}

void Explainer::on(const CmaEvent& e)
{
    note_time(e.head.ts_ns);
    uint32_t tid = e.head.task.tid;
    auto [it, fresh] = cma_open_.try_emplace(tid);
    Failure& req = it->second;
    if (fresh || e.op == CmaEvent::Op::AllocStart) {
        req = Failure{};
        cma_seen_.erase(tid);
        req.kind = Failure::Kind::Cma;
        req.head = e.head;
        req.reason = "cma";
        req.pfns_observed = true;
    }
    if (!e.area.empty()) req.cma_area = e.area;
    if (e.count) req.requested_pages = e.count;
    switch (e.op) {
    case CmaEvent::Op::AllocStart: break;
    case CmaEvent::Op::BusyRetry: {
        ++req.busy_retries;
        if (cma_seen_[tid].ranges.insert({e.pfn, e.pfn + e.count}).second)
            req.ranges.push_back({e.pfn, e.pfn + e.count});
        break;
    }
    case CmaEvent::Op::AllocEnd:
        if (e.succeeded) {
            cma_open_.erase(it);
            cma_seen_.erase(tid);
        } else {
            close_cma_request(tid, &e);
        }
        break;
    }
}

void Explainer::on(const ContigAllocEvent& e)
{
    note_time(e.head.ts_ns);
    uint32_t tid = e.head.task.tid;
    if (e.op == ContigAllocEvent::Op::Start) {
        auto [it, fresh] = contig_open_.try_emplace(tid);
        if (fresh) it->second.failures_before = report_.failures.size();
        ++it->second.depth;
        return;
    }
    auto it = contig_open_.find(tid);
    bool start_seen = it != contig_open_.end();
    size_t since = report_.failures.size();
    if (start_seen) {
        since = it->second.failures_before;
        if (--it->second.depth > 0) return;
        contig_open_.erase(it);
    }
    if (e.pfn) return;
    Failure f;
    f.kind = Failure::Kind::ContigAlloc;
    f.head = e.head;
    f.reason = "contig_alloc";
    f.requested_pages = e.nr_pages;
    f.nid = e.nid;
    // Its start unseen (the trace began inside it): what it tried is unknown.
    f.start_seen = start_seen;
    for (size_t i = since; i < report_.failures.size(); ++i) {
        const Failure& tried = report_.failures[i];
        if (tried.kind != Failure::Kind::Isolation || tried.head.task.tid != tid) continue;
        ++f.ranges_tried;
        f.ranges.push_back({tried.range_start, tried.range_end});
    }
    close_attempt(std::move(f));
}

// A failed CMA allocation: the pages its isolation failures named busy,
// and everything the ledger shows held in the ranges it found busy.
void Explainer::close_cma_request(uint32_t tid, const CmaEvent* end)
{
    auto it = cma_open_.find(tid);
    if (it == cma_open_.end()) return;
    Failure f = std::move(it->second);
    cma_open_.erase(it);
    cma_seen_.erase(tid);
    if (end) {
        f.head.ts_ns = end->head.ts_ns;
        f.cma_error = end->error;
    }
    f.outcome_seen = end != nullptr;
    collect_held_in_range(f);
    close_attempt(std::move(f));
}

// Looks only where the ledger holds pages (PinLedger::for_each_hold_in): an
// isolation failure's range is a pageblock or two, and a retrying
// allocation can fail thousands of times while millions of pages are held.
void Explainer::collect_held_in_range(Failure& f) const
{
    // The ranges merged and in pfn order: each page is looked at once.
    std::vector<PfnRange> ranges = f.ranges;
    std::sort(ranges.begin(), ranges.end(), [](const PfnRange& a, const PfnRange& b) { return a.start < b.start; });
    std::vector<PfnRange> merged;
    for (const auto& r : ranges) {
        if (r.end <= r.start) continue;
        if (!merged.empty() && r.start <= merged.back().end)
            merged.back().end = std::max(merged.back().end, r.end);
        else
            merged.push_back(r);
    }
    std::unordered_set<uint64_t> busy_pfns;
    for (const auto& p : f.pages) busy_pfns.insert(p.pfn);
    auto busy = [&](uint64_t pfn) { return busy_pfns.count(pfn) != 0; };
    std::map<uint64_t, StuckPage> held;
    auto add = [&](uint64_t pfn, const Holder& h) {
        auto [it, fresh] = held.try_emplace(pfn, StuckPage{pfn, 0, 0, 0, {}, Cause::NoHolderSeen, 1});
        it->second.counts_known = false;
        it->second.holders.push_back(h);
    };
    for (const auto& r : merged)
        ledger_.for_each_hold_in(r.start, r.end, [&](uint64_t pfn, const PageHold& h) {
            if (!busy(pfn)) add(pfn, ledger_.resolve(pfn, h));
        });
    for (const auto& r : f.ranges)
        seeds_.for_each_held(r.start, r.end, [&](const SeedState& s) {
            if (busy(s.page.pfn) || held.count(s.page.pfn)) return;
            StuckPage page{s.page.pfn, 0, 0, 0, {}, Cause::NoHolderSeen, 1};
            page.counts_known = false;
            infer_holders(page);
            held.emplace(s.page.pfn, std::move(page));
        });
    f.held_in_range_total = held.size();
    for (auto& [pfn, page] : held) {
        if (f.held_in_range.size() == Failure::kMaxHeldInRange) break;
        if (!page.at_snapshot) page.cause = classify(page);
        f.held_in_range.push_back(std::move(page));
    }
}

// A page stuck with no holder in the trace: how often it was before. A
// page a migration gave up on before trying it was not stuck.
void Explainer::note_stuck(StuckPage& page)
{
    if (!page.holders.empty() || page.cause == Cause::NotAttempted) return;
    page.earlier_failures = stuck_before_[page.pfn]++;
}

// A pin or reference from before the trace, as the snapshot saw it: its
// cause from the counts then, its holders as inferred (never certain).
void Explainer::infer_holders(StuckPage& page) const
{
    const SeedState* s = seeds_.held(page.pfn, page.nr_pages);
    if (!s) return;
    page.at_snapshot = s->page;
    page.inferred = s->holders;
    if (page.cause == Cause::NoHolderSeen)
        page.cause = s->page.held_as == SeedClass::ExtraRefs ? Cause::ExtraRefUnknown : Cause::PinnedUnknown;
}

void Explainer::on(const PageFreedEvent& e)
{
    note_time(e.head.ts_ns);
    if (in_history(e.pfn, e.nr_pages)) {
        auto entry = HistoryEntry::of(HistoryEntry::What::Freed, e.head.ts_ns, e.pfn, Taker{.task = e.head.task});
        entry.nr_pages = e.nr_pages;
        add_history(std::move(entry));
    }
    report_.stats.closed_by_page_free += ledger_.page_freed(e.pfn, e.nr_pages, e.head.ts_ns);
    if (!seeds_.empty()) seeds_.freed(e.pfn, e.nr_pages, e.head.ts_ns);
}

void Explainer::on(const ProcessExitEvent& e)
{
    note_time(e.head.ts_ns);
    ++report_.stats.process_exits;
    ledger_.process_exited(e.head.task.tgid, e.head.ts_ns);
}

void Explainer::on(const PipeOpenersEvent& e) { report_.pipe_looks[e.ino].push_back(e); }

void Explainer::on(const ProcessInfoEvent& e) { report_.processes[{e.tgid, ledger_.incarnation(e.tgid)}] = e; }

void Explainer::on(const StackEvent& e)
{
    if (e.kind == StackKind::Kernel)
        report_.kernel_stacks[e.id] = e;
    else
        report_.user_stacks[{e.id, e.tgid}] = e;
}

void Explainer::on(const LostEvent& e)
{
    report_.lost.push_back(e);
    report_.lost_total += e.count;
}

void Explainer::on(const FinishEvent& e) { report_.finish = e; }

void Explainer::on(const SnapshotPagesEvent& e)
{
    if (!report_.snapshot) report_.snapshot.emplace();
    seeds_.add(e, *report_.snapshot);
    watch_closes();
}

// Every closed pin now matters to the seeds (as well as to --threshold
// and --pfn): without a snapshot the ledger calls nobody.
void Explainer::watch_closes()
{
    ledger_.on_close([this](const ClosedPins& c) { on_closed(c); });
}

void Explainer::on(const SnapshotHolderEvent& e)
{
    if (!report_.snapshot) report_.snapshot.emplace();
    seeds_.add(e, *report_.snapshot);
}

void Explainer::on(const SnapshotEndEvent& e)
{
    if (!report_.snapshot) report_.snapshot.emplace();
    report_.snapshot->end = e;
    if (!report_.snapshot->ts_ns) report_.snapshot->ts_ns = e.start_ns;
    seeds_.taken(e.start_ns, e.end_ns);
}

void Explainer::close_attempt(Failure&& f)
{
    for (auto& page : f.pages) note_stuck(page);
    report_.failures.push_back(std::move(f));
}

// The --pfn pages as the snapshot at the start found them, with the
// holders it inferred: the first line of their history.
void Explainer::add_snapshot_history()
{
    if (!report_.snapshot) return;
    for (uint64_t pfn : report_.options.history_pfns) {
        const SeedState* s = seeds_.state(pfn);
        if (!s) continue;
        std::string detail = "held as " + std::string(seed_class_name(s->page.held_as));
        if (s->page.refcount >= 0)
            detail += " (refcount " + std::to_string(s->page.refcount) + ", mapcount " +
                      std::to_string(s->page.mapcount) + ")";
        TaskRef task;
        for (uint32_t i : s->holders) {
            const auto& h = report_.snapshot->holders[i];
            if (!task.tgid) task = task_ref(h.pid, h.comm);
            detail += "; " + std::string(h.confidence()) + " holder pid " + std::to_string(h.pid) + " (" + h.comm +
                      "): " + h.evidence;
        }
        if (s->holders.empty()) detail += "; no process maps or registered it";
        if (s->released_ns) detail += "; released during the trace";
        add_history(
            HistoryEntry::of(HistoryEntry::What::Snapshot, report_.snapshot->ts_ns, pfn, Taker{.task = task}, detail));
    }
}

Report Explainer::finish() &&
{
    flush();
    add_snapshot_history();
    if (report_.snapshot) seeds_.summarize(*report_.snapshot);
    report_.stats.pages_held_at_end = ledger_.pages_held();
    report_.stats.ledger_page_ops = ledger_.page_ops();
    collect_owner_states(report_, ledger_);
    return std::move(report_);
}

void Explainer::flush()
{
    dispatch_all();  // a trace that was not closed has no Finish record
    report_.stats.reordered = order_.reordered();
    // Attempts whose migrate_pages() had not returned when recording stopped.
    for (auto& [tid, f] : open_)
        if (!f.pages.empty() || (f.outcome && f.outcome->failed > 0)) close_attempt(std::move(f));
    open_.clear();
    // CMA allocations still retrying: what they met so far is reported.
    std::vector<uint32_t> retrying;
    for (const auto& [tid, f] : cma_open_)
        if (!f.ranges.empty() || !f.pages.empty()) retrying.push_back(tid);
    for (uint32_t tid : retrying) close_cma_request(tid, nullptr);
    cma_open_.clear();
    cma_seen_.clear();
    std::sort(report_.failures.begin(), report_.failures.end(),
              [](const Failure& a, const Failure& b) { return a.head.ts_ns < b.head.ts_ns; });
}

std::vector<HeldRange> Explainer::held_ranges(std::span<const OwnerId> owners) const
{
    std::vector<bool> wanted(ledger_.owners().size());
    for (OwnerId id : owners)
        if (id < wanted.size()) wanted[id] = true;
    struct Held {
        uint64_t pfn;
        uint32_t nr_pages;
        PageHold hold;
    };
    std::vector<Held> held;
    ledger_.for_each_run([&](uint64_t pfn, uint32_t nr_pages, const PageHold& h) {
        if (wanted[h.owner]) held.push_back({pfn, nr_pages, h});
    });
    std::sort(held.begin(), held.end(), [](const Held& a, const Held& b) {
        return a.hold.owner != b.hold.owner ? a.hold.owner < b.hold.owner : a.pfn < b.pfn;
    });
    std::vector<HeldRange> out;
    for (const Held& x : held) {
        const PageHold& h = x.hold;
        uint64_t pins = uint64_t{h.count} * x.nr_pages;
        if (!out.empty() && out.back().owner == h.owner && out.back().end == x.pfn) {
            HeldRange& r = out.back();
            r.end = x.pfn + x.nr_pages;
            r.pins += pins;
            r.oldest_ns = std::min(r.oldest_ns, h.since_ns);
            r.newest_ns = std::max(r.newest_ns, h.since_ns);
        } else {
            out.push_back({h.owner, x.pfn, x.pfn + x.nr_pages, pins, h.since_ns, h.since_ns});
        }
    }
    return out;
}

Report Explainer::snapshot() const
{
    Report r = report_;
    r.stats.pages_held_at_end = ledger_.pages_held();
    collect_owner_states(r, ledger_);
    return r;
}

// What every owner still holds when the replay stops (or now, for a
// snapshot): the "held now" views.
void Explainer::collect_owner_states(Report& r, const PinLedger& ledger)
{
    r.end_ns = r.options.until_ns.value_or(std::max(r.last_ns, r.finish ? r.finish->end_ns : 0));
    r.owners.clear();
    for (const Owner& o : ledger.owners()) r.owners.push_back(OwnerState{o});
    uint64_t threshold = r.options.threshold_ns;
    ledger.for_each_run([&](uint64_t pfn, uint32_t nr_pages, const PageHold& h) {
        OwnerState& s = r.owners[h.owner];
        uint64_t age = r.end_ns > h.since_ns ? r.end_ns - h.since_ns : 0;
        if (!s.oldest_ns || h.since_ns < s.oldest_ns) s.oldest_ns = h.since_ns;
        s.held_now.add(age, uint64_t{h.count} * nr_pages);
        if (threshold && age >= threshold) {
            s.pages_over_threshold += nr_pages;
            keep_long_holds(r, {h.owner, pfn, h.count, h.since_ns, r.end_ns, false, false}, nr_pages);
        }
    });
    for (auto& s : r.owners)
        if (s.oldest_ns) s.uncertain = r.lost_between(s.oldest_ns, r.end_ns);
    for (uint64_t pfn : r.options.history_pfns) {
        auto hs = ledger.holders(pfn);
        r.history_holders[pfn].assign(hs.begin(), hs.end());
    }
    std::sort_heap(r.long_holds.begin(), r.long_holds.end(), longer_first);
    std::stable_sort(r.history.begin(), r.history.end(),
                     [](const HistoryEntry& a, const HistoryEntry& b) { return a.ts_ns < b.ts_ns; });
}

// ---- Report helpers ----

bool Report::capture_complete() const { return missing_attach_points(info.attach) == 0; }

namespace {

// Symbol names, or the bare address where a frame did not resolve.
std::vector<std::string> frame_names(const StackEvent* stack)
{
    std::vector<std::string> out;
    if (!stack) return out;
    for (const auto& f : stack->frames) {
        char buf[32];
        std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(f.addr));
        out.push_back(f.symbol.empty() ? buf : f.symbol);
    }
    return out;
}

// The C runtime's entry code keeps no frame pointer: a frame-pointer walk
// that reaches it continues into whatever the stack holds. Nothing above
// the libc entry frame is a real caller.
bool is_process_entry(std::string_view frame)
{
    for (std::string_view entry : {"__libc_start_call_main+", "__libc_start_main+", "_start+"})
        if (frame.starts_with(entry)) return true;
    return false;
}

}  // namespace

std::vector<std::string> Report::kernel_frames(int32_t kstack) const
{
    auto it = kernel_stacks.find(kstack);
    return frame_names(it == kernel_stacks.end() ? nullptr : &it->second);
}

std::vector<std::string> Report::user_frames(int32_t ustack, uint32_t tgid) const
{
    auto it = user_stacks.find({ustack, tgid});
    auto frames = frame_names(it == user_stacks.end() ? nullptr : &it->second);
    auto entry = std::find_if(frames.begin(), frames.end(), is_process_entry);
    if (entry != frames.end()) frames.erase(entry + 1, frames.end());
    return frames;
}

const PipeOpenersEvent* Report::pipe_look(uint64_t ino, uint64_t at_ns) const
{
    auto it = pipe_looks.find(ino);
    if (it == pipe_looks.end() || it->second.empty()) return nullptr;
    auto distance = [&](const PipeOpenersEvent& look) {
        return look.ts_ns > at_ns ? look.ts_ns - at_ns : at_ns - look.ts_ns;
    };
    const PipeOpenersEvent* nearest = nullptr;
    for (const auto& look : it->second)
        if (!nearest || distance(look) < distance(*nearest)) nearest = &look;
    return nearest;
}

const ProcessInfoEvent* Report::process(OwnerId id) const
{
    if (id >= owners.size()) return nullptr;
    const Owner& o = owners[id].owner;
    auto it = processes.find({o.task.tgid, o.incarnation});
    return it == processes.end() ? nullptr : &it->second;
}

bool Report::lost_between(uint64_t from, uint64_t to) const
{
    return std::any_of(lost.begin(), lost.end(),
                       [&](const LostEvent& l) { return l.from_ns <= to && l.to_ns >= from; });
}

}  // namespace pintrace
