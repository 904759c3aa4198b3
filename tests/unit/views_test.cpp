// The views over the ledger (report's options): grouping, sorting, filters,
// durations, thresholds, the time window and one page's history.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/property_tree/json_parser.hpp>
#include <boost/property_tree/ptree.hpp>
#include <map>
#include <set>
#include <sstream>

#include "event_builders.hpp"
#include "explain/explainer.hpp"
#include "explain/pinners.hpp"
#include "render/format.hpp"
#include "render/report_views.hpp"
#include "render/table.hpp"
#include "sample_trace.hpp"
#include "trace/trace_time.hpp"
#include "util/duration.hpp"

namespace pintrace {
namespace {

using testing::HasSubstr;
using testing::Not;

using test::grab;
using test::kLongPin;
using test::release;

constexpr uint64_t kMs = 1'000'000;

GrabEvent grab_in(uint64_t ts, uint32_t tgid, uint64_t pfn, uint32_t flags, uint32_t n, std::string_view comm,
                  uint64_t cgroup, int32_t kstack = -1)
{
    GrabEvent e = grab(ts, tgid, pfn, flags, n, comm);
    e.head.task.cgroup_id = cgroup;
    e.kstack = kstack;
    return e;
}

ProcessInfoEvent info_of(uint64_t ts, uint32_t tgid, std::string exe, std::string cgroup)
{
    return ProcessInfoEvent{ts, tgid, std::move(exe), std::move(cgroup)};
}

// qemu (two processes, one cgroup) holds long-term pins; a database does
// short-term I/O; a splicer holds references.
Report busy_host(ExplainOptions options = {})
{
    Explainer ex(test::sample_info(), options);
    ex.consume(StackEvent{1,
                          StackKind::Kernel,
                          0,
                          {{0xffffffff81000010, "try_grab_page+0x10"},
                           {0xffffffff81000020, "__gup_longterm_locked+0x4"},
                           {0xffffffff81000200, "vfio_pin_pages_remote+0x55"}}});
    ex.consume(grab_in(1 * kMs, 100, 0x1000, kLongPin, 64, "qemu", 11, 1));
    ex.consume(info_of(1 * kMs, 100, "/usr/bin/qemu-system-x86_64", "/machine.slice/vm1"));
    ex.consume(grab_in(2 * kMs, 101, 0x2000, kLongPin, 16, "qemu", 11, 1));
    ex.consume(info_of(2 * kMs, 101, "/usr/bin/qemu-system-x86_64", "/machine.slice/vm2"));
    ex.consume(grab_in(3 * kMs, 200, 0x3000, kFlagPin, 8, "postgres", 22));
    ex.consume(info_of(3 * kMs, 200, "/usr/lib/postgresql/15/bin/postgres", "/system.slice/postgresql.service"));
    ex.consume(release(5 * kMs, 200, 0x3000, kFlagPin, 8, 8));  // one 8-page folio back after 2 ms
    ex.consume(grab_in(6 * kMs, 200, 0x3100, kFlagPin, 2, "postgres", 22));
    ex.consume(grab_in(7 * kMs, 300, 0x4000, kFlagGet, 4, "splicer", 33));
    ex.consume(info_of(7 * kMs, 300, "/opt/splicer", "/machine.slicer"));
    ex.consume(release(400 * kMs, 100, 0x1000, kFlagPin, 1));  // one long-term page released after 399 ms
    for (const auto& e : test::migration_failure(500 * kMs, {{0x1001, 1026}, {0x4000, 3}}, 0, 1, "kcompactd0"))
        ex.consume(e);
    ex.consume(FinishEvent{1000 * kMs, 0, 0, StopReason::Duration, -1});
    return std::move(ex).finish();
}

std::vector<std::string> keys(const std::vector<PinnerRow>& rows)
{
    std::vector<std::string> out;
    for (const auto& r : rows) out.push_back(r.key);
    return out;
}

TEST(Pinners, ByPidLargestFirstWithLongTermPagesAndAges)
{
    Report r = busy_host();
    auto rows = pinner_rows(r, {});
    ASSERT_EQ(keys(rows), (std::vector<std::string>{"100", "101", "300", "200"}));
    EXPECT_EQ(rows[0].pages, 63u);
    EXPECT_EQ(rows[0].longterm_pages, 63u);
    EXPECT_EQ(rows[0].exe, "/usr/bin/qemu-system-x86_64");
    EXPECT_EQ(rows[0].cgroup, "/machine.slice/vm1");
    EXPECT_EQ(r.end_ns - rows[0].oldest_ns, 999 * kMs);
    EXPECT_EQ(rows[3].pages, 2u);
    EXPECT_EQ(rows[3].longterm_pages, 0u);
    EXPECT_EQ(rows[3].pins_taken, 10u);
}

TEST(Pinners, GroupedByCommAndByCgroup)
{
    Report r = busy_host();
    PinnerQuery by_comm;
    by_comm.group_by = GroupBy::Comm;
    auto rows = pinner_rows(r, by_comm);
    ASSERT_EQ(keys(rows), (std::vector<std::string>{"qemu", "splicer", "postgres"}));
    EXPECT_EQ(rows[0].pages, 79u);
    EXPECT_EQ(rows[0].processes, 2u);
    PinnerQuery by_cgroup;
    by_cgroup.group_by = GroupBy::Cgroup;
    EXPECT_EQ(keys(pinner_rows(r, by_cgroup)),
              (std::vector<std::string>{"/machine.slice/vm1", "/machine.slice/vm2", "/machine.slicer",
                                        "/system.slice/postgresql.service"}));
}

TEST(Pinners, GroupedByCodePathAcrossProcesses)
{
    Report r = busy_host();
    PinnerQuery q;
    q.group_by = GroupBy::Stack;
    auto rows = pinner_rows(r, q);
    ASSERT_FALSE(rows.empty());
    EXPECT_EQ(rows[0].key, "vfio_pin_pages_remote") << "the first caller outside GUP names the path";
    EXPECT_EQ(rows[0].processes, 2u);
    EXPECT_EQ(rows[0].pages, 79u);
    EXPECT_EQ(rows[0].origin, Origin::Vfio);
}

TEST(Pinners, ASnapshotShowsTheLedgerSoFar)
{
    Explainer ex(test::sample_info());
    ex.consume(grab(1 * kMs, 100, 0x1000, kLongPin, 4));
    ex.consume(grab(9 * kMs, 100, 0x2000, kLongPin, 1));  // pushes the first past the ordering window
    Report now = ex.snapshot();
    auto rows = pinner_rows(now, {});
    ASSERT_EQ(rows.size(), 1u);
    EXPECT_EQ(rows[0].pages, 4u) << "the newest grab still waits for its time order";
    Report end = std::move(ex).finish();
    EXPECT_EQ(pinner_rows(end, {})[0].pages, 5u);
}

TEST(Pinners, SortedByTheKeysGivenInOrder)
{
    Report r = busy_host();
    PinnerQuery q;
    q.sort = parse_sort_keys("longterm,oldest").value();
    EXPECT_EQ(keys(pinner_rows(r, q)), (std::vector<std::string>{"100", "101", "200", "300"}));
    q.sort = parse_sort_keys("oldest").value();
    EXPECT_EQ(keys(pinner_rows(r, q)), (std::vector<std::string>{"100", "101", "200", "300"}));
    q.sort = parse_sort_keys("comm,pid").value();
    EXPECT_EQ(keys(pinner_rows(r, q)), (std::vector<std::string>{"200", "100", "101", "300"}));
    q.sort = parse_sort_keys("cgroup").value();  // by path, "/machine.slice/..." before "/machine.slicer"
    EXPECT_EQ(keys(pinner_rows(r, q)), (std::vector<std::string>{"100", "101", "300", "200"}));
}

TEST(Pinners, FilteredByPidCommAndCgroupPrefix)
{
    Report r = busy_host();
    PinnerQuery q;
    q.filter.pid = 101;
    EXPECT_EQ(keys(pinner_rows(r, q)), (std::vector<std::string>{"101"}));
    q.filter = {};
    q.filter.comm = "postgres";
    EXPECT_EQ(keys(pinner_rows(r, q)), (std::vector<std::string>{"200"}));
    q.filter = {};
    q.filter.cgroup = "/machine.slice";  // vm1 and vm2, not /machine.slicer
    EXPECT_EQ(keys(pinner_rows(r, q)), (std::vector<std::string>{"100", "101"}));
    q.filter.cgroup = "33";  // by id
    EXPECT_EQ(keys(pinner_rows(r, q)), (std::vector<std::string>{"300"}));
}

// Each key is one row of a table: its word parses back to it, and the rows
// come out in the order its value and direction say.
TEST(SortKeys, EveryKeyHasARowThatParsesBackAndOrders)
{
    Report r = busy_host();
    std::set<SortKey> seen;
    for (const auto& k : sort_keys()) {
        SCOPED_TRACE(std::string(k.name));
        EXPECT_TRUE(seen.insert(k.key).second);
        EXPECT_EQ(&sort_key_info(k.key), &k);
        EXPECT_EQ(sort_key_name(k.key), k.name);
        EXPECT_FALSE(k.description.empty());
        auto parsed = parse_sort_keys(k.name);
        ASSERT_TRUE(parsed.ok());
        EXPECT_EQ(parsed.value(), std::vector<SortKey>{k.key});
        PinnerQuery q;
        q.sort = {k.key};
        auto rows = pinner_rows(r, q);
        ASSERT_GE(rows.size(), 2u);
        for (size_t i = 1; i < rows.size(); ++i) {
            SortValue a = k.value(rows[i - 1]), b = k.value(rows[i]);
            auto key = [&](const SortValue& v) {
                return k.text ? std::pair(uint64_t{0}, v.text) : std::pair(v.number, std::string_view());
            };
            if (k.descending)
                EXPECT_GE(key(a), key(b)) << "row " << i;
            else
                EXPECT_LE(key(a), key(b)) << "row " << i;
        }
    }
    EXPECT_EQ(seen.size(), 8u);  // every SortKey
    PinnerRow slow, fast;
    slow.pins_per_s = 0.5;
    fast.pins_per_s = 2.25;
    const auto& rate = sort_key_info(SortKey::Rate);
    EXPECT_GT(rate.value(fast).number, rate.value(slow).number);  // compared as the double
}

// Each cause is one row: a name for JSON, a heading, a next step; the
// steps of the three kinds of hold name the holder.
TEST(Causes, EveryCauseHasANameAHeadingAndAStep)
{
    std::set<std::string_view> names;
    for (const auto& c : causes()) {
        SCOPED_TRACE(std::string(c.name));
        EXPECT_TRUE(names.insert(c.name).second);
        EXPECT_EQ(&cause_info(c.cause), &c);
        EXPECT_FALSE(c.heading.empty());
        EXPECT_FALSE(c.next_step.empty());
        bool hold = c.cause == Cause::LongtermPin || c.cause == Cause::ShortPin || c.cause == Cause::Reference;
        EXPECT_EQ(c.next_step.find("{who}") != std::string_view::npos, hold);
        EXPECT_EQ(!c.short_action.empty(), hold);
    }
    EXPECT_EQ(names.size(), 12u);
    TaskRef fio = test::head(0, 7, "fio").task;
    EXPECT_THAT(next_step(Cause::ShortPin, fio), testing::EndsWith("look for I/O stuck in pid 7 (fio)"));
    EXPECT_EQ(cause_name(Cause::ExtraRefUnknown), "reference_of_unknown_origin");
}

// Page flags that keep a page in place by themselves: I/O in flight ends,
// kernel memory never moves.
TEST(PageStates, IoInFlightIsTransientKernelMemoryIsNot)
{
    ASSERT_NE(page_state_of("PG_writeback"), nullptr);
    EXPECT_FALSE(page_state_of("PG_writeback")->kernel_memory);
    EXPECT_FALSE(page_state_of("PG_locked")->kernel_memory);
    ASSERT_NE(page_state_of("PG_slab"), nullptr);
    EXPECT_TRUE(page_state_of("PG_slab")->kernel_memory);
    EXPECT_TRUE(page_state_of("PG_reserved")->kernel_memory);
    EXPECT_EQ(page_state_of("PG_dirty"), nullptr);
    EXPECT_EQ(page_state_of("PG_lru"), nullptr);
}

TEST(Pinners, BadSortAndGroupWordsAreNamed)
{
    auto s = parse_sort_keys("pages,size");
    ASSERT_FALSE(s.ok());
    EXPECT_THAT(s.error().message, HasSubstr("'size'"));
    EXPECT_THAT(s.error().message, HasSubstr("(use pages, longterm, oldest, pins, rate, pid, comm, cgroup)"))
        << s.error().message;
    EXPECT_FALSE(parse_sort_keys("").ok());
    auto g = parse_group_by("user");
    ASSERT_FALSE(g.ok());
    EXPECT_THAT(g.error().message, HasSubstr("pid, comm, cgroup or stack"));
}

TEST(Durations, ReleasedAndStillHeldPinsFallInTheirBuckets)
{
    Report r = busy_host();
    DurationHistogram released = released_durations(r, HolderFilter{});
    EXPECT_EQ(released.total(), 9u);  // 8 postgres pins after 2 ms, 1 qemu pin after 399 ms
    EXPECT_EQ(released.buckets[DurationHistogram::bucket_of(2 * kMs)], 8u);
    EXPECT_EQ(released.buckets[DurationHistogram::bucket_of(399 * kMs)], 1u);
    DurationHistogram held = held_ages(r, HolderFilter{});
    EXPECT_EQ(held.total(), 63u + 16 + 2 + 4);
    EXPECT_EQ(DurationHistogram::bucket_of(1999), 0u);
    EXPECT_EQ(DurationHistogram::bucket_of(2000), 1u);
    EXPECT_EQ(DurationHistogram::bucket_floor_ns(DurationHistogram::bucket_of(5 * kMs)), 4096000u);
}

TEST(Threshold, ListsReleasedAndStillHeldPinsLongerThanIt)
{
    ExplainOptions o;
    o.threshold_ns = 300 * kMs;
    Report r = busy_host(o);
    // Released after 399 ms: 1. Still held at 1000 ms and older than 300 ms: 63 + 16 + 2 + 4.
    EXPECT_EQ(r.long_holds_total, 1u + 63 + 16 + 2 + 4);
    size_t released =
        std::count_if(r.long_holds.begin(), r.long_holds.end(), [](const LongHold& h) { return h.released; });
    EXPECT_EQ(released, 1u);
    EXPECT_EQ(r.long_holds.front().until_ns - r.long_holds.front().since_ns, 999 * kMs) << "longest first";
    auto rows = pinner_rows(r, {});
    EXPECT_EQ(rows[0].pages_over_threshold, 63u);
    std::string text = test::flat(render_report_text(r));
    EXPECT_THAT(text, HasSubstr("held longer than 300 ms: 86 pin(s), 85 still held at the end")) << text;
}

TEST(Threshold, KeepsTheLongestWhenThereAreTooManyToList)
{
    ExplainOptions o;
    o.threshold_ns = 1;
    Explainer ex(test::sample_info(), o);
    size_t n = Report::kMaxLongHolds + 10;
    for (size_t i = 0; i < n; ++i) ex.consume(grab(1000 + i, 100, 0x10000 + i, kFlagPin));
    for (size_t i = 0; i < n; ++i) ex.consume(release(100000 + i * 10, 100, 0x10000 + i, kFlagPin));
    Report r = std::move(ex).finish();
    EXPECT_EQ(r.long_holds_total, n);
    ASSERT_EQ(r.long_holds.size(), Report::kMaxLongHolds);
    // Page i was held 99000 + 9i ns: the ten shortest (i < 10) are the ones left out.
    for (const auto& h : r.long_holds) EXPECT_GE(h.pfn, 0x10000u + 10);
}

// A 1 GiB folio held past the threshold is 2^18 long holds as long as each
// other: kMaxLongHolds of them are kept, every one is counted, and an older
// hold met after them still displaces one.
TEST(Threshold, AHugeRunFillsTheListAndAnOlderHoldStillGetsIn)
{
    ExplainOptions o;
    o.threshold_ns = 1;
    Explainer ex(test::sample_info(), o);
    const uint32_t gigantic = 1u << 18;
    ex.consume(grab(1000, 100, 0x200000, kFlagPin, 1));  // the oldest, at a higher pfn than the run
    ex.consume(grab(2000, 200, 0x100000, kFlagPin, gigantic));
    ex.consume(FinishEvent{5000, 0, 0, StopReason::Duration, -1});
    Report r = std::move(ex).finish();
    EXPECT_EQ(r.long_holds_total, uint64_t{gigantic} + 1);
    ASSERT_EQ(r.long_holds.size(), Report::kMaxLongHolds);
    EXPECT_EQ(r.long_holds.front().pfn, 0x200000u) << "the longest first";
}

TEST(Until, ShowsTheLedgerAsItStoodThen)
{
    ExplainOptions o;
    o.until_ns = 4 * kMs;  // before postgres released its folio and before the failure
    Report r = busy_host(o);
    EXPECT_TRUE(r.failures.empty());
    auto rows = pinner_rows(r, {});
    auto pg = std::find_if(rows.begin(), rows.end(), [](const PinnerRow& row) { return row.key == "200"; });
    ASSERT_NE(pg, rows.end());
    EXPECT_EQ(pg->pages, 8u);
    EXPECT_EQ(r.end_ns, 4 * kMs);
}

TEST(History, OnePagesEveryEventInTimeOrder)
{
    ExplainOptions o;
    o.history_pfns = {0x1001, 0x3003};
    Report r = busy_host(o);
    std::vector<HistoryEntry::What> seen;
    for (const auto& e : r.history) seen.push_back(e.what);
    using W = HistoryEntry::What;
    // 0x1001: grabbed in the 64-page range, then failed; 0x3003: grabbed in
    // the folio, released with it, and its pin closed.
    EXPECT_EQ(seen, (std::vector<W>{W::Grab, W::Grab, W::Release, W::Closed, W::MigrationFailed}));
    // The folio's grab is one run in the ledger: its close is still told
    // of the page asked about, not of the run's first page.
    for (const auto& e : r.history)
        if (e.what == W::Closed) {
            EXPECT_EQ(e.pfn, 0x3003u);
            EXPECT_EQ(e.nr_pages, 1u);
        }
    ASSERT_EQ(r.history_holders.at(0x1001).size(), 1u);
    EXPECT_TRUE(r.history_holders.at(0x3003).empty());
    std::string text = test::flat(render_report_text(r));
    EXPECT_THAT(text, HasSubstr("HISTORY OF PFN 0x1001, 0x3003: 5 event(s)")) << text;
    EXPECT_THAT(text, HasSubstr("0x3003 at the end: no holder in the ledger")) << text;
}

TEST(FailureFilter, SelectsByReasonTimeAndHolderAndTheExitCodeFollows)
{
    Report r = busy_host();
    ASSERT_EQ(r.failures.size(), 1u);
    FailureFilter by_reason;
    by_reason.reason = "compaction";
    EXPECT_TRUE(by_reason.matches(r, r.failures[0]));
    by_reason.reason = "memory_hotplug";
    EXPECT_FALSE(by_reason.matches(r, r.failures[0]));
    EXPECT_EQ(report_exit_code(r, &by_reason), kExitOk);
    FailureFilter late;
    late.since_ns = 600 * kMs;
    EXPECT_FALSE(late.matches(r, r.failures[0]));
    FailureFilter splicer;
    splicer.holders.comm = "splicer";
    EXPECT_TRUE(splicer.matches(r, r.failures[0]));
    ReportView view;
    view.failures = splicer;
    std::string text = test::flat(render_report_text(r, view));
    EXPECT_THAT(text, HasSubstr("1 other holder(s) not shown (filter)")) << text;
    EXPECT_THAT(text, Not(HasSubstr("held by pid 100 (qemu) /usr/bin"))) << text;
}

TEST(Formats, MarkdownHasTheSummaryTablesAndNestedCulprits)
{
    Report r = busy_host();
    std::string md = render_report_markdown(r);
    EXPECT_THAT(md, HasSubstr("**SUMMARY: 1 migration(s) failed, 2 page(s) stuck;")) << md;
    EXPECT_THAT(md, HasSubstr("| PID | PAGES | LONGTERM | HELD FOR | PINS/S | WHO / HOW |")) << md;
    EXPECT_THAT(md, HasSubstr("| --- | ---: |"));
    EXPECT_THAT(
        md, HasSubstr("    - 1 page(s) held by pid 100 (qemu) /usr/bin/qemu-system-x86_64, cgroup /machine.slice/vm1"))
        << md;
}

TEST(Formats, TextFitsEightyColumns)
{
    std::string text = render_report_text(busy_host());
    std::istringstream in(text);
    std::string line;
    // Only a single word longer than a line (a path) may stick out.
    while (std::getline(in, line)) {
        if (line.find("/usr/") == std::string::npos) {
            EXPECT_LE(line.size(), 80u) << line;
        }
    }
}

TEST(Formats, JsonCarriesTheViews)
{
    namespace pt = boost::property_tree;
    ExplainOptions o;
    o.threshold_ns = 300 * kMs;
    o.history_pfns = {0x1001};
    Report r = busy_host(o);
    std::istringstream in(render_report_json(r));
    pt::ptree root;
    ASSERT_NO_THROW(pt::read_json(in, root));
    const auto& rows = root.get_child("holders.rows");
    ASSERT_EQ(rows.size(), 4u);
    EXPECT_EQ(rows.begin()->second.get<std::string>("exe"), "/usr/bin/qemu-system-x86_64");
    EXPECT_EQ(rows.begin()->second.get<uint64_t>("longterm_pages"), 63u);
    EXPECT_EQ(root.get<uint64_t>("long_holds.total"), 86u);
    EXPECT_EQ(root.get_child("history.events").size(), 2u);
    const auto& culprit = root.get_child("failures").begin()->second.get_child("culprits").begin()->second;
    EXPECT_EQ(culprit.get<std::string>("cgroup"), "/machine.slice/vm1");
    EXPECT_TRUE(culprit.get<bool>("certain"));
}

// Two processes pin the same 4 pages (as tests/vm's two_pinners does), a
// migration fails on them, both release and exit. The report agrees with
// itself: one holder named first in the summary and the failure, a count
// of pages (not holds) under the cause, durations counted in pins, and no
// "pins remain" for processes that let go.
TEST(Report, TwoHoldersOfTheSamePagesAreCountedOnceAndNamedAlike)
{
    Explainer ex(test::sample_info());
    ex.consume(grab_in(1 * kMs, 143, 0x1000, kLongPin, 4, "second", 11));
    ex.consume(grab_in(2 * kMs, 142, 0x1000, kLongPin, 4, "first", 11));
    for (auto& e : test::migration_failure(3 * kMs, {{0x1000, 2050}, {0x1001, 2050}, {0x1002, 2050}, {0x1003, 2050}}))
        ex.consume(e);
    for (uint64_t pfn = 0x1000; pfn < 0x1004; ++pfn) {
        ex.consume(release(4 * kMs, 143, pfn, kLongPin));
        ex.consume(release(4 * kMs, 142, pfn, kLongPin));
    }
    for (uint32_t pid : {142u, 143u}) {
        ProcessExitEvent e;
        e.head = test::head(5 * kMs, pid);
        ex.consume(e);
    }
    ex.consume(FinishEvent{20 * kMs, 0, 0, StopReason::Duration, -1});
    Report r = std::move(ex).finish();
    std::string text = test::flat(render_report_text(r));

    EXPECT_THAT(text, HasSubstr("long-term pins (FOLL_LONGTERM): 4 page(s), 2 holders")) << text;
    // pid 143 held them longest: first in the failure and in the summary.
    EXPECT_THAT(text, HasSubstr("4 of 4 stuck pages held by pid 143 (second)")) << text;
    EXPECT_THAT(text, HasSubstr("SUMMARY: 1 migration(s) failed, 4 page(s) stuck; pid 143 (second) holds 4 of them"))
        << text;
    EXPECT_THAT(text, HasSubstr("PIN DURATIONS: 8 pin(s) and reference(s) released during the trace, 0 still held"))
        << text;
    EXPECT_THAT(text, Not(HasSubstr("pins remain"))) << text;
}

// A FOLL_GET reference's release is an invisible put_page(): once its
// process exited, the holders table must not claim the reference remains
// (only the page's free would have shown it gone), while an exited
// process's pins do remain until something releases them.
TEST(Pinners, AnExitedProcessesReferencesAreReleasedOrNotUnseenItsPinsRemain)
{
    namespace pt = boost::property_tree;
    Explainer ex(test::sample_info());
    ex.consume(grab_in(1 * kMs, 300, 0x4000, kFlagGet, 4, "splicer", 33));
    ex.consume(grab_in(2 * kMs, 400, 0x5000, kFlagPin, 2, "dio", 44));
    ex.consume(grab_in(3 * kMs, 500, 0x6000, kFlagGet, 1, "mixed", 55));
    ex.consume(grab_in(3 * kMs, 500, 0x6001, kFlagPin, 1, "mixed", 55));
    ex.consume(grab_in(4 * kMs, 600, 0x7000, kFlagGet, 1, "freed", 66));
    ex.consume(grab_in(4 * kMs, 600, 0x7100, kFlagPin, 1, "freed", 66));
    ex.consume(release(5 * kMs, 600, 0x7100, kFlagPin, 1));
    for (uint32_t pid : {300u, 400u, 500u, 600u}) {
        ProcessExitEvent e;
        e.head = test::head(10 * kMs, pid);
        ex.consume(e);
    }
    ex.consume(PageFreedEvent{test::head(11 * kMs, 0), 0x7000, 1});
    ex.consume(FinishEvent{20 * kMs, 0, 0, StopReason::Duration, -1});
    Report r = std::move(ex).finish();

    std::map<std::string, PinnerRow> rows;
    for (auto& row : pinner_rows(r, {})) rows[row.key] = row;
    ASSERT_EQ(rows.size(), 4u);
    EXPECT_TRUE(rows["300"].release_unseen) << "references only";
    EXPECT_FALSE(rows["400"].release_unseen) << "pins only";
    EXPECT_FALSE(rows["500"].release_unseen) << "a pin among what it holds";
    EXPECT_EQ(rows["600"].pages, 0u) << "its reference closed by the free, its pin by the release";
    for (auto& [key, row] : rows) EXPECT_TRUE(row.all_exited) << key;

    // The holders table's row of a command (rows are not folded).
    std::string text = render_report_text(r);
    auto line_of = [&](std::string_view comm) {
        size_t at = text.find("  " + std::string(comm) + " ");
        return at == std::string::npos ? std::string() : text.substr(at, text.find('\n', at) - at);
    };
    EXPECT_THAT(line_of("splicer"), HasSubstr("released or not, unseen")) << text;
    EXPECT_THAT(line_of("splicer"), Not(HasSubstr("pins remain"))) << text;
    EXPECT_THAT(line_of("dio"), HasSubstr("pins remain")) << text;
    EXPECT_THAT(line_of("mixed"), HasSubstr("pins remain")) << text;
    // Released everything, then exited: nothing remains to claim.
    EXPECT_THAT(line_of("freed"), HasSubstr("process exited")) << text;
    EXPECT_THAT(line_of("freed"), Not(HasSubstr("pins remain"))) << text;

    std::istringstream in(render_report_json(r));
    pt::ptree root;
    ASSERT_NO_THROW(pt::read_json(in, root));
    std::map<std::string, bool> observable;
    for (const auto& [_, row] : root.get_child("holders.rows"))
        observable[row.get<std::string>("key")] = row.get<bool>("release_observable");
    EXPECT_FALSE(observable["300"]);
    EXPECT_TRUE(observable["400"]);
    EXPECT_TRUE(observable["500"]);
}

// A page cache page a splice put into a pipe: the splicer is its holder,
// of origin "splice" (known by the attach point, whatever its stack), and
// its reference's release is seen where the pipe's release hook attached.
TEST(Splice, TheSplicerHoldsThePageAndItsReleaseIsSeenWhereTheHookAttached)
{
    namespace pt = boost::property_tree;
    for (bool release_attached : {true, false}) {
        SCOPED_TRACE(release_attached ? "release hook attached" : "release hook missing");
        TraceInfo info = test::sample_info();
        info.attach.push_back(attach_point("do_splice_read", PT_HOOK_SPLICE_READ, "fentry+fexit"));
        info.attach.push_back(attach_point("page_cache_pipe_buf_release", PT_HOOK_PIPE_BUF_RELEASE,
                                           release_attached ? "fentry" : "missing",
                                           release_attached ? "" : "refused (EPERM)", "releases are invisible"));
        Explainer ex(info);
        for (uint64_t pfn : {0x4000, 0x4001}) {
            GrabEvent g = test::grab(1 * kMs, 300, pfn, kFlagGet, 1, "splicer");
            g.head.hook = PT_HOOK_SPLICE_READ;
            ex.consume(g);
        }
        if (release_attached) {  // the pipe's reader took the first page
            ReleaseEvent rel = test::release(2 * kMs, 300, 0x4000, kFlagGet, 1, 1, "splicer");
            rel.head.hook = PT_HOOK_PIPE_BUF_RELEASE;
            ex.consume(rel);
        }
        // Another process's FOLL_GET reference through GUP: its release stays
        // an inline put_page() whatever the pipe's hook sees.
        ex.consume(test::grab(1 * kMs, 400, 0x5000, kFlagGet, 1, "getter"));
        for (const auto& e : test::migration_failure(3 * kMs, {{0x4001, 3}, {0x5000, 3}})) ex.consume(e);
        ex.consume(FinishEvent{20 * kMs, 0, 0, StopReason::Duration, -1});
        Report r = std::move(ex).finish();

        std::istringstream in(render_report_json(r));
        pt::ptree root;
        ASSERT_NO_THROW(pt::read_json(in, root));
        std::map<int, pt::ptree> culprits;
        for (const auto& [_, c] : root.get_child("failures").front().second.get_child("culprits"))
            culprits[c.get<int>("pid")] = c;
        ASSERT_EQ(culprits.size(), 2u);
        EXPECT_EQ(culprits[300].get<uint64_t>("pfn"), 0x4001u);
        EXPECT_EQ(culprits[300].get<std::string>("origin"), "splice");
        EXPECT_EQ(culprits[300].get<bool>("release_observable"), release_attached);
        EXPECT_FALSE(culprits[400].get<bool>("release_observable"));
        EXPECT_NE(culprits[400].get<std::string>("origin"), "splice");
        std::map<std::string, PinnerRow> rows;
        for (auto& row : pinner_rows(r, {})) rows[row.key] = row;
        ASSERT_EQ(rows.count("300"), 1u);
        EXPECT_EQ(rows["300"].pages, release_attached ? 1u : 2u);
        EXPECT_EQ(rows["300"].origin, Origin::Splice);
        EXPECT_EQ(rows["300"].release_unseen, !release_attached);

        std::string text = test::flat(render_report_text(r));
        EXPECT_THAT(text, HasSubstr("file pages spliced into a pipe")) << text;
        EXPECT_THAT(text, HasSubstr("drain or close that pipe")) << text;
        // The getter's group always says its release is an unseen put_page();
        // the splicer's, where the pipe's release hook is missing, says that.
        size_t unseen = 0;
        for (size_t at = text.find("inline put_page() pintrace cannot see"); at != std::string::npos;
             at = text.find("inline put_page() pintrace cannot see", at + 1))
            ++unseen;
        EXPECT_EQ(unseen, 1u) << text;
        if (release_attached)
            EXPECT_THAT(text, Not(HasSubstr("which this trace did not attach"))) << text;
        else
            EXPECT_THAT(text, HasSubstr("seen only by page_cache_pipe_buf_release, which this trace did not attach"))
                << text;
    }
}

TEST(TraceTime, OffsetsClockTimesAndDates)
{
    TraceInfo info = test::sample_info();  // started at monotonic 1000 = 1795000000 s UTC (2026-11-18 11:06:40)
    EXPECT_EQ(parse_trace_time("+30s", info).value(), 1000 + 30'000'000'000ull);
    EXPECT_EQ(parse_trace_time("250ms", info).value(), 1000 + 250'000'000ull);
    EXPECT_EQ(parse_trace_time("11:06:41", info).value(), 1000 + 1'000'000'000ull);
    EXPECT_EQ(parse_trace_time("11:06:40.5", info).value(), 1000 + 500'000'000ull);
    EXPECT_EQ(parse_trace_time("2026-11-18T11:07:40", info).value(), 1000 + 60'000'000'000ull);
    EXPECT_EQ(parse_trace_time("2026-11-18 11:07:40", info).value(), 1000 + 60'000'000'000ull);
    EXPECT_FALSE(parse_trace_time("yesterday", info).ok());
    EXPECT_FALSE(parse_trace_time("25:00:00", info).ok());
    EXPECT_FALSE(parse_trace_time("1970-01-01T00:00:00", info).ok());
}

// Issue 13: every number printed from a file is range-checked first.
TEST(TraceTime, FarTimesDoNotOverflow)
{
    TraceInfo info = test::sample_info();
    auto far = parse_trace_time("9999-12-31T00:00:00", info);
    ASSERT_TRUE(far.ok()) << far.error().message << " (was 'before the machine booted')";
    EXPECT_GT(far.value(), 1000 + 200ull * 365 * 86400 * 1'000'000'000ull);
    EXPECT_EQ(parse_trace_time("9999-12-31T23:59:59", info).value(), kMaxDurationNs) << "past any monotonic clock";
    EXPECT_FALSE(parse_trace_time("+0x10s", info).ok());
    EXPECT_FALSE(parse_trace_time("11:06:nan", info).ok());
    EXPECT_FALSE(parse_trace_time("11:06:inf", info).ok());
    EXPECT_FALSE(parse_trace_time("2026-02-31T00:00:00", info).ok()) << "was March 3rd";
    EXPECT_TRUE(parse_trace_time("2028-02-29T00:00:00", info).ok());
    EXPECT_EQ(parse_trace_time("+9223372036854775807ns", info).value(), 1000 + kMaxDurationNs);
    info.meta["start_monotonic_ns"] = "18446744073709551615";
    EXPECT_FALSE(parse_trace_time("+1s", info).ok()) << "past UINT64_MAX";
}

TEST(Format, DurationsOverTheWholeRange)
{
    EXPECT_EQ(format_duration(0), "0 us");
    EXPECT_EQ(format_duration(1), "0 us");
    EXPECT_EQ(format_duration(412'000'000), "412 ms");
    EXPECT_EQ(format_duration(3'200'000'000), "3.2 s");
    EXPECT_EQ(format_duration(125'000'000'000), "2m05s");
    EXPECT_EQ(format_duration(2 * 3600'000'000'000ull + 14 * 60'000'000'000ull), "2h14m");
    // 100 days: int(seconds) was fine; 100 years overflowed into "596523h14m".
    EXPECT_EQ(format_duration(100ull * 365 * 86400 * 1'000'000'000ull), "876000h00m");
    EXPECT_EQ(format_duration(kMaxDurationNs), "2562047h47m");
    EXPECT_EQ(format_duration(kMaxDurationNs + 1), "(out of range)") << "a negative difference, wrapped";
    EXPECT_EQ(format_duration(UINT64_MAX), "(out of range)");
    EXPECT_EQ(format_duration(uint64_t{0} - 5), "(out of range)");
}

TEST(Format, WallTimesOverTheWholeRange)
{
    Report r;
    r.info = test::sample_info();  // monotonic 1000 = 2026-11-18 11:06:40 UTC
    EXPECT_EQ(format_wall_time(r, 1000), "2026-11-18 11:06:40.000 UTC");
    EXPECT_EQ(format_wall_time(r, 1000 + 1'234'000'000), "2026-11-18 11:06:41.234 UTC");
    // Before the recording start: a negative offset, correctly (was "11:19:24.-85" style).
    EXPECT_EQ(format_wall_time(r, 0), "2026-11-18 11:06:39.999 UTC");
    r.info.meta["start_monotonic_ns"] = "5000000000";
    EXPECT_EQ(format_wall_time(r, 0), "2026-11-18 11:06:35.000 UTC");
    EXPECT_EQ(format_wall_time(r, 1), "2026-11-18 11:06:35.000 UTC");
    EXPECT_EQ(format_wall_time(r, INT64_MAX), "2319-02-28 10:53:51.854 UTC");
    EXPECT_EQ(format_wall_time(r, UINT64_MAX), "2611-06-09 10:41:08.709 UTC");
    // A wall clock at the epoch and a time before it.
    r.info.meta["start_realtime_ns"] = "0";
    EXPECT_EQ(format_wall_time(r, 5000000000), "1970-01-01 00:00:00.000 UTC");
    EXPECT_EQ(format_wall_time(r, 4999999999), "") << "before 1970: no negative milliseconds";
    // A header whose clock is not a u64 (year 9999 in ns), or past INT64_MAX.
    r.info.meta["start_realtime_ns"] = "253402300799000000000";
    EXPECT_EQ(format_wall_time(r, 0), "");
    r.info.meta["start_realtime_ns"] = "18446744073709551615";
    r.info.meta["start_monotonic_ns"] = "0";
    EXPECT_EQ(format_wall_time(r, 0), "2554-07-21 23:34:33.709 UTC");
    EXPECT_EQ(format_wall_time(r, UINT64_MAX), "3139-02-09 23:09:07.419 UTC") << "both u64 at their maximum";
}

TEST(TraceTime, PfnListsInHexOrDecimal)
{
    EXPECT_EQ(parse_pfn_list("0x1a2b,6699").value(), (std::vector<uint64_t>{0x1a2b, 6699}));
    EXPECT_FALSE(parse_pfn_list("0xzz").ok());
    EXPECT_FALSE(parse_pfn_list("12,").ok()) << "a trailing comma is a missing pfn";
    EXPECT_FALSE(parse_pfn_list("0x10000000000").ok());
    EXPECT_FALSE(parse_pfn_list("").ok());
}

TEST(Table, AlignsNumbersRightAndTextLeft)
{
    Table t;
    t.columns = {{"NAME"}, {"N", true}, {"NOTE"}};
    t.add({"a", "5", "x"});
    t.add({"long", "100", ""});
    EXPECT_EQ(t.text(""), "NAME    N  NOTE\na       5  x\nlong  100\n");
    EXPECT_EQ(t.markdown(), "| NAME | N | NOTE |\n| --- | ---: | --- |\n| a | 5 | x |\n| long | 100 |  |\n");
}

}  // namespace
}  // namespace pintrace
