// CMA allocations, explained from event streams shaped exactly like the
// cma:* tracepoints (Debian's amd64 kernels have CMA off, so no VM test can
// produce them): records laid out as bpf/pintrace.h says, through the real
// writer, reader, decoder and explainer.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/property_tree/json_parser.hpp>
#include <boost/property_tree/ptree.hpp>
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

using test::bytes_of;
using test::k61Longterm;
using test::k61Pin;
using test::k61Write;
using test::raw_grab;
using test::raw_head;

constexpr uint32_t kDriver = 321;  // the task allocating from CMA

std::vector<std::byte> raw_cma(uint64_t ts, uint16_t op, uint16_t hook, uint64_t pfn, uint64_t count,
                               std::string_view area, uint16_t flags, int32_t error = 0)
{
    pt_cma c{};
    c.h = raw_head(PT_REC_CMA, sizeof c, hook, ts, kDriver, "camera-hal");
    c.op = op;
    c.pfn = pfn;
    c.count = count;
    c.align = 4;
    c.flags = flags | (area.empty() ? 0 : PT_CMA_HAS_NAME);
    c.errorno = error;
    std::memcpy(c.name, area.data(), std::min(area.size(), sizeof c.name - 1));
    return bytes_of(c);
}

std::vector<std::byte> raw_isolation(uint64_t ts, uint64_t start, uint64_t end, uint64_t busy)
{
    pt_isolation_failed r{};
    r.h = raw_head(PT_REC_ISOLATION_FAILED, sizeof r, PT_HOOK_ISOLATION_TP, ts, kDriver, "camera-hal");
    r.start_pfn = start;
    r.end_pfn = end;
    r.busy_pfn = busy;
    return bytes_of(r);
}

Report explain(const std::vector<std::vector<std::byte>>& records)
{
    static int n = 0;
    std::string path = ::testing::TempDir() + "/cma" + std::to_string(getpid()) + "_" + std::to_string(n++);
    auto w = TraceWriter::create(path, test::sample_info());
    EXPECT_TRUE(w.ok());
    for (const auto& r : records) EXPECT_TRUE(w->append_kernel_record(r).ok());
    EXPECT_TRUE(w->finish(FinishEvent{90000, 0, 0, StopReason::Signal, -1}).ok());
    auto reader = TraceReader::open(path);
    EXPECT_TRUE(reader.ok());
    Explainer ex(reader->info());
    EXPECT_TRUE(reader->read([&](const Event& e) { ex.consume(e); }).ok());
    return std::move(ex).finish();
}

boost::property_tree::ptree json_of(const Report& r)
{
    std::stringstream in(render_report_json(r));
    boost::property_tree::ptree json;
    boost::property_tree::read_json(in, json);
    return json;
}

const uint32_t kLongPin = k61Pin | k61Longterm | k61Write;

// 6.3+: start, a range that failed isolation on a pinned page, busy_retry
// of that range, a second busy range with no isolation event (it failed
// earlier, e.g. on a page pinned before), finish with -ENOMEM.
TEST(Cma, AFailedAllocationBlamesTheHoldersOfItsBusyRanges)
{
    Report r = explain({
        raw_grab(100, 4242, 0x10010, kLongPin, "rdma-app"),
        raw_grab(101, 4242, 0x10300, kLongPin, "rdma-app"),
        raw_grab(102, 5555, 0x20400, kLongPin, "vfio-user"),
        raw_grab(103, 6666, 0x30000, kLongPin, "elsewhere"),  // outside every busy range
        raw_cma(200, PT_CMA_ALLOC_START, PT_HOOK_CMA_ALLOC_START_TP, 0, 1024, "reserved", 0),
        raw_isolation(210, 0x10000, 0x10400, 0x10010),
        raw_cma(211, PT_CMA_BUSY_RETRY, PT_HOOK_CMA_BUSY_RETRY_TP, 0x10000, 1024, "reserved", 0),
        raw_cma(220, PT_CMA_BUSY_RETRY, PT_HOOK_CMA_BUSY_RETRY_TP, 0x20000, 1024, "reserved", 0),
        raw_cma(230, PT_CMA_ALLOC_END, PT_HOOK_CMA_ALLOC_FINISH_TP, ~0ull, 1024, "reserved", PT_CMA_HAS_ERRNO, -12),
    });
    ASSERT_EQ(r.failures.size(), 1u);  // the isolation failure folds into the allocation
    const Failure& f = r.failures[0];
    EXPECT_EQ(f.kind, Failure::Kind::Cma);
    EXPECT_EQ(f.cma_area, "reserved");
    EXPECT_EQ(f.requested_pages, 1024u);
    ASSERT_TRUE(f.cma_error.has_value());
    EXPECT_EQ(*f.cma_error, -12);
    EXPECT_EQ(f.ranges, (std::vector<PfnRange>{{0x10000, 0x10400}, {0x20000, 0x20400}}));
    ASSERT_EQ(f.pages.size(), 1u);  // the busy page the kernel named
    EXPECT_EQ(f.pages[0].pfn, 0x10010u);
    ASSERT_EQ(f.pages[0].holders.size(), 1u);
    EXPECT_EQ(f.pages[0].holders[0].task.tgid, 4242u);
    ASSERT_EQ(f.held_in_range.size(), 1u);  // 0x20400 is past the second range's end
    EXPECT_EQ(f.held_in_range[0].pfn, 0x10300u);
    EXPECT_EQ(report_exit_code(r), kExitFailuresExplained);

    auto json = json_of(r);
    const auto& jf = json.get_child("failures").front().second;
    EXPECT_EQ(jf.get<std::string>("kind"), "cma");
    EXPECT_EQ(jf.get<std::string>("reason"), "cma");
    EXPECT_EQ(jf.get<std::string>("cma_area"), "reserved");
    EXPECT_EQ(jf.get<std::string>("errno"), "ENOMEM");
    EXPECT_EQ(jf.get_child("busy_ranges").size(), 2u);
    EXPECT_EQ(jf.get_child("culprits").front().second.get<int>("pid"), 4242);
    EXPECT_EQ(jf.get<int>("held_in_range_total"), 1);

    std::string text = test::flat(render_report_text(r));
    EXPECT_THAT(
        text,
        HasSubstr("CMA allocation of 1024 page(s) from area \"reserved\" by pid 321 (camera-hal) failed (ENOMEM)"))
        << text;
    EXPECT_THAT(report_summary(r), HasSubstr("1 CMA allocation(s) failed"));
}

// cma_alloc_busy_retry fires once per range tried and found busy: the
// report counts them (the kernel does not otherwise say how hard it tried).
TEST(Cma, TheBusyRetriesAreCountedAndSaid)
{
    Report r = explain({
        raw_grab(100, 4242, 0x10010, kLongPin, "rdma-app"),
        raw_cma(200, PT_CMA_ALLOC_START, PT_HOOK_CMA_ALLOC_START_TP, 0, 1024, "reserved", 0),
        raw_isolation(210, 0x10000, 0x10400, 0x10010),
        raw_cma(211, PT_CMA_BUSY_RETRY, PT_HOOK_CMA_BUSY_RETRY_TP, 0x10000, 1024, "reserved", 0),
        raw_cma(212, PT_CMA_BUSY_RETRY, PT_HOOK_CMA_BUSY_RETRY_TP, 0x10000, 1024, "reserved", 0),
        raw_cma(220, PT_CMA_BUSY_RETRY, PT_HOOK_CMA_BUSY_RETRY_TP, 0x20000, 1024, "reserved", 0),
        raw_cma(230, PT_CMA_ALLOC_END, PT_HOOK_CMA_ALLOC_FINISH_TP, ~0ull, 1024, "reserved", PT_CMA_HAS_ERRNO, -16),
    });
    ASSERT_EQ(r.failures.size(), 1u);
    EXPECT_EQ(r.failures[0].busy_retries, 3u);
    EXPECT_EQ(r.failures[0].ranges.size(), 2u);  // the same range twice is one range
    auto json = json_of(r);
    EXPECT_EQ(json.get_child("failures").front().second.get<int>("busy_retries"), 3);
    EXPECT_EQ(json.get_child("failures").front().second.get<std::string>("errno"), "EBUSY");
    std::string text = test::flat(render_report_text(r));
    EXPECT_THAT(text, HasSubstr("failed (EBUSY) after 3 busy retries: 2 range(s) busy")) << text;
}

// A range that went busy and then an allocation that succeeded elsewhere
// is no failure; neither is an isolation failure of that allocation.
TEST(Cma, AnAllocationThatSucceedsAfterRetriesIsNotAFailure)
{
    Report r = explain({
        raw_grab(100, 4242, 0x10010, kLongPin, "rdma-app"),
        raw_cma(200, PT_CMA_ALLOC_START, PT_HOOK_CMA_ALLOC_START_TP, 0, 16, "reserved", 0),
        raw_isolation(210, 0x10000, 0x10010 + 16, 0x10010),
        raw_cma(211, PT_CMA_BUSY_RETRY, PT_HOOK_CMA_BUSY_RETRY_TP, 0x10000, 16, "reserved", 0),
        raw_cma(230, PT_CMA_ALLOC_END, PT_HOOK_CMA_ALLOC_FINISH_TP, 0x10400, 16, "reserved",
                PT_CMA_HAS_ERRNO | PT_CMA_SUCCEEDED, 0),
    });
    EXPECT_TRUE(r.failures.empty());
    EXPECT_EQ(report_exit_code(r), kExitOk);
}

// 6.1: finish without errorno. A failure no busy range explains (the area
// is full, or held by pages pinned before the trace) is unexplained.
TEST(Cma, AFailureWithNothingHeldInItsRangesIsUnexplained)
{
    Report r = explain({
        raw_cma(200, PT_CMA_ALLOC_START, PT_HOOK_CMA_ALLOC_START_TP, 0, 64, "reserved", 0),
        raw_cma(211, PT_CMA_BUSY_RETRY, PT_HOOK_CMA_BUSY_RETRY_TP, 0x40000, 64, "reserved", 0),
        raw_cma(230, PT_CMA_ALLOC_END, PT_HOOK_CMA_ALLOC_FINISH_TP, ~0ull, 64, "reserved", 0),
    });
    ASSERT_EQ(r.failures.size(), 1u);
    EXPECT_FALSE(r.failures[0].cma_error.has_value());
    EXPECT_EQ(report_exit_code(r), kExitFailuresUnexplained);
    EXPECT_EQ(json_of(r).get_child("failures").front().second.get_child("errno").data(), "null");
    EXPECT_THAT(test::flat(render_report_text(r)), HasSubstr("no holder seen in them"));
}

// 5.10: one cma:cma_alloc event at the end, no area, no retries; the
// allocation's isolation failure is all there is to go on.
TEST(Cma, BeforeAreaNamesTheEndEventAloneClosesTheAllocation)
{
    Report r = explain({
        raw_grab(100, 4242, 0x10010, kLongPin, "rdma-app"),
        raw_isolation(210, 0x10000, 0x10400, 0x10010),
        raw_cma(230, PT_CMA_ALLOC_END, PT_HOOK_CMA_ALLOC_TP, ~0ull, 1024, "", 0),
    });
    // Without a start event the isolation failure cannot be tied to the
    // allocation when it happens: both show.
    ASSERT_EQ(r.failures.size(), 2u);
    EXPECT_EQ(r.failures[0].kind, Failure::Kind::Isolation);
    EXPECT_EQ(r.failures[0].pages[0].holders[0].task.tgid, 4242u);
    EXPECT_EQ(r.failures[1].kind, Failure::Kind::Cma);
    EXPECT_TRUE(r.failures[1].cma_area.empty());
    EXPECT_EQ(std::string(hook_name(PT_HOOK_CMA_ALLOC_TP)), "cma:cma_alloc");
}

// Recording stopped while the allocation was still retrying: what it met
// is reported, and the report says the outcome was not seen.
TEST(Cma, AnAllocationStillRetryingAtTheEndIsReportedAsSuch)
{
    Report r = explain({
        raw_grab(100, 4242, 0x10010, kLongPin, "rdma-app"),
        raw_cma(200, PT_CMA_ALLOC_START, PT_HOOK_CMA_ALLOC_START_TP, 0, 1024, "reserved", 0),
        raw_cma(211, PT_CMA_BUSY_RETRY, PT_HOOK_CMA_BUSY_RETRY_TP, 0x10000, 1024, "reserved", 0),
    });
    ASSERT_EQ(r.failures.size(), 1u);
    EXPECT_FALSE(r.failures[0].outcome_seen);
    EXPECT_EQ(r.failures[0].held_in_range_total, 1u);
    EXPECT_THAT(test::flat(render_report_text(r)), HasSubstr("was still retrying when recording stopped"));
}

// A truncated CMA record is named, not guessed at.
TEST(Cma, AShortRecordIsAnError)
{
    auto bytes = raw_cma(200, PT_CMA_ALLOC_START, PT_HOOK_CMA_ALLOC_START_TP, 0, 1, "reserved", 0);
    bytes.resize(sizeof(pt_header) + 8);
    pt_header h;
    std::memcpy(&h, bytes.data(), sizeof h);
    h.size = static_cast<uint16_t>(bytes.size());
    std::memcpy(bytes.data(), &h, sizeof h);
    static int n = 0;
    std::string path = ::testing::TempDir() + "/cmashort" + std::to_string(getpid()) + std::to_string(n++);
    auto w = TraceWriter::create(path, test::sample_info());
    ASSERT_TRUE(w.ok());
    ASSERT_TRUE(w->append_kernel_record(bytes).ok());
    ASSERT_TRUE(w->finish(FinishEvent{900, 0, 0, StopReason::Signal, -1}).ok());
    auto reader = TraceReader::open(path);
    ASSERT_TRUE(reader.ok());
    auto read = reader->read([](const Event&) {});
    ASSERT_FALSE(read.ok());
    EXPECT_THAT(read.error().message, HasSubstr("cma")) << read.error().message;
}

}  // namespace
}  // namespace pintrace
