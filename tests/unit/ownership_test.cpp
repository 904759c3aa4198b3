// The ownership semantics of docs/ledger.md, one test each, on synthetic
// event streams shaped like the BPF side's.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/property_tree/json_parser.hpp>
#include <boost/property_tree/ptree.hpp>
#include <random>
#include <set>
#include <sstream>
#include <unordered_map>

#include "event_builders.hpp"
#include "explain/explainer.hpp"
#include "explain/pinners.hpp"
#include "ledger/ledger.hpp"
#include "ledger/pfn_table.hpp"
#include "render/format.hpp"
#include "render/report_views.hpp"
#include "sample_trace.hpp"

namespace pintrace {
namespace {

using testing::HasSubstr;

using test::grab;
using test::kLongPin;
using test::release;

// A migration of one page that failed at ts, by pid 300.
void fail_migration(Explainer& ex, uint64_t ts, uint64_t pfn, int32_t refcount = 1026, uint32_t nr_pages = 1)
{
    for (const auto& e : test::migration_failure(ts, {{pfn, refcount, nr_pages}})) ex.consume(e);
}

ProcessExitEvent exit_of(uint64_t ts, uint32_t tgid)
{
    ProcessExitEvent e;
    e.head = test::head(ts, tgid);
    return e;
}

TEST(Ownership, ARangeReleasedPageByPageInAnyOrderKeepsItsOwnerOnTheRest)
{
    PinLedger ledger;
    ledger.grab(grab(1000, 100, 0x1000, kLongPin, 8));  // one pin_user_pages() call
    // Direct I/O completes per bio: pages come back one at a time, out of order.
    uint64_t ts = 2000;
    for (uint64_t pfn : {0x1005u, 0x1001u, 0x1007u}) ledger.release(release(ts += 1000, 100, pfn, kFlagPin));
    const Owner& o = ledger.owner(0);
    EXPECT_EQ(o.pages_held, 5u);
    EXPECT_EQ(o.pins_held, 5u);
    EXPECT_EQ(o.pins_released, 3u);
    for (uint64_t pfn : {0x1000u, 0x1002u, 0x1003u, 0x1004u, 0x1006u}) {
        auto hs = ledger.holders(pfn);
        ASSERT_EQ(hs.size(), 1u) << pfn;
        EXPECT_EQ(hs[0].task.tgid, 100u);
        EXPECT_EQ(hs[0].first_ns, 1000u) << "the remaining pages keep the time of the call";
    }
    EXPECT_TRUE(ledger.holders(0x1005).empty());
    EXPECT_EQ(o.held_for.total(), 3u);  // three durations: 2, 3 and 4 us
    EXPECT_EQ(o.held_for.buckets[DurationHistogram::bucket_of(2000)], 2u);
}

TEST(Ownership, AReleaseInAKworkerClosesTheOldestOwnerAndCountsAsCrossTask)
{
    Explainer ex(test::sample_info());
    ex.consume(grab(10, 100, 0x50, kLongPin, 1, "qemu"));
    ex.consume(grab(20, 200, 0x50, kLongPin, 1, "rdma-app"));
    ex.consume(release(30, 7, 0x50, kFlagPin));  // io_uring teardown in kworker/u4:1
    fail_migration(ex, 40, 0x50);
    Report r = std::move(ex).finish();
    ASSERT_EQ(r.failures.size(), 1u);
    ASSERT_EQ(r.failures[0].pages[0].holders.size(), 1u);
    EXPECT_EQ(r.failures[0].pages[0].holders[0].task.tgid, 200u) << "the oldest (pid 100) was released";
    EXPECT_EQ(r.stats.cross_task_releases, 1u);
}

TEST(Ownership, APageFailingWithAPinBiasAndNoGrabWasPinnedBeforeTheTrace)
{
    Explainer ex(test::sample_info());
    fail_migration(ex, 40, 0x77, 1026);  // refcount carries GUP_PIN_COUNTING_BIAS
    Report r = std::move(ex).finish();
    ASSERT_EQ(r.failures.size(), 1u);
    EXPECT_EQ(r.failures[0].pages[0].cause, Cause::PinnedUnknown);
    std::string text = test::flat(render_report_text(r));
    EXPECT_THAT(text, HasSubstr("pinned before the trace began")) << text;
    EXPECT_THAT(text, HasSubstr("/proc/*/fd")) << "it says where to look instead";
    EXPECT_EQ(report_exit_code(r), kExitFailuresUnexplained) << "an inference is not an explanation";
}

TEST(Ownership, AReferenceWhoseReleaseIsInvisibleClosesWhenItsPageIsFreed)
{
    Explainer ex(test::sample_info());
    ex.consume(grab(10, 100, 0x60, kFlagGet, 1, "splicer"));
    fail_migration(ex, 20, 0x60, 3);
    PageFreedEvent freed;
    freed.head = test::head(30, 0);
    freed.pfn = 0x60;
    ex.consume(freed);
    Report r = std::move(ex).finish();
    ASSERT_EQ(r.failures.size(), 1u);
    EXPECT_EQ(r.failures[0].pages[0].cause, Cause::Reference);
    EXPECT_THAT(render_report_json(r), HasSubstr("\"release_observable\":false"));
    EXPECT_EQ(r.stats.pages_held_at_end, 0u);
    EXPECT_EQ(r.owners[0].owner.pins_freed, 1u);
    EXPECT_EQ(r.owners[0].owner.pins_released, 0u);
}

TEST(Ownership, APinOnAnyPageOfALargeFolioBlocksItAndTheFolioReleaseClosesIt)
{
    Explainer ex(test::sample_info());
    ex.consume(grab(10, 100, 0x2000, kLongPin, 512));  // a 2 MiB THP, one grab
    ex.consume(grab(11, 200, 0x2105, kFlagPin, 1, "dio"));
    fail_migration(ex, 20, 0x2000, 3, 512);  // the folio fails whole, by its head
    ex.consume(release(30, 100, 0x2000, kFlagPin, 512, 512));
    Report r = std::move(ex).finish();
    ASSERT_EQ(r.failures.size(), 1u);
    std::set<uint32_t> pids;
    for (const auto& h : r.failures[0].pages[0].holders) pids.insert(h.task.tgid);
    EXPECT_EQ(pids, (std::set<uint32_t>{100, 200}));
    // pid 100 released its own 512 first; pid 200's pin on a tail page remains.
    EXPECT_EQ(r.stats.pages_held_at_end, 1u);
    EXPECT_EQ(r.owners[1].owner.pages_held, 1u);
}

TEST(Ownership, AReusedPidIsANewOwnerAndTheOldOneIsMarkedExited)
{
    Explainer ex(test::sample_info());
    ex.consume(grab(10, 100, 0x70, kLongPin, 1, "old-daemon"));
    ex.consume(exit_of(20, 100));  // its io_uring teardown has not run yet
    ex.consume(grab(30, 100, 0x70, kLongPin, 1, "new-tool"));  // pid 100 again, another program
    fail_migration(ex, 40, 0x70, 2051);
    Report r = std::move(ex).finish();
    ASSERT_EQ(r.owners.size(), 2u);
    EXPECT_EQ(r.owners[0].owner.exited_ns, 20u);
    EXPECT_EQ(r.owners[1].owner.exited_ns, 0u);
    EXPECT_EQ(comm_view(r.owners[1].owner.task.comm), "new-tool");
    const auto& holders = r.failures[0].pages[0].holders;
    ASSERT_EQ(holders.size(), 2u);
    EXPECT_EQ(holders[0].count + holders[1].count, 2u) << "two owners of one pin each, not one of two";
    std::string text = test::flat(render_report_text(r));
    EXPECT_THAT(text, HasSubstr("pid 100 (old-daemon) has exited but its long-term pins")) << text;
    EXPECT_THAT(text, HasSubstr("its process exited at")) << text;
}

// Pairing in the kernel sends a short-term pin held past its threshold
// late, with its own time: here after its process exited and the pid was
// taken by another program. The pin is the exited process's, as it was
// when taken, not the new one's.
TEST(Ownership, APinSentLateAfterItsProcessExitedStaysTheExitedProcesss)
{
    constexpr uint64_t ms = 1'000'000;
    constexpr uint32_t kShortPin = kFlagPin | kFlagWrite;
    Explainer ex(test::sample_info());
    ex.consume(exit_of(200 * ms, 100));  // its parked pin is still in the kernel
    ex.consume(grab(600 * ms, 100, 0x71, kShortPin, 1, "new-tool"));  // pid 100 again
    ex.consume(grab(100 * ms, 100, 0x70, kShortPin, 1, "dio-app"));  // the parked pin, sent at 610 ms
    ex.consume(grab(101 * ms, 100, 0x72, kShortPin, 1, "dio-app"));  // and a second one of it
    fail_migration(ex, 700 * ms, 0x70, 3);
    Report r = std::move(ex).finish();
    ASSERT_EQ(r.failures.size(), 1u);
    const auto& holders = r.failures[0].pages[0].holders;
    ASSERT_EQ(holders.size(), 1u);
    EXPECT_EQ(comm_view(holders[0].task.comm), "dio-app");
    ASSERT_EQ(r.owners.size(), 2u) << "one owner for the new program, one for both late pins";
    for (const auto& o : r.owners) {
        bool late = comm_view(o.owner.task.comm) == "dio-app";
        EXPECT_EQ(o.owner.exited_ns, late ? 200 * ms : 0) << comm_view(o.owner.task.comm);
        EXPECT_EQ(o.owner.incarnation, late ? 0u : 1u) << comm_view(o.owner.task.comm);
        EXPECT_EQ(o.owner.pages_held, late ? 2u : 1u) << comm_view(o.owner.task.comm);
    }
}

TEST(Ownership, AReleaseByTheNewProcessOfAReusedPidIsNotItsOwnRelease)
{
    PinLedger ledger;
    ledger.grab(grab(10, 100, 0x70, kLongPin));
    ledger.process_exited(100, 20);
    ledger.grab(grab(30, 200, 0x70, kLongPin));
    // The new pid-100 process releases a pin it never took: the kernel still
    // releases the oldest, and the ledger says another owner's pin closed.
    auto out = ledger.release(release(40, 100, 0x70, kFlagPin));
    EXPECT_TRUE(out.other_owner);
    auto hs = ledger.holders(0x70);
    ASSERT_EQ(hs.size(), 1u);
    EXPECT_EQ(hs[0].task.tgid, 200u);
}

TEST(Ownership, ACompletionRecordedAheadOfItsGrabIsPutBackInTimeOrder)
{
    Explainer ex(test::sample_info());
    // CPU 1 stamped its grab at 100 but reserved its record after CPU 0's
    // release (stamped 105): the file has them the wrong way round.
    ex.consume(release(105, 100, 0x80, kFlagPin));
    ex.consume(grab(100, 100, 0x80, kFlagPin));
    Report r = std::move(ex).finish();
    EXPECT_EQ(r.stats.pages_held_at_end, 0u) << "the pin was released, not held forever";
    EXPECT_EQ(r.stats.unmatched_releases, 0u);
    EXPECT_EQ(r.stats.reordered, 1u);
}

TEST(Ownership, AHolderFromBeforeLostEventsIsNeverShownAsCertain)
{
    Explainer ex(test::sample_info());
    ex.consume(grab(10, 100, 0x90, kLongPin));
    ex.consume(grab(10, 200, 0x91, kLongPin));
    ex.consume(LostEvent{12, 20, 5});  // its release may be among them
    ex.consume(grab(25, 200, 0x92, kLongPin));
    fail_migration(ex, 30, 0x90);
    Report r = std::move(ex).finish();
    std::string json = render_report_json(r);
    EXPECT_THAT(json, HasSubstr("\"certain\":false")) << json;
    std::string text = test::flat(render_report_text(r));
    EXPECT_THAT(text, HasSubstr("UNCERTAIN: events were lost while it held these pages")) << text;
    auto rows = pinner_rows(r, {});
    ASSERT_EQ(rows.size(), 2u);
    for (const auto& row : rows) EXPECT_TRUE(row.uncertain) << row.key;
}

TEST(Ownership, AHolderTakenAfterTheLostWindowStaysCertain)
{
    Explainer ex(test::sample_info());
    ex.consume(LostEvent{1, 5, 2});
    ex.consume(grab(10, 100, 0x90, kLongPin));
    fail_migration(ex, 30, 0x90);
    Report r = std::move(ex).finish();
    // Read as a runbook would: the culprit's own field says certain.
    namespace pt = boost::property_tree;
    std::istringstream in(render_report_json(r));
    pt::ptree root;
    ASSERT_NO_THROW(pt::read_json(in, root));
    const auto& culprits = root.get_child("failures").front().second.get_child("culprits");
    ASSERT_EQ(culprits.size(), 1u);
    EXPECT_EQ(culprits.front().second.get<std::string>("certain"), "true");
    EXPECT_EQ(culprits.front().second.get<std::string>("confidence"), "certain");
}

// A page with no holder and no pin bias is named by what its flags say,
// as the recording kernel numbers them, and each kind gets its own step.
TEST(Ownership, UnexplainedPagesAreGroupedByCauseAndByWhatTheirFlagsSay)
{
    TraceInfo info = test::sample_info();
    info.page_flags = {{0, "PG_locked"}, {1, "PG_writeback"}, {2, "PG_referenced"}, {9, "PG_reserved"}};
    Explainer ex(info);
    std::vector<Event> events = test::migration_failure(40, {{0x10, 1026}, {0x11, 2}, {0x12, 2}, {0x13, 2}});
    auto flags_of = [&](uint64_t pfn, uint64_t flags) {
        for (auto& e : events)
            if (auto* f = std::get_if<FailedFolioEvent>(&e); f && f->pfn == pfn) f->page_flags = flags;
    };
    flags_of(0x11, 1u << 1 | 1u << 2);  // under writeback
    flags_of(0x12, 1u << 1);
    flags_of(0x13, 1u << 9);  // reserved
    for (const auto& e : events) ex.consume(e);
    Report r = std::move(ex).finish();
    auto groups = group_unexplained(r, r.failures[0]);
    ASSERT_EQ(groups.size(), 3u);
    EXPECT_EQ(groups[0].cause, Cause::PinnedUnknown);
    EXPECT_EQ(groups[1].why, "under writeback (PG_writeback)");
    EXPECT_EQ(groups[1].pages.size(), 2u);
    EXPECT_THAT(groups[1].next, HasSubstr("transient"));
    EXPECT_EQ(groups[2].why, "reserved (PG_reserved)");
    EXPECT_THAT(groups[2].next, HasSubstr("kernel memory never moves"));
    std::string json = render_report_json(r);
    EXPECT_THAT(json, HasSubstr("\"page_flags\":[\"PG_writeback\",\"PG_referenced\"]")) << json;
}

// The pfn table behind the ledger, against a reference map, through growth
// and the backward-shift deletions that keep it free of tombstones.
TEST(PfnTable, AgreesWithAMapUnderRandomChurn)
{
    PfnTable<PageHold> table;
    std::unordered_map<uint64_t, uint32_t> truth;
    std::mt19937_64 rng(7);
    for (int i = 0; i < 200000; ++i) {
        // Dense runs and scattered pfns, as pinned buffers and direct I/O give.
        uint64_t pfn = rng() % 4 ? 0x100000 + rng() % 5000 : rng() % (uint64_t{1} << 36);
        if (rng() % 3) {
            auto [v, fresh] = table.insert(pfn);
            EXPECT_EQ(fresh, !truth.count(pfn));
            v->count = static_cast<uint32_t>(i);
            truth[pfn] = static_cast<uint32_t>(i);
        } else if (rng() % 2) {
            EXPECT_EQ(table.erase(pfn), truth.erase(pfn) == 1);
        } else if (PageHold* v = table.find(pfn)) {  // erasing what find() returned
            table.erase(v);
            EXPECT_EQ(truth.erase(pfn), 1u);
        } else {
            EXPECT_EQ(truth.count(pfn), 0u);
        }
    }
    ASSERT_EQ(table.size(), truth.size());
    for (const auto& [pfn, count] : truth) {
        const PageHold* v = table.find(pfn);
        ASSERT_NE(v, nullptr) << pfn;
        EXPECT_EQ(v->count, count);
    }
    size_t seen = 0;
    table.for_each([&](uint64_t pfn, const PageHold& v) {
        ++seen;
        EXPECT_EQ(truth.at(pfn), v.count);
    });
    EXPECT_EQ(seen, truth.size());
}

}  // namespace
}  // namespace pintrace
