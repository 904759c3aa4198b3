#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "explain/explainer.hpp"
#include "render/explain_views.hpp"
#include "render/report_views.hpp"
#include "sample_trace.hpp"
#include "trace/format.hpp"
#include "trace/reader.hpp"
#include "trace_bytes.hpp"

namespace pintrace {
namespace {

using testing::HasSubstr;
using testing::Not;

std::string temp_path(const char* name) { return ::testing::TempDir() + "/" + name + std::to_string(getpid()); }

using test::slurp;

std::string write_sample_file(bool finish = true)
{
    std::string path = temp_path("sample.trace");
    auto w = TraceWriter::create(path, test::sample_info());
    EXPECT_TRUE(w.ok());
    test::write_sample(w.value());
    (void)w->append(LostEvent{4000, 4100, 7});
    if (finish) {
        EXPECT_TRUE(w->finish(FinishEvent{9000, 0, 7, StopReason::Signal, -1}).ok());
    }
    return path;
}

std::vector<Event> read_all(const TraceReader& r, ReadOptions o = {})
{
    std::vector<Event> events;
    auto s = r.read([&](const Event& e) { events.push_back(e); }, o);
    EXPECT_TRUE(s.ok()) << (s.ok() ? "" : s.error().message);
    return events;
}

TEST(TraceFile, RoundTripKeepsHeaderAndEveryRecord)
{
    auto reader = TraceReader::open(write_sample_file());
    ASSERT_TRUE(reader.ok()) << reader.error().message;
    const TraceInfo& info = reader->info();
    EXPECT_EQ(info.get("kernel_release"), "6.1.0-50-cloud-amd64");
    EXPECT_EQ(info.flags.pin, 0x40000u);
    EXPECT_EQ(info.flags.longterm, 0x10000u);
    EXPECT_EQ(info.reason_name(3), "syscall_or_cpuset");
    ASSERT_EQ(info.attach.size(), 4u);
    EXPECT_EQ(info.attach[3].mode(), "kretprobe");

    auto events = read_all(reader.value());
    ASSERT_EQ(events.size(), 4u + 1 + 1 + 1 + 3 + 1 + 1 + 1);
    const auto& g = std::get<GrabEvent>(events[0]);
    EXPECT_EQ(g.pfn, 0x100u);
    EXPECT_EQ(g.head.task.tgid, 4242u);
    EXPECT_EQ(comm_view(g.head.task.comm), "qemu-kvm");
    EXPECT_EQ(g.flags, kFlagPin | kFlagLongterm | kFlagWrite);
    const auto& s = std::get<StackEvent>(events[4]);
    ASSERT_EQ(s.frames.size(), 2u);
    EXPECT_EQ(s.frames[1].symbol, "io_sqe_buffer_register+0x63");
    EXPECT_EQ(s.frames[1].addr, 0xffffffff81000200u);
    const auto& lost = std::get<LostEvent>(events[events.size() - 2]);
    EXPECT_EQ(lost.count, 7u);
    const auto& fin = std::get<FinishEvent>(events.back());
    EXPECT_EQ(fin.reason, StopReason::Signal);
}

// The attach section's one word per point reads back as a state: absent
// is no loss, missing and refused are; any other word is how it attached.
TEST(TraceFile, AttachModesReadBackAsStates)
{
    struct Case {
        std::string_view word;
        AttachState state;
        bool attached;
    };
    for (const Case& c :
         {Case{"fentry+fexit", AttachState::Attached, true}, Case{"tracepoint", AttachState::Attached, true},
          Case{"absent", AttachState::Absent, true}, Case{"missing", AttachState::Missing, false},
          Case{"refused", AttachState::Refused, false}, Case{"uprobe", AttachState::Attached, true}}) {
        SCOPED_TRACE(std::string(c.word));
        AttachPoint a = attach_point("f", 1, c.word, "why");
        EXPECT_EQ(a.state, c.state);
        EXPECT_EQ(a.attached(), c.attached);
        EXPECT_EQ(a.mode(), c.word);
    }
    std::vector<AttachPoint> table{attach_point("a", 1, "fexit"), attach_point("b", 2, "absent"),
                                   attach_point("c", 3, "missing"), attach_point("d", 4, "refused")};
    EXPECT_EQ(missing_attach_points(table), 2u);
}

TEST(TraceFile, ThePageFlagLayoutTravelsInItsSection)
{
    std::string path = temp_path("pageflags.trace");
    TraceInfo info = test::sample_info();
    info.page_flags = {{0, "PG_locked"}, {1, "PG_writeback"}, {15, "PG_head"}};
    auto w = TraceWriter::create(path, info);
    ASSERT_TRUE(w.ok());
    ASSERT_TRUE(w->finish(FinishEvent{9000, 0, 0, StopReason::Duration, -1}).ok());
    auto reader = TraceReader::open(path);
    ASSERT_TRUE(reader.ok()) << reader.error().message;
    EXPECT_EQ(reader->info().page_flags, info.page_flags);
    EXPECT_EQ(reader->info().page_flag_names(0b11 | 1u << 15 | 1ull << 40),
              (std::vector<std::string>{"PG_locked", "PG_writeback", "PG_head"}));
}

TEST(TraceFile, EveryTruncationIsAnErrorNamingIt)
{
    std::string full = slurp(write_sample_file());
    // Cut inside the header, inside a record, and exactly between records.
    for (size_t cut : {size_t{10}, size_t{40}, full.size() - 3, full.size() - 40, full.size() - 48}) {
        auto reader = TraceReader::from_bytes(full.substr(0, cut));
        if (!reader.ok()) {
            EXPECT_THAT(reader.error().message, HasSubstr(cut < 32 ? "too short" : "truncated"))
                << cut << ": " << reader.error().message;
            continue;
        }
        auto r = reader->read([](const Event&) {});
        ASSERT_FALSE(r.ok()) << "cut at " << cut << " was accepted";
        EXPECT_TRUE(r.error().message.find("truncated") != std::string::npos ||
                    r.error().message.find("incomplete") != std::string::npos)
            << r.error().message;
    }
}

TEST(TraceFile, UnclosedFileIsRefusedUnlessAskedFor)
{
    auto reader = TraceReader::open(write_sample_file(false));
    ASSERT_TRUE(reader.ok());
    auto strict = reader->read([](const Event&) {});
    ASSERT_FALSE(strict.ok());
    EXPECT_THAT(strict.error().message, HasSubstr("without its closing record"));
    auto lenient = reader->read([](const Event&) {}, {.allow_incomplete = true});
    ASSERT_TRUE(lenient.ok());
    EXPECT_FALSE(lenient->finished);
}

TEST(TraceFile, NotATraceAndNewerVersionsAreRefused)
{
    auto junk = TraceReader::from_bytes(std::string(100, 'x'));
    ASSERT_FALSE(junk.ok());
    EXPECT_THAT(junk.error().message, HasSubstr("not a pintrace trace"));

    std::string newer = slurp(write_sample_file());
    uint16_t major = trace::kMajor + 1;
    std::memcpy(newer.data() + 8, &major, 2);
    auto r = TraceReader::from_bytes(newer);
    ASSERT_FALSE(r.ok());
    EXPECT_THAT(r.error().message, HasSubstr("newer than this pintrace reads"));
}

TEST(TraceFile, UnknownRecordTypesAndSectionsAreSkipped)
{
    std::string path = temp_path("future.trace");
    auto w = TraceWriter::create(path, test::sample_info());
    ASSERT_TRUE(w.ok());
    pt_header future = test::raw_head(77, sizeof(pt_header) + 16, 99, 1, 1, "x");
    auto bytes = test::bytes_of(future);
    bytes.resize(future.size);
    ASSERT_TRUE(w->append_kernel_record(bytes).ok());
    ASSERT_TRUE(w->append_kernel_record(test::raw_grab(5, 1, 0x9, test::k61Pin)).ok());
    ASSERT_TRUE(w->finish(FinishEvent{}).ok());
    auto reader = TraceReader::open(path);
    ASSERT_TRUE(reader.ok());
    std::vector<Event> events;
    auto s = reader->read([&](const Event& e) { events.push_back(e); });
    ASSERT_TRUE(s.ok());
    EXPECT_EQ(s->unknown_records, 1u);
    ASSERT_EQ(events.size(), 2u);
    EXPECT_EQ(std::get<GrabEvent>(events[0]).pfn, 0x9u);
}

TEST(TraceFile, CorruptRecordSizeIsAnError)
{
    std::string full = slurp(write_sample_file());
    auto clean = TraceReader::from_bytes(full);
    ASSERT_TRUE(clean.ok());
    // The first record follows the header; give it an odd size.
    trace::FileHeader fh;
    std::memcpy(&fh, full.data(), sizeof fh);
    size_t first = sizeof fh + fh.sections_bytes;
    uint16_t bad = 13;
    std::memcpy(full.data() + first + 2, &bad, 2);
    auto reader = TraceReader::from_bytes(full);
    ASSERT_TRUE(reader.ok());
    auto r = reader->read([](const Event&) {});
    ASSERT_FALSE(r.ok());
    EXPECT_THAT(r.error().message, HasSubstr("corrupt record at byte " + std::to_string(first))) << r.error().message;
}

}  // namespace
}  // namespace pintrace

namespace pintrace {
namespace {

// Runs of the capture's programs the kernel skipped travel in the Finish
// record, and the report says what they mean instead of showing the holds
// they may have left as fact.
TEST(TraceFile, SkippedProgramRunsReachTheReport)
{
    std::string path = temp_path("skipped.trace");
    auto w = TraceWriter::create(path, test::sample_info());
    ASSERT_TRUE(w.ok());
    test::write_sample(w.value());
    FinishEvent finish{9000, 0, 0, StopReason::CommandExited, 0};
    finish.skipped_runs = 23;
    ASSERT_TRUE(w->finish(finish).ok());
    auto reader = TraceReader::open(path);
    ASSERT_TRUE(reader.ok()) << reader.error().message;
    Explainer explainer(reader->info());
    uint64_t skipped = 0;
    auto read = reader->read([&](const Event& e) {
        if (auto* f = std::get_if<FinishEvent>(&e)) skipped = f->skipped_runs;
        explainer.consume(e);
    });
    ASSERT_TRUE(read.ok()) << read.error().message;
    EXPECT_EQ(skipped, 23u);
    Report report = std::move(explainer).finish();
    ReportView view;
    std::string text = render_report_text(report, view);
    EXPECT_THAT(text, HasSubstr("WARNING: the kernel skipped 23 run(s) of the capture's programs")) << text;
    EXPECT_THAT(render_report_json(report, view), HasSubstr("\"skipped_runs\":23"));
}

}  // namespace
}  // namespace pintrace

namespace pintrace {
namespace {

// A trace recorded with pairing in the kernel (docs/pairing.md) lacks the
// short-term pins released within the threshold: the Finish record carries
// how many, and the report and explain say so instead of presenting the
// trace as every pin. An unclosed one says the count is unknown.
Report read_report(const std::string& path)
{
    auto reader = TraceReader::open(path);
    EXPECT_TRUE(reader.ok()) << reader.error().message;
    Explainer explainer(reader->info());
    auto read = reader->read([&](const Event& e) { explainer.consume(e); }, {.allow_incomplete = true});
    EXPECT_TRUE(read.ok()) << read.error().message;
    return std::move(explainer).finish();
}

TEST(TraceFile, PairedPinsAreCountedAndSaidMissing)
{
    TraceInfo info = test::sample_info();
    info.meta["pairing"] = "kernel";
    info.meta["pairing_threshold_ns"] = "300000000";
    std::string path = temp_path("paired.trace");
    {
        auto w = TraceWriter::create(path, info);
        ASSERT_TRUE(w.ok());
        test::write_sample(w.value());
        FinishEvent finish{9000, 0, 0, StopReason::CommandExited, 0};
        finish.paired_pins = 4217;
        ASSERT_TRUE(w->finish(finish).ok());
    }
    Report report = read_report(path);
    ASSERT_TRUE(report.finish);
    EXPECT_EQ(report.finish->paired_pins, 4217u);
    std::string text = render_report_text(report, {});
    for (size_t at; (at = text.find("\n    ")) != std::string::npos;) text.replace(at, 5, " ");  // unwrapped
    EXPECT_THAT(text, HasSubstr("pins: short-term pins released within 300 ms were paired with their releases in the "
                                "kernel and not recorded (4217 pairs)"))
        << text;
    EXPECT_THAT(render_report_json(report, {}),
                HasSubstr("\"pairing\":{\"mode\":\"kernel\",\"every_pin_recorded\":false,\"threshold_ns\":300000000,"
                          "\"paired_pins\":4217}"));
    Explanation e;
    e.recorded = &report;
    e.trace = path;
    e.trace_complete = true;
    EXPECT_THAT(render_explain_text(e), HasSubstr("pins of this page released within 300 ms are not in its history"));
    EXPECT_THAT(render_explain_json(e), HasSubstr("\"every_pin_recorded\":false"));

    // Not closed: how many were paired is not known, and not shown as 0.
    std::string open_path = temp_path("paired-open.trace");
    {
        auto w = TraceWriter::create(open_path, info);
        ASSERT_TRUE(w.ok());
        test::write_sample(w.value());
        ASSERT_TRUE(w->checkpoint().ok());
    }
    Report unclosed = read_report(open_path);
    EXPECT_THAT(render_report_text(unclosed, {}), HasSubstr("(how many is unknown: the trace was not closed)"));
    EXPECT_THAT(render_report_json(unclosed, {}), HasSubstr("\"paired_pins\":null"));
}

// --all-events, and kernels without bpf_loop, record every pin and say so;
// a trace from before pairing says nothing about it.
TEST(TraceFile, EveryPinRecordedIsSaidSoAndOldTracesSayNothing)
{
    for (auto [mode, says] : {std::pair{"off", "pins: every grab and release recorded (record --all-events)"},
                              std::pair{"unsupported", "this kernel has no bpf_loop"},
                              std::pair{"refused", "(the kernel refused pairing: flush_parked:"}}) {
        TraceInfo info = test::sample_info();
        info.meta["pairing"] = mode;
        info.meta["pairing_refused"] = "flush_parked: invalid";
        std::string path = temp_path((std::string("pairing-") + mode + ".trace").c_str());
        auto w = TraceWriter::create(path, info);
        ASSERT_TRUE(w.ok());
        test::write_sample(w.value());
        ASSERT_TRUE(w->finish(FinishEvent{9000, 0, 0, StopReason::CommandExited, 0}).ok());
        Report report = read_report(path);
        EXPECT_THAT(render_report_text(report, {}), HasSubstr(says)) << mode;
        EXPECT_THAT(render_report_json(report, {}), HasSubstr("\"every_pin_recorded\":true")) << mode;
    }
    std::string path = temp_path("pairing-none.trace");
    auto w = TraceWriter::create(path, test::sample_info());
    ASSERT_TRUE(w.ok());
    test::write_sample(w.value());
    ASSERT_TRUE(w->finish(FinishEvent{9000, 0, 0, StopReason::CommandExited, 0}).ok());
    Report report = read_report(path);
    EXPECT_THAT(render_report_text(report, {}), Not(HasSubstr("pins: ")));
    EXPECT_THAT(render_report_json(report, {}), Not(HasSubstr("\"pairing\"")));
}

}  // namespace
}  // namespace pintrace
