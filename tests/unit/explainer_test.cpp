#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/property_tree/json_parser.hpp>
#include <boost/property_tree/ptree.hpp>
#include <set>
#include <sstream>

#include "event_builders.hpp"
#include "explain/explainer.hpp"
#include "render/format.hpp"
#include "render/report_views.hpp"
#include "sample_trace.hpp"
#include "trace/reader.hpp"

namespace pintrace {
namespace {

using testing::HasSubstr;
using testing::Not;

Report explain_sample(bool walk = true)
{
    std::string path = ::testing::TempDir() + "/explain" + std::to_string(getpid()) + (walk ? "w" : "n");
    auto w = TraceWriter::create(path, test::sample_info(walk));
    EXPECT_TRUE(w.ok());
    test::write_sample(w.value(), walk);
    EXPECT_TRUE(w->finish(FinishEvent{9000, 0, 0, StopReason::CommandExited, 0}).ok());
    auto reader = TraceReader::open(path);
    EXPECT_TRUE(reader.ok());
    Explainer ex(reader->info());
    EXPECT_TRUE(reader->read([&](const Event& e) { ex.consume(e); }).ok());
    return std::move(ex).finish();
}

TEST(Explainer, BlamesExactlyTheHoldersOfTheFailedPages)
{
    Report r = explain_sample();
    ASSERT_EQ(r.failures.size(), 1u);
    const Failure& f = r.failures[0];
    EXPECT_EQ(f.reason, "syscall_or_cpuset");
    EXPECT_TRUE(f.pfns_observed);
    ASSERT_EQ(f.pages.size(), 3u);
    for (const auto& p : f.pages) {
        ASSERT_EQ(p.holders.size(), 1u) << format_pfn(p.pfn);
        EXPECT_EQ(p.holders[0].task.tgid, 4242u);
        EXPECT_EQ(p.cause, Cause::LongtermPin);
    }
    EXPECT_EQ(report_exit_code(r), kExitFailuresExplained);
}

TEST(Explainer, APinReleasedBeforeTheMigrationIsNotBlamed)
{
    Report r = explain_sample();
    for (const auto& p : r.failures[0].pages) EXPECT_NE(p.pfn, 0x102u);
    EXPECT_EQ(r.stats.pages_held_at_end, 3u);
    EXPECT_EQ(r.stats.cross_task_releases, 1u);  // the kworker
}

TEST(Explainer, WithoutTheListWalkFailuresCarryCountsOnlyAndSaySo)
{
    Report r = explain_sample(false);
    ASSERT_EQ(r.failures.size(), 1u);
    EXPECT_FALSE(r.failures[0].pfns_observed);
    EXPECT_TRUE(r.failures[0].pages.empty());
    EXPECT_EQ(report_exit_code(r), kExitFailuresUnexplained);
    EXPECT_THAT(test::flat(render_report_text(r)), HasSubstr("not observable"));
    EXPECT_THAT(test::flat(render_report_text(r)), HasSubstr("DEGRADED"));
}

TEST(Explainer, TwoOwnersOfOnePageAreTwoCulprits)
{
    Explainer ex(test::sample_info());
    ex.consume(test::grab(10, 100, 0x50, test::kLongPin, 1, "qemu"));
    ex.consume(test::grab(20, 200, 0x50, kFlagPin | kFlagLongterm, 1, "rdma-app"));
    MigrateEvent m;
    m.head = test::head(30, 300, "kcompactd0");
    m.failed = 1;
    m.reason = 0;
    ex.consume(m);
    FailedFolioEvent f;
    f.head = m.head;
    f.pfn = 0x50;
    f.refcount = 2050;
    ex.consume(f);
    MigrateEndEvent end;
    end.head = m.head;
    ex.consume(end);
    Report r = std::move(ex).finish();
    ASSERT_EQ(r.failures.size(), 1u);
    EXPECT_EQ(r.failures[0].reason, "compaction");
    ASSERT_EQ(r.failures[0].pages[0].holders.size(), 2u);
    EXPECT_EQ(group_culprits(r, r.failures[0]).size(), 2u);
}

TEST(Explainer, StuckPageWithoutHolderIsClassifiedFromItsCounts)
{
    StuckPage pinned{0x1, 1026, 1, 0, {}, Cause::NoHolderSeen};
    EXPECT_EQ(classify(pinned), Cause::PinnedUnknown);
    StuckPage extra{0x1, 3, 1, 0, {}, Cause::NoHolderSeen};
    EXPECT_EQ(classify(extra), Cause::ExtraRefUnknown);
    StuckPage plain{0x1, 2, 1, 0, {}, Cause::NoHolderSeen};
    EXPECT_EQ(classify(plain), Cause::NoHolderSeen);
    Holder get;
    get.flags = kFlagGet;
    StuckPage referenced{0x1, 3, 1, 0, {get}, Cause::NoHolderSeen};
    EXPECT_EQ(classify(referenced), Cause::Reference);
}

TEST(Explainer, AMigrationThatSucceededIsNotAFailure)
{
    Explainer ex(test::sample_info());
    MigrateEvent m;
    m.head = test::head(30, 300, "numactl");
    m.succeeded = 16;
    ex.consume(m);
    MigrateEndEvent end;
    end.head = m.head;
    ex.consume(end);
    Report r = std::move(ex).finish();
    EXPECT_TRUE(r.failures.empty());
    EXPECT_EQ(report_exit_code(r), kExitOk);
}

TEST(Explainer, LostEventsBeforeAFailureAreFlagged)
{
    Explainer ex(test::sample_info());
    ex.consume(test::grab(10, 100, 0x50, test::kLongPin));
    ex.consume(LostEvent{12, 20, 5});
    MigrateEvent m;
    m.head = test::head(30, 300, "numactl");
    m.failed = 1;
    ex.consume(m);
    FailedFolioEvent f;
    f.head = m.head;
    f.pfn = 0x50;
    ex.consume(f);
    MigrateEndEvent end;
    end.head = m.head;
    ex.consume(end);
    Report r = std::move(ex).finish();
    EXPECT_EQ(r.lost_total, 5u);
    EXPECT_TRUE(r.lost_between(r.first_ns, r.failures[0].head.ts_ns));
    EXPECT_THAT(test::flat(render_report_text(r)), HasSubstr("LOST EVENTS: 5"));
}

// The JSON contract of docs/report-json.md, checked by parsing it.
TEST(ReportJson, FollowsTheDocumentedSchema)
{
    namespace pt = boost::property_tree;
    Report r = explain_sample();
    std::istringstream in(render_report_json(r));
    pt::ptree root;
    ASSERT_NO_THROW(pt::read_json(in, root));
    EXPECT_EQ(root.get<std::string>("schema"), "pintrace.report/1");
    EXPECT_EQ(root.get<int>("exit_code"), 3);
    EXPECT_EQ(root.get<std::string>("trace.kernel_release"), "6.1.0-50-cloud-amd64");
    EXPECT_EQ(root.get<bool>("capture.complete"), true);
    const auto& failures = root.get_child("failures");
    ASSERT_EQ(failures.size(), 1u);
    const auto& f = failures.begin()->second;
    EXPECT_EQ(f.get<std::string>("reason"), "syscall_or_cpuset");
    std::set<uint64_t> pfns;
    for (const auto& c : f.get_child("culprits")) {
        const auto& culprit = c.second;
        pfns.insert(culprit.get<uint64_t>("pfn"));
        EXPECT_EQ(culprit.get<int>("pid"), 4242);
        EXPECT_EQ(culprit.get<std::string>("comm"), "qemu-kvm");
        std::set<std::string> flags;
        for (const auto& fl : culprit.get_child("flags")) flags.insert(fl.second.data());
        EXPECT_EQ(flags, (std::set<std::string>{"FOLL_PIN", "FOLL_LONGTERM", "FOLL_WRITE"}));
        EXPECT_GT(culprit.get<uint64_t>("pinned_at_ns"), 0u);
        EXPECT_EQ(culprit.get_child("stack").begin()->second.data(), "try_grab_page+0x10");
    }
    EXPECT_EQ(pfns, (std::set<uint64_t>{0x100, 0x101, 0x103}));
}

TEST(ReportText, LeadsWithTheSummaryAndTheNextStep)
{
    std::string text = test::flat(render_report_text(explain_sample()));
    EXPECT_THAT(
        text,
        HasSubstr("SUMMARY: 1 migration(s) failed, 3 page(s) stuck; pid 4242 (qemu-kvm) holds 3 of them as io_uring "
                  "fixed buffers since 11:06:40: unregister the buffers (IORING_UNREGISTER_BUFFERS) or restart it."))
        << text;
    EXPECT_THAT(text, HasSubstr("IORING_UNREGISTER_BUFFERS")) << text;
    EXPECT_THAT(text, HasSubstr("io_sqe_buffer_register"));
}

}  // namespace
}  // namespace pintrace

namespace pintrace {
namespace {

TEST(Explainer, AnAbortedMigrationsUntriedPagesAreNotCalledStuck)
{
    Explainer ex(test::sample_info());
    ex.consume(test::grab(10, 100, 0x51, test::kLongPin));
    MigrateEvent m;
    m.head = test::head(30, 300, "kcompactd0");
    m.failed = 1;
    ex.consume(m);
    for (uint64_t pfn : {0x50, 0x51, 0x52}) {
        FailedFolioEvent f;
        f.head = m.head;
        f.pfn = pfn;
        f.refcount = 2;
        f.mapcount = 1;
        ex.consume(f);
    }
    MigrateEndEvent end;
    end.head = m.head;
    end.ret = -12;  // ENOMEM: no free target pages
    ex.consume(end);
    Report r = std::move(ex).finish();
    ASSERT_EQ(r.failures.size(), 1u);
    EXPECT_TRUE(r.failures[0].aborted());
    EXPECT_EQ(r.failures[0].pages[0].cause, Cause::NotAttempted);
    EXPECT_EQ(r.failures[0].pages[1].holders.size(), 1u);  // a held page is still named
    EXPECT_THAT(test::flat(render_report_text(r)), HasSubstr("gave up with ENOMEM"));
    EXPECT_THAT(render_report_json(r), HasSubstr("\"aborted\":true"));
}

}  // namespace
}  // namespace pintrace

namespace pintrace {
namespace {

TEST(Explainer, SampledStacksAreSaidToBeSampled)
{
    std::string path = ::testing::TempDir() + "/sampled" + std::to_string(getpid());
    auto w = TraceWriter::create(path, test::sample_info());
    ASSERT_TRUE(w.ok());
    pt_grab g{};
    g.h = test::raw_head(PT_REC_GRAB, sizeof g, PT_HOOK_TRY_GRAB_FOLIO_FAST, 100, 55, "dio");
    g.pfn = 0x70;
    g.nr_pages = 1;
    g.count = 1;
    g.gup_flags = test::k61Get;
    g.kstack_id = 1;
    g.ustack_id = -14;
    g.stack_flags = PT_STACK_SAMPLED;
    ASSERT_TRUE(w->append_kernel_record(test::bytes_of(g)).ok());
    ASSERT_TRUE(w->append(StackEvent{1, StackKind::Kernel, 0, {{0x1, "bio_iov_iter_get_pages+0x70"}}}).ok());
    ASSERT_TRUE(w->append_kernel_record(test::raw_migrate(200, 9, 0, 1)).ok());
    ASSERT_TRUE(w->append_kernel_record(test::raw_failed(201, 9, 0x70, 3, 0)).ok());
    ASSERT_TRUE(w->append_kernel_record(test::raw_end(202, 9, 1, 1)).ok());
    ASSERT_TRUE(w->finish(FinishEvent{}).ok());
    auto reader = TraceReader::open(path);
    ASSERT_TRUE(reader.ok());
    Explainer ex(reader->info());
    ASSERT_TRUE(reader->read([&](const Event& e) { ex.consume(e); }).ok());
    Report r = std::move(ex).finish();
    ASSERT_EQ(r.failures.size(), 1u);
    ASSERT_EQ(r.failures[0].pages[0].holders.size(), 1u);
    EXPECT_TRUE(r.failures[0].pages[0].holders[0].stack_sampled);
    EXPECT_THAT(render_report_json(r), HasSubstr("\"stack_sampled\":true"));
    EXPECT_THAT(test::flat(render_report_text(r)), HasSubstr("stacks sampled"));
    EXPECT_THAT(test::flat(render_report_text(r)), HasSubstr("direct I/O in flight"));
    // refcount 3, mapcount 1: one reference beyond isolation and the mapping.
    EXPECT_THAT(render_report_json(r), HasSubstr("\"release_observable\":false,\"refcount_confirms\":true"));
    EXPECT_THAT(test::flat(render_report_text(r)), HasSubstr("extra reference on 1 of 1 page(s)"));
}

}  // namespace
}  // namespace pintrace

namespace pintrace {
namespace {

// Shaped like a CMA allocation (alloc_contig_range) that dies at isolation
// on a page a process pinned: the only kernel evidence is the busy pfn.
TEST(Explainer, AnIsolationFailureIsExplainedByTheBusyPagesHolder)
{
    Explainer ex(test::sample_info());
    ex.consume(test::grab(10, 4242, 0x8123, test::kLongPin, 1, "rdma-app"));
    ex.consume(test::isolation(50, 0x8000, 0x8400, 0x8123));
    Report r = std::move(ex).finish();
    ASSERT_EQ(r.failures.size(), 1u);
    EXPECT_EQ(r.failures[0].kind, Failure::Kind::Isolation);
    ASSERT_EQ(r.failures[0].pages.size(), 1u);
    ASSERT_EQ(r.failures[0].pages[0].holders.size(), 1u);
    EXPECT_EQ(r.failures[0].pages[0].holders[0].task.tgid, 4242u);
    std::string json = render_report_json(r);
    EXPECT_THAT(json, HasSubstr("\"kind\":\"isolation\""));
    EXPECT_THAT(json, HasSubstr("\"range_start_pfn\":32768"));
    EXPECT_THAT(test::flat(render_report_text(r)), HasSubstr("could not be isolated"));
    EXPECT_EQ(report_exit_code(r), kExitFailuresExplained);
}

// A range refused when isolation began (start_isolate_page_range: a page
// the kernel will not move) is named, with the page where the kernel says
// which; held pages of the range are not its reason, and nothing is blamed.
TEST(Explainer, ARangeRefusedAtIsolationNamesTheUnmovablePageNotItsHolders)
{
    Explainer ex(test::sample_info());
    ex.consume(test::grab(10, 4242, 0x8200, test::kLongPin, 1, "rdma-app"));
    ex.consume(test::isolation_refused(50, 0x8000, 0x8400, 0x8123));
    Report r = std::move(ex).finish();
    ASSERT_EQ(r.failures.size(), 1u);
    const Failure& f = r.failures[0];
    EXPECT_TRUE(f.refused_at_isolation);
    ASSERT_EQ(f.pages.size(), 1u);
    EXPECT_EQ(f.pages[0].pfn, 0x8123u);
    EXPECT_EQ(f.pages[0].cause, Cause::Unmovable);
    EXPECT_TRUE(f.pages[0].holders.empty());
    EXPECT_TRUE(f.held_in_range.empty());
    std::string text = test::flat(render_report_text(r));
    EXPECT_THAT(text, HasSubstr("refused at isolation (EBUSY")) << text;
    EXPECT_THAT(text, HasSubstr("pfn 0x8123")) << text;
    EXPECT_THAT(failure_sentence(r, f), Not(HasSubstr("rdma-app"))) << failure_sentence(r, f);
    std::string json = render_report_json(r);
    EXPECT_THAT(json, HasSubstr("\"refused_at_isolation\":true"));
    EXPECT_THAT(json, HasSubstr("\"cause\":\"unmovable_at_isolation\""));
    EXPECT_EQ(report_exit_code(r), kExitFailuresUnexplained);
}

// Where the kernel inlines has_unmovable_pages() (6.x), the refusal names
// the range only, and says that it cannot name the page.
TEST(Explainer, ARangeRefusedAtIsolationWithoutItsPageSaysSo)
{
    Explainer ex(test::sample_info());
    ex.consume(test::isolation_refused(50, 0x40000, 0x80000, std::nullopt));
    Report r = std::move(ex).finish();
    ASSERT_EQ(r.failures.size(), 1u);
    EXPECT_TRUE(r.failures[0].pages.empty());
    EXPECT_FALSE(r.failures[0].pfns_observed);
    std::string text = test::flat(render_report_text(r));
    EXPECT_THAT(text, HasSubstr("pfns 0x40000-0x80000 refused at isolation")) << text;
    EXPECT_THAT(text, HasSubstr("does not say which page")) << text;
    EXPECT_EQ(report_exit_code(r), kExitFailuresUnexplained);
}

// A gigantic page whose allocator skipped every range (5.10: pages in use;
// 7.x: unmovable ones) fails with no isolation and no migration: the
// failure is named, and said to be unexplained.
TEST(Explainer, AContiguousAllocationThatTriedNoRangeIsNamedAndUnexplained)
{
    Explainer ex(test::sample_info());
    ex.consume(test::contig(40, ContigAllocEvent::Op::Start));
    ex.consume(test::contig(60, ContigAllocEvent::Op::End));
    Report r = std::move(ex).finish();
    ASSERT_EQ(r.failures.size(), 1u);
    const Failure& f = r.failures[0];
    EXPECT_EQ(f.kind, Failure::Kind::ContigAlloc);
    EXPECT_EQ(f.ranges_tried, 0u);
    std::string text = test::flat(render_report_text(r));
    EXPECT_THAT(text, HasSubstr("contiguous allocation of 262144 pages (1024 MiB) on node 1")) << text;
    EXPECT_THAT(text, HasSubstr("without trying a range")) << text;
    EXPECT_THAT(render_report_json(r), HasSubstr("\"kind\":\"contig_alloc\""));
    EXPECT_EQ(report_exit_code(r), kExitFailuresUnexplained);
}

// The ranges it tried failed isolation on their own: those failures
// explain it, and the exit status is theirs.
TEST(Explainer, AContiguousAllocationCountsTheRangesItTried)
{
    Explainer ex(test::sample_info());
    ex.consume(test::grab(10, 4242, 0x140000, test::kLongPin, 1, "iouring"));
    ex.consume(test::contig(40, ContigAllocEvent::Op::Start));
    // 7.x: the wrapper calls the frozen variant, both hooked.
    ex.consume(test::contig(41, ContigAllocEvent::Op::Start));
    ex.consume(test::isolation(50, 0x140000, 0x180000, 0x140000));
    ex.consume(test::contig(59, ContigAllocEvent::Op::End));
    ex.consume(test::contig(60, ContigAllocEvent::Op::End));
    Report r = std::move(ex).finish();
    ASSERT_EQ(r.failures.size(), 2u);
    EXPECT_EQ(r.failures[0].kind, Failure::Kind::Isolation);
    EXPECT_EQ(r.failures[1].kind, Failure::Kind::ContigAlloc);
    EXPECT_EQ(r.failures[1].ranges_tried, 1u);
    EXPECT_EQ(report_exit_code(r), kExitFailuresExplained);
}

TEST(Explainer, AContiguousAllocationThatSucceededIsNotAFailure)
{
    Explainer ex(test::sample_info());
    ex.consume(test::contig(40, ContigAllocEvent::Op::Start));
    ex.consume(test::contig(60, ContigAllocEvent::Op::End, 262144, 1, 0x140000));
    EXPECT_TRUE(std::move(ex).finish().failures.empty());
}

// A CMA allocation moves on to its next range after a refusal: the range is
// one of the allocation's, not a failure of its own.
TEST(Explainer, ARefusalInsideACmaAllocationJoinsIt)
{
    Explainer ex(test::sample_info());
    CmaEvent start;
    start.head = test::head(40, 1, "cma-user");
    start.op = CmaEvent::Op::AllocStart;
    start.area = "hugetlb1";
    start.count = 512;
    ex.consume(start);
    ex.consume(test::isolation_refused(50, 0x8000, 0x8200, std::nullopt));
    CmaEvent end = start;
    end.head.ts_ns = 60;
    end.op = CmaEvent::Op::AllocEnd;
    end.error = -16;
    ex.consume(end);
    Report r = std::move(ex).finish();
    ASSERT_EQ(r.failures.size(), 1u);
    EXPECT_EQ(r.failures[0].kind, Failure::Kind::Cma);
    ASSERT_EQ(r.failures[0].ranges.size(), 1u);
    EXPECT_EQ(r.failures[0].ranges[0].start, 0x8000u);
}

// The kernel names only the first busy pfn; unpinning it alone would let the
// next attempt stop at the next pinned page. The report lists those too.
TEST(Explainer, AnIsolationFailureListsTheOtherHeldPagesOfItsRange)
{
    Explainer ex(test::sample_info());
    for (uint64_t pfn : {0x7fffull, 0x8123ull, 0x8200ull, 0x83ffull, 0x8400ull})
        ex.consume(test::grab(10, 4242, pfn, test::kLongPin, 1, "rdma-app"));
    ex.consume(test::grab(11, 77, 0x8200, kFlagGet, 1, "splicer"));
    ex.consume(test::grab(12, 78, 0x8300, kFlagGet, 1, "gone"));
    ex.consume(test::release(13, 78, 0x8300, kFlagGet));
    ex.consume(test::isolation(50, 0x8000, 0x8400, 0x8123));
    Report r = std::move(ex).finish();
    ASSERT_EQ(r.failures.size(), 1u);
    const Failure& f = r.failures[0];
    EXPECT_EQ(f.held_in_range_total, 2u);
    ASSERT_EQ(f.held_in_range.size(), 2u);
    EXPECT_EQ(f.held_in_range[0].pfn, 0x8200u);
    EXPECT_EQ(f.held_in_range[0].holders.size(), 2u);
    EXPECT_EQ(f.held_in_range[1].pfn, 0x83ffu);

    std::stringstream in(render_report_json(r));
    boost::property_tree::ptree json;
    boost::property_tree::read_json(in, json);
    const auto& failure = json.get_child("failures").front().second;
    EXPECT_EQ(failure.get<int>("held_in_range_total"), 2);
    std::multiset<std::pair<int, int>> held;  // (pfn, pid)
    for (const auto& [_, c] : failure.get_child("held_in_range")) held.insert({c.get<int>("pfn"), c.get<int>("pid")});
    EXPECT_EQ(held, (std::multiset<std::pair<int, int>>{{0x8200, 4242}, {0x8200, 77}, {0x83ff, 4242}}));
    EXPECT_EQ(failure.get_child("next_steps").size(), 2u);  // the pinner's and the splicer's

    std::string text = test::flat(render_report_text(r));
    EXPECT_THAT(text, HasSubstr("2 more page(s) of the range are held")) << text;
    EXPECT_THAT(text, HasSubstr("1 page(s) held by pid 77 (splicer)")) << text;
    EXPECT_THAT(report_summary(r), HasSubstr("1 range(s) could not be isolated")) << report_summary(r);
}

// FOLL_LONGTERM on pages in CMA / ZONE_MOVABLE: the kernel migrates them
// out first (reason longterm_pin). All moved: no failure, but the report
// says the pin moved pages; some stayed: the pin failed, and that failure
// is blamed on what held them.
TEST(Explainer, LongtermPinMigrationsAreListedMovedOrNot)
{
    TraceInfo info = test::sample_info();
    info.migrate_reasons[7] = "longterm_pin";
    Explainer ex(info);
    MigrateEvent moved;
    moved.head = test::head(100, 4242, "fio");
    moved.succeeded = 8;
    moved.reason = 7;
    ex.consume(moved);
    ex.consume(test::grab(150, 4242, 0x9001, kFlagGet, 1, "fio"));
    for (const auto& e : test::migration_failure(200, {{0x9001, 3}}, 7, 4242, "fio")) ex.consume(e);
    Report r = std::move(ex).finish();
    ASSERT_EQ(r.pin_migrations.size(), 2u);
    EXPECT_EQ(r.pin_migrations[0].moved, 8u);
    EXPECT_EQ(r.pin_migrations[0].failed, 0u);
    EXPECT_EQ(r.pin_migrations[1].failed, 1u);
    ASSERT_EQ(r.failures.size(), 1u);  // only the migration that left a page behind
    EXPECT_EQ(r.failures[0].reason, "longterm_pin");
    EXPECT_EQ(r.failures[0].pages[0].holders[0].task.tgid, 4242u);

    std::stringstream in(render_report_json(r));
    boost::property_tree::ptree json;
    boost::property_tree::read_json(in, json);
    const auto& first = json.get_child("longterm_pin_migrations").front().second;
    EXPECT_EQ(first.get<int>("pid"), 4242);
    EXPECT_EQ(first.get<int>("moved"), 8);
    EXPECT_EQ(first.get<int>("failed"), 0);
    std::string text = test::flat(render_report_text(r));
    EXPECT_THAT(text, HasSubstr("LONG-TERM PINS THAT MOVED PAGES FIRST")) << text;
    EXPECT_THAT(text, HasSubstr("pid 4242 (fio): 8 page(s) moved, then pinned")) << text;
    EXPECT_THAT(text, HasSubstr("1 could not move, so the pin failed")) << text;
}

// An isolation failure carries no page counts: a reference held on its
// busy page (or on another page of its range) is neither confirmed nor
// contradicted by them. Unknown, never "probably stale".
TEST(Explainer, AnIsolationFailuresReferencesAreNeitherConfirmedNorContradicted)
{
    Explainer ex(test::sample_info());
    ex.consume(test::grab(10, 77, 0x8123, kFlagGet, 1, "splicer"));
    ex.consume(test::grab(11, 77, 0x8200, kFlagGet, 1, "splicer"));
    ex.consume(test::isolation(50, 0x8000, 0x8400, 0x8123));
    ex.consume(test::isolation(60, 0x9000, 0x9400, 0x9001));  // nobody holds 0x9001
    Report r = std::move(ex).finish();
    ASSERT_EQ(r.failures.size(), 2u);
    EXPECT_FALSE(r.failures[0].pages[0].extra_refs().has_value());

    auto json = [&] {
        std::stringstream in(render_report_json(r));
        boost::property_tree::ptree j;
        boost::property_tree::read_json(in, j);
        return j;
    }();
    auto it = json.get_child("failures").begin();
    const auto& held = it->second;
    const auto& culprit = held.get_child("culprits").front().second;
    EXPECT_EQ(culprit.get<int>("pid"), 77);
    EXPECT_FALSE(culprit.get<bool>("release_observable"));
    EXPECT_EQ(culprit.get<std::string>("refcount_confirms"), "null");
    const auto& other = held.get_child("held_in_range").front().second;
    EXPECT_EQ(other.get<int>("pfn"), 0x8200);
    EXPECT_EQ(other.get<std::string>("refcount_confirms"), "null");
    const auto& unexplained = (++it)->second.get_child("unexplained").front().second;
    EXPECT_EQ(unexplained.get<int>("pfn"), 0x9001);
    EXPECT_EQ(unexplained.get<std::string>("refcount"), "null");
    EXPECT_EQ(unexplained.get<std::string>("mapcount"), "null");
    std::string raw = render_report_json(r);
    EXPECT_THAT(raw, HasSubstr("\"refcount_confirms\":null"));
    EXPECT_THAT(raw, Not(HasSubstr("\"refcount_confirms\":false"))) << raw;

    for (const std::string& doc : {test::flat(render_report_text(r)), test::flat(render_report_markdown(r))}) {
        EXPECT_THAT(doc, Not(HasSubstr("extra reference on"))) << doc;
        EXPECT_THAT(doc, HasSubstr("whether the page counts still show them is unknown")) << doc;
    }
}

}  // namespace
}  // namespace pintrace

namespace pintrace {
namespace {

// Frame-pointer walks run past the C runtime's entry into stack garbage.
TEST(Explainer, UserStacksEndAtTheProcessEntry)
{
    Report r;
    Holder h;
    h.task.tgid = 7;
    h.ustack = 3;
    r.user_stacks[{3, 7}] = StackEvent{3,
                                       StackKind::User,
                                       7,
                                       {{0x401000, "syscall+0x19 (app)"},
                                        {0x401100, "main+0x74e (app)"},
                                        {0x401200, "__libc_start_call_main+0x64 (app)"},
                                        {0x401300, "__do_global_dtors_aux (app)"},
                                        {0xbe552274c0854800, ""}}};
    EXPECT_EQ(r.user_frames(h), (std::vector<std::string>{"syscall+0x19 (app)", "main+0x74e (app)",
                                                          "__libc_start_call_main+0x64 (app)"}));
    r.user_stacks[{3, 7}].frames.resize(2);
    EXPECT_EQ(r.user_frames(h).size(), 2u);  // no entry frame: nothing cut
}

}  // namespace
}  // namespace pintrace
