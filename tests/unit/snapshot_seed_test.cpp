// record --snapshot: the snapshot's records in the trace file, and how the
// explainer attributes pins older than the trace to the holders it inferred.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/property_tree/json_parser.hpp>
#include <boost/property_tree/ptree.hpp>
#include <sstream>

#include "capture/recorder.hpp"
#include "event_builders.hpp"
#include "explain/explainer.hpp"
#include "render/format.hpp"
#include "render/report_views.hpp"
#include "sample_trace.hpp"
#include "snapshot/seed.hpp"
#include "trace/reader.hpp"

namespace pintrace {
namespace {

using testing::HasSubstr;

using test::kLongPin;

constexpr uint64_t kSnapAt = 1500;
constexpr uint32_t kOwner = 107;

SnapshotPagesEvent seeded_pages(std::vector<uint64_t> pfns, int32_t refcount = 1025)
{
    SnapshotPagesEvent e{kSnapAt, {}};
    for (uint64_t pfn : pfns) e.pages.push_back({pfn, refcount, 1, SeedClass::MaybePinned});
    return e;
}

SnapshotHolderEvent holder(std::vector<uint64_t> pfns, bool likely = true, uint32_t pid = kOwner)
{
    return {kSnapAt,
            pid,
            likely,
            "fio",
            "/usr/bin/fio",
            likely ? "io_uring fd 5 has registered buffer 0 (0x7f0000000000, 32768 bytes; a long-term pin) on 8 pages" :
                     "maps 1 page at 0x7f0000000000 (rw-p anonymous): a mapping, not necessarily a pin",
            likely ? "io_uring_fixed_buffers" : "",
            pfns};
}

SnapshotEndEvent snapshot_end()
{
    SnapshotEndEvent e;
    e.start_ns = kSnapAt;
    e.end_ns = kSnapAt + 400;
    e.pages = 1 << 20;
    e.suspicious_total = 8;
    e.suspicious_kept = 8;
    e.processes = 40;
    e.source = "/proc/kpageflags + /proc/kpagecount + BPF refcounts";
    e.range = "all memory (System RAM in /proc/iomem)";
    e.notes = {"the pageblock's migratetype"};
    return e;
}

// A trace whose snapshot found pfns 0x200..0x207 pinned by kOwner's
// io_uring buffers, then whatever events, then a Finish.
Report explain(std::vector<Event> events, bool with_snapshot = true)
{
    Explainer ex(test::sample_info());
    if (with_snapshot) {
        ex.consume(seeded_pages({0x200, 0x201, 0x202, 0x203, 0x204, 0x205, 0x206, 0x207}));
        ex.consume(holder({0x200, 0x201, 0x202, 0x203, 0x204, 0x205, 0x206, 0x207}));
        ex.consume(snapshot_end());
    }
    for (const auto& e : events) ex.consume(e);
    ex.consume(FinishEvent{90000, 0, 0, StopReason::CommandExited, 0});
    return std::move(ex).finish();
}

boost::property_tree::ptree json_of(const Report& r)
{
    std::istringstream in(render_report_json(r));
    boost::property_tree::ptree tree;
    boost::property_tree::read_json(in, tree);
    return tree;
}

TEST(SnapshotSeed, TraceFileRoundTripJoinsSplitRecords)
{
    std::string path = ::testing::TempDir() + "/seed" + std::to_string(getpid());
    auto w = TraceWriter::create(path, test::sample_info());
    ASSERT_TRUE(w.ok());
    // More pages and pfns than one record holds: the writer splits them.
    SnapshotPagesEvent pages{kSnapAt, {}};
    for (uint64_t pfn = 0; pfn < 6000; ++pfn)
        pages.pages.push_back({0x10000 + pfn, int32_t(1025 + pfn % 3), 1, SeedClass(pfn % 3)});
    SnapshotHolderEvent big = holder({});
    for (uint64_t pfn = 0; pfn < 20000; ++pfn) big.pfns.push_back(0x10000 + pfn);
    ASSERT_TRUE(w->append(pages).ok());
    ASSERT_TRUE(w->append(big).ok());
    ASSERT_TRUE(w->append(snapshot_end()).ok());
    ASSERT_TRUE(w->finish(FinishEvent{9000, 0, 0, StopReason::Duration, -1}).ok());

    auto reader = TraceReader::open(path);
    ASSERT_TRUE(reader.ok()) << reader.error().message;
    SnapshotPagesEvent pages_back{0, {}};
    std::vector<SnapshotHolderEvent> holders_back;
    std::optional<SnapshotEndEvent> end_back;
    size_t page_records = 0;
    auto read = reader->read([&](const Event& e) {
        if (auto* p = std::get_if<SnapshotPagesEvent>(&e)) {
            ++page_records;
            pages_back.ts_ns = p->ts_ns;
            pages_back.pages.insert(pages_back.pages.end(), p->pages.begin(), p->pages.end());
        } else if (auto* h = std::get_if<SnapshotHolderEvent>(&e)) {
            holders_back.push_back(*h);
        } else if (auto* s = std::get_if<SnapshotEndEvent>(&e)) {
            end_back = *s;
        }
    });
    ASSERT_TRUE(read.ok()) << read.error().message;
    EXPECT_GT(page_records, 1u);
    ASSERT_EQ(pages_back.pages.size(), pages.pages.size());
    for (size_t i = 0; i < pages.pages.size(); ++i) {
        EXPECT_EQ(pages_back.pages[i].pfn, pages.pages[i].pfn);
        EXPECT_EQ(pages_back.pages[i].refcount, pages.pages[i].refcount);
        EXPECT_EQ(pages_back.pages[i].held_as, pages.pages[i].held_as);
    }
    ASSERT_GT(holders_back.size(), 1u);
    std::vector<uint64_t> pfns;
    for (const auto& h : holders_back) {
        EXPECT_EQ(h.pid, kOwner);
        EXPECT_TRUE(h.likely);
        EXPECT_EQ(h.exe, "/usr/bin/fio");
        EXPECT_EQ(h.origin, "io_uring_fixed_buffers");
        EXPECT_EQ(h.evidence, big.evidence);
        pfns.insert(pfns.end(), h.pfns.begin(), h.pfns.end());
    }
    EXPECT_EQ(pfns, big.pfns);
    ASSERT_TRUE(end_back);
    EXPECT_EQ(end_back->pages, 1u << 20);
    EXPECT_EQ(end_back->notes, snapshot_end().notes);
    EXPECT_EQ(end_back->range, snapshot_end().range);

    // The explainer joins the split holder records into one candidate.
    Explainer ex(reader->info());
    ASSERT_TRUE(reader->read([&](const Event& e) { ex.consume(e); }).ok());
    Report r = std::move(ex).finish();
    ASSERT_TRUE(r.snapshot);
    ASSERT_EQ(r.snapshot->holders.size(), 1u);
    EXPECT_EQ(r.snapshot->holders[0].pfns.size(), 20000u);
}

TEST(SnapshotSeed, FailureOnAPinOlderThanTheTraceGoesToTheLikelyHolder)
{
    Report r = explain(test::migration_failure(5000, {{0x201}, {0x202}}));
    ASSERT_EQ(r.failures.size(), 1u);
    const Failure& f = r.failures[0];
    ASSERT_EQ(f.pages.size(), 2u);
    for (const auto& p : f.pages) {
        EXPECT_TRUE(p.holders.empty());
        EXPECT_EQ(p.cause, Cause::PinnedUnknown);
        ASSERT_EQ(p.inferred.size(), 1u);
        ASSERT_TRUE(p.at_snapshot);
        EXPECT_EQ(p.at_snapshot->refcount, 1025);
    }
    auto groups = group_inferred(r, f.pages);
    ASSERT_EQ(groups.size(), 1u);
    EXPECT_EQ(groups[0].pid, kOwner);
    EXPECT_TRUE(groups[0].likely);
    EXPECT_EQ(groups[0].origin, Origin::IoUringBuffers);
    EXPECT_EQ(groups[0].pfns, (std::vector<uint64_t>{0x201, 0x202}));
    // Not certain: its own exit code, and no page left unexplained.
    EXPECT_TRUE(unexplained_pages(f).empty());
    EXPECT_EQ(report_exit_code(r), kExitFailuresInferred);

    std::string summary = report_summary(r);
    EXPECT_THAT(summary, HasSubstr("pinned before the trace")) << summary;
    EXPECT_THAT(summary, HasSubstr("pid 107 (fio) the likely holder of 2 page(s)")) << summary;
    EXPECT_THAT(summary, HasSubstr("inferred, not traced")) << summary;

    std::string text = test::flat(render_report_text(r));
    EXPECT_THAT(text, HasSubstr("holder INFERRED from the snapshot")) << text;
    EXPECT_THAT(text, HasSubstr("likely: 2 page(s), pid 107 (fio) /usr/bin/fio")) << text;
    EXPECT_THAT(text, HasSubstr("evidence: io_uring fd 5 has registered buffer 0")) << text;
    EXPECT_THAT(text, HasSubstr("IORING_UNREGISTER_BUFFERS")) << text;
    EXPECT_THAT(text, HasSubstr("snapshot at start")) << text;
    EXPECT_THAT(text, HasSubstr("snapshot could not see: the pageblock's migratetype")) << text;

    auto json = json_of(r);
    const auto& culprits = json.get_child("failures").front().second.get_child("culprits");
    ASSERT_EQ(culprits.size(), 2u);
    for (const auto& [_, c] : culprits) {
        EXPECT_EQ(c.get<std::string>("source"), "snapshot");
        EXPECT_EQ(c.get<std::string>("confidence"), "likely");
        EXPECT_EQ(c.get<bool>("certain"), false);
        EXPECT_EQ(c.get<uint32_t>("pid"), kOwner);
        EXPECT_EQ(c.get<std::string>("origin"), "io_uring_fixed_buffers");
        EXPECT_EQ(c.get<int>("at_snapshot.refcount"), 1025);
    }
    EXPECT_EQ(json.get<bool>("snapshot.complete"), true);
    EXPECT_EQ(json.get<uint64_t>("snapshot.held_pages"), 8u);
    // Nothing released them: all 8 are still held at the end, by the candidate.
    EXPECT_EQ(json.get<uint64_t>("snapshot.held_at_end"), 8u);
    EXPECT_EQ(json.get_child("snapshot.held_at_end_by_pid").front().second.get<uint32_t>("pid"), kOwner);
    EXPECT_THAT(text,
                HasSubstr("held since before the trace (the snapshot's inference, not traced): 8 page(s); candidates: "
                          "pid 107 (fio) 8"))
        << text;
    EXPECT_EQ(json.get_child("snapshot.candidates").size(), 1u);
}

TEST(SnapshotSeed, PageHistoryStartsWithWhatTheSnapshotFound)
{
    ExplainOptions options;
    options.history_pfns = {0x201, 0x300};
    Explainer ex(test::sample_info(), options);
    ex.consume(seeded_pages({0x201}));
    ex.consume(holder({0x201}));
    ex.consume(snapshot_end());
    for (auto& e : test::migration_failure(5000, {{0x201}})) ex.consume(e);
    Report r = std::move(ex).finish();
    ASSERT_EQ(r.history.size(), 2u);  // nothing about 0x300: the snapshot did not find it held
    EXPECT_EQ(r.history[0].what, HistoryEntry::What::Snapshot);
    EXPECT_EQ(r.history[0].task.tgid, kOwner);
    EXPECT_THAT(r.history[0].detail,
                HasSubstr("held as maybe_pinned (refcount 1025, mapcount 1); likely holder pid 107 (fio)"))
        << r.history[0].detail;
    EXPECT_EQ(r.history[1].what, HistoryEntry::What::MigrationFailed);
    std::string text = test::flat(render_history_text(r));
    EXPECT_THAT(text, HasSubstr("snapshot (inferred, not traced): held as maybe_pinned")) << text;
}

TEST(SnapshotSeed, TracedHolderIsCertainAndWinsOverTheSnapshot)
{
    std::vector<Event> events{test::grab(3000, 555, 0x203, kLongPin, 1, "qemu")};
    for (auto& e : test::migration_failure(5000, {{0x203, 2050}})) events.push_back(e);
    Report r = explain(events);
    ASSERT_EQ(r.failures.size(), 1u);
    const StuckPage& p = r.failures[0].pages[0];
    ASSERT_EQ(p.holders.size(), 1u);
    EXPECT_EQ(p.holders[0].task.tgid, 555u);
    EXPECT_TRUE(p.inferred.empty());
    EXPECT_EQ(report_exit_code(r), kExitFailuresExplained);
    auto json = json_of(r);
    const auto& c = json.get_child("failures").front().second.get_child("culprits").front().second;
    EXPECT_EQ(c.get<std::string>("source"), "trace");
    EXPECT_EQ(c.get<std::string>("confidence"), "certain");
}

TEST(SnapshotSeed, ReleaseOfTheOldPinAfterTheSnapshotEndsTheInference)
{
    // The untraced pin on 0x201 is released (no grab matches it) before the
    // failure: the snapshot's holder no longer holds it.
    std::vector<Event> events{test::release(3000, kOwner, 0x201, kFlagPin)};
    for (auto& e : test::migration_failure(5000, {{0x201}})) events.push_back(e);
    Report r = explain(events);
    const StuckPage& p = r.failures[0].pages[0];
    EXPECT_TRUE(p.inferred.empty());
    EXPECT_EQ(p.cause, Cause::PinnedUnknown);
    EXPECT_EQ(report_exit_code(r), kExitFailuresUnexplained);
    EXPECT_EQ(r.snapshot->released_in_trace, 1u);
    EXPECT_EQ(r.snapshot->held_at_end, 7u);
}

TEST(SnapshotSeed, ReleaseOlderThanTheSnapshotIsAlreadyInItsCounts)
{
    // Records from before the snapshot reach the ledger after it (the
    // recorder writes the snapshot first): they must not undo it.
    std::vector<Event> events{test::release(kSnapAt - 100, kOwner, 0x201, kFlagPin)};
    for (auto& e : test::migration_failure(5000, {{0x201}})) events.push_back(e);
    Report r = explain(events);
    EXPECT_EQ(r.failures[0].pages[0].inferred.size(), 1u);
    EXPECT_EQ(r.snapshot->released_in_trace, 0u);
}

TEST(SnapshotSeed, AFreedPageHasNoInferredHolder)
{
    PageFreedEvent freed;
    freed.head = test::head(4000, 1, "kswapd0");
    freed.pfn = 0x204;
    freed.nr_pages = 4;  // 0x204..0x207
    std::vector<Event> events{freed};
    for (auto& e : test::migration_failure(5000, {{0x203}, {0x206}})) events.push_back(e);
    Report r = explain(events);
    EXPECT_EQ(r.failures[0].pages[0].inferred.size(), 1u);
    EXPECT_TRUE(r.failures[0].pages[1].inferred.empty());
    EXPECT_EQ(r.snapshot->released_in_trace, 4u);
}

TEST(SnapshotSeed, CountsThatNoLongerShowAPinAreNotBlamedOnTheSnapshot)
{
    // refcount 2: a mapping plus isolation; whatever pinned it is gone.
    Report r = explain(test::migration_failure(5000, {{0x201, 2}}));
    const StuckPage& p = r.failures[0].pages[0];
    EXPECT_TRUE(p.inferred.empty());
    EXPECT_EQ(p.cause, Cause::NoHolderSeen);
}

TEST(SnapshotSeed, IsolationWithoutCountsTakesTheSnapshotsPinAndListsTheRestOfTheRange)
{
    Report r = explain({test::isolation(5000, 0x200, 0x400, 0x202)});
    ASSERT_EQ(r.failures.size(), 1u);
    const Failure& f = r.failures[0];
    ASSERT_EQ(f.pages.size(), 1u);
    EXPECT_EQ(f.pages[0].cause, Cause::PinnedUnknown);
    EXPECT_EQ(f.pages[0].inferred.size(), 1u);
    // The other seven would stop the next attempt.
    EXPECT_EQ(f.held_in_range_total, 7u);
    for (const auto& p : f.held_in_range) EXPECT_EQ(p.inferred.size(), 1u);
    EXPECT_THAT(failure_sentence(r, f), HasSubstr("the snapshot at the start infers pid 107 (fio)"))
        << failure_sentence(r, f);
}

TEST(SnapshotSeed, APinTracedWhileTheSnapshotRanIsReleasedFromItsCountsToo)
{
    // Taken after the snapshot began, before it ended: the snapshot may have
    // counted it. Its release (matched in the ledger) takes it from both.
    Explainer ex(test::sample_info());
    ex.consume(SnapshotPagesEvent{kSnapAt, {{0x500, 1025, 1, SeedClass::MaybePinned}}});
    ex.consume(holder({0x500}, false, 77));
    ex.consume(snapshot_end());  // kSnapAt .. kSnapAt + 400
    ex.consume(test::grab(kSnapAt + 100, 77, 0x500, kLongPin, 1, "db"));
    ex.consume(test::release(3000, 77, 0x500, kFlagPin));
    ex.consume(test::isolation(5000, 0x500, 0x600, 0x500));
    Report r = std::move(ex).finish();
    ASSERT_EQ(r.failures.size(), 1u);
    EXPECT_TRUE(r.failures[0].pages[0].inferred.empty());
    EXPECT_EQ(r.snapshot->released_in_trace, 1u);
    EXPECT_EQ(r.snapshot->held_at_end, 0u);
    EXPECT_EQ(report_exit_code(r), kExitFailuresUnexplained);
}

CmaEvent cma(uint64_t ts, CmaEvent::Op op, uint64_t pfn = 0, uint64_t count = 0)
{
    CmaEvent e;
    e.head = test::head(ts, 900, "cma-user");
    e.op = op;
    e.pfn = pfn;
    e.count = count;
    e.area = "reserved";
    return e;
}

TEST(SnapshotSeed, ACmaFailureOnlyTheSnapshotExplainsIsInferredNotCertain)
{
    Report r = explain({cma(5000, CmaEvent::Op::AllocStart, 0, 512), cma(5001, CmaEvent::Op::BusyRetry, 0x200, 512),
                        cma(5002, CmaEvent::Op::AllocEnd)});
    ASSERT_EQ(r.failures.size(), 1u);
    const Failure& f = r.failures[0];
    EXPECT_TRUE(f.pages.empty());
    EXPECT_EQ(f.held_in_range_total, 8u);
    EXPECT_EQ(report_exit_code(r), kExitFailuresInferred);
    EXPECT_THAT(report_summary(r), HasSubstr("the likely holder of 8 page(s)")) << report_summary(r);

    // A page the snapshot found held with nobody to name: unexplained, and said so.
    Explainer ex(test::sample_info());
    ex.consume(seeded_pages({0x300}));
    ex.consume(snapshot_end());
    for (const auto& e : {cma(5000, CmaEvent::Op::AllocStart, 0, 512), cma(5001, CmaEvent::Op::BusyRetry, 0x300, 512),
                          cma(5002, CmaEvent::Op::AllocEnd)})
        ex.consume(e);
    Report lone = std::move(ex).finish();
    EXPECT_EQ(report_exit_code(lone), kExitFailuresUnexplained);
    std::string text = test::flat(render_report_text(lone));
    EXPECT_THAT(text,
                HasSubstr("1 page(s) held since before the trace (the snapshot's counts), no candidate holder: 0x300"))
        << text;
    EXPECT_EQ(json_of(lone).get_child("failures").front().second.get_child("held_in_range_no_holder").size(), 1u);
}

TEST(SnapshotSeed, ARegisteredPageIsLikelyAndAMappedOneOfTheSameProcessOnlyPossible)
{
    Explainer ex(test::sample_info());
    ex.consume(seeded_pages({0x600, 0x601}));
    ex.consume(holder({0x600}));  // io_uring registration: likely
    ex.consume(holder({0x600, 0x601}, false));  // a mapping of both: possible
    ex.consume(snapshot_end());
    for (auto& e : test::migration_failure(5000, {{0x600}, {0x601}})) ex.consume(e);
    Report r = std::move(ex).finish();
    auto groups = group_inferred(r, r.failures[0].pages);
    ASSERT_EQ(groups.size(), 2u);
    EXPECT_TRUE(groups[0].likely);
    EXPECT_EQ(groups[0].pfns, (std::vector<uint64_t>{0x600}));
    EXPECT_EQ(groups[0].origin, Origin::IoUringBuffers);
    EXPECT_FALSE(groups[1].likely);
    EXPECT_EQ(groups[1].pfns, (std::vector<uint64_t>{0x601}));
    EXPECT_EQ(groups[1].origin, Origin::Unknown);
    std::string text = test::flat(render_report_text(r));
    EXPECT_THAT(text, HasSubstr("likely: 1 page(s), pid 107 (fio)")) << text;
    EXPECT_THAT(text, HasSubstr("possible: 1 page(s), pid 107 (fio)")) << text;
}

TEST(SnapshotSeed, APossibleHolderIsNotToldToReleaseWhatItMayNotHold)
{
    Explainer ex(test::sample_info());
    ex.consume(seeded_pages({0x700}));
    ex.consume(holder({0x700}, false, 33));
    ex.consume(snapshot_end());
    for (auto& e : test::migration_failure(5000, {{0x700}})) ex.consume(e);
    std::string summary = report_summary(std::move(ex).finish());
    EXPECT_THAT(summary,
                HasSubstr("the possible holder of 1 page(s) (it maps them; inferred, not traced): it only maps them, "
                          "which is not proof"))
        << summary;
}

TEST(SnapshotSeed, AMappingAloneIsOnlyPossible)
{
    Explainer ex(test::sample_info());
    ex.consume(seeded_pages({0x300}, 7));  // extra references, not a pin
    ex.consume(SnapshotPagesEvent{kSnapAt, {{0x300, 7, 1, SeedClass::ExtraRefs}}});
    ex.consume(holder({0x300}, false, 33));
    ex.consume(snapshot_end());
    for (auto& e : test::migration_failure(5000, {{0x300, 7}})) ex.consume(e);
    Report r = std::move(ex).finish();
    auto groups = group_inferred(r, r.failures[0].pages);
    ASSERT_EQ(groups.size(), 1u);
    EXPECT_FALSE(groups[0].likely);
    EXPECT_EQ(confidence_word(groups[0]), "possible");
    EXPECT_EQ(r.failures[0].pages[0].cause, Cause::ExtraRefUnknown);
    EXPECT_THAT(inferred_next_step(groups[0]), HasSubstr("not proof"));
}

TEST(SnapshotSeed, ASnapshotCutShortIsSaidSo)
{
    Explainer ex(test::sample_info());
    ex.consume(seeded_pages({0x200}));
    for (auto& e : test::migration_failure(5000, {{0x200}})) ex.consume(e);
    Report r = std::move(ex).finish();
    ASSERT_TRUE(r.snapshot);
    EXPECT_FALSE(r.snapshot->end);
    EXPECT_THAT(render_report_text(r), HasSubstr("CUT SHORT"));
    EXPECT_EQ(json_of(r).get<bool>("snapshot.complete"), false);
}

TEST(SnapshotSeed, AFailedSnapshotIsNamedAndInfersNothing)
{
    Explainer ex(test::sample_info());
    SnapshotEndEvent failed;
    failed.start_ns = kSnapAt;
    failed.end_ns = kSnapAt + 10;
    failed.notes = {"snapshot failed: /proc/kpageflags: Permission denied"};
    ex.consume(failed);
    for (auto& e : test::migration_failure(5000, {{0x200}})) ex.consume(e);
    Report r = std::move(ex).finish();
    EXPECT_TRUE(r.failures[0].pages[0].inferred.empty());
    EXPECT_EQ(report_exit_code(r), kExitFailuresUnexplained);
    std::string text = test::flat(render_report_text(r));
    EXPECT_THAT(text, HasSubstr("snapshot at start: none (snapshot failed: /proc/kpageflags: Permission denied)"))
        << text;
}

TEST(SnapshotSeed, WithoutASnapshotPinsFromBeforeTheTraceStayUnexplained)
{
    Report r = explain(test::migration_failure(5000, {{0x201}}), false);
    EXPECT_FALSE(r.snapshot);
    EXPECT_EQ(report_exit_code(r), kExitFailuresUnexplained);
    EXPECT_EQ(json_of(r).get_child("snapshot").data(), "null");  // boost reads a JSON null so
}

TEST(SnapshotSeed, RecordsFromASnapshotAndItsOwners)
{
    using namespace snapshot;
    SnapshotResult snap;
    snap.source = "/proc/kpageflags + /proc/kpagecount";
    snap.blind = {"the refcount"};
    snap.spans.push_back({{0x200, 0x300, "System RAM"}, {}});
    auto page = [](uint64_t pfn, PageClass c) {
        SuspiciousPage p;
        p.state.pfn = pfn;
        p.state.refcount = 1025;
        p.state.mapcount = 1;
        p.verdict.cls = c;
        return p;
    };
    snap.suspicious = {page(0x200, PageClass::Pinned), page(0x201, PageClass::MaybePinned),
                       page(0x202, PageClass::ExtraRefs), page(0x203, PageClass::Unmovable)};
    snap.suspicious_total = 6;
    OwnerScan owners;
    owners.processes = 12;
    Candidate c;
    c.pid = kOwner;
    c.comm = "fio";
    c.confidence = Confidence::Likely;
    c.evidence = {{"io_uring fd 5 has registered buffer 0 (0x7f, 4096 bytes; a long-term pin) on 1 page",
                   {0x200},
                   true,
                   Origin::IoUringBuffers,
                   true},
                  {"maps 2 pages at 0x7f (rw-p anonymous): a mapping, not necessarily a pin", {0x200, 0x201}}};
    owners.candidates.push_back(c);
    owners.notes = {"pid 9 unreadable"};

    SeedRecords s = seed_records(snap, owners, 100, 900, "all memory");
    ASSERT_EQ(s.pages.pages.size(), 3u);  // the unmovable page is nobody's pin
    EXPECT_EQ(s.pages.pages[0].held_as, SeedClass::Pinned);
    EXPECT_EQ(s.pages.pages[1].held_as, SeedClass::MaybePinned);
    EXPECT_EQ(s.pages.pages[2].held_as, SeedClass::ExtraRefs);
    ASSERT_EQ(s.holders.size(), 2u);
    EXPECT_TRUE(s.holders[0].likely);
    EXPECT_EQ(s.holders[0].origin, "io_uring_fixed_buffers");
    // The same process's mapping of an unregistered page is only possible.
    EXPECT_FALSE(s.holders[1].likely);
    EXPECT_EQ(s.holders[1].origin, "");
    EXPECT_EQ(s.end.suspicious_total, 6u);
    EXPECT_EQ(s.end.processes, 12u);
    EXPECT_EQ(s.end.start_ns, 100u);
    EXPECT_EQ(s.end.end_ns, 900u);
    // Both blind spots, and that pages were left without a holder.
    ASSERT_GE(s.end.notes.size(), 3u);
    EXPECT_EQ(s.end.notes[0], "the refcount");
    EXPECT_EQ(s.end.notes[1], "pid 9 unreadable");
    EXPECT_THAT(s.end.notes[2], HasSubstr("4 of 6")) << s.end.notes[2];
}

// Records a sink passes on, by kind, in order.
struct ListSink : RecordSink {
    std::vector<std::string> seen;
    Result<void> append_kernel_record(std::span<const std::byte> r) override
    {
        seen.push_back("kernel" + std::to_string(r.size()));
        return {};
    }
    Result<void> append(const StackEvent& s) override
    {
        seen.push_back("stack" + std::to_string(s.id));
        return {};
    }
    Result<void> append(const LostEvent& l) override
    {
        seen.push_back("lost" + std::to_string(l.count));
        return {};
    }
    Result<void> append(const ProcessInfoEvent& p) override
    {
        seen.push_back("process" + std::to_string(p.tgid));
        return {};
    }
};

TEST(SnapshotSeed, HoldingSinkPastItsBoundDropsAndSaysSoAsALostWindow)
{
    ListSink out;
    HoldingSink holding(out, 60);
    auto record = [](uint64_t ts) {
        std::vector<std::byte> r(sizeof(pt_header));
        pt_header h{};
        h.ts_ns = ts;
        std::memcpy(r.data(), &h, sizeof h);
        return r;
    };
    ASSERT_TRUE(holding.append_kernel_record(record(10)).ok());
    ASSERT_TRUE(holding.append_kernel_record(record(20)).ok());  // 2 x 48 > 60: dropped
    ASSERT_TRUE(holding.append_kernel_record(record(30)).ok());
    ASSERT_TRUE(holding.release().ok());
    EXPECT_EQ(out.seen, (std::vector<std::string>{"kernel48", "lost2"}));
}

TEST(SnapshotSeed, HoldingSinkKeepsOrderAndPassesThroughOnceReleased)
{
    ListSink out;
    HoldingSink holding(out);
    std::byte rec[16] = {};
    ASSERT_TRUE(holding.append_kernel_record(rec).ok());
    ASSERT_TRUE(holding.append(StackEvent{7, StackKind::Kernel, 0, {}}).ok());
    ASSERT_TRUE(holding.append(LostEvent{1, 2, 3}).ok());
    ASSERT_TRUE(holding.append(ProcessInfoEvent{1, 42, "", ""}).ok());
    EXPECT_TRUE(out.seen.empty());
    EXPECT_EQ(holding.held_bytes(), 16u);
    out.seen.push_back("snapshot");
    ASSERT_TRUE(holding.release().ok());
    ASSERT_TRUE(holding.append_kernel_record(std::span(rec, 8)).ok());
    EXPECT_EQ(out.seen, (std::vector<std::string>{"snapshot", "kernel16", "stack7", "lost3", "process42", "kernel8"}));
}

}  // namespace
}  // namespace pintrace
