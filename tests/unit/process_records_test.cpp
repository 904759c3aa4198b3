// Process records: a pinner's exit (from the kernel) and what user space
// read about it (exe, cgroup), through the real decoder, writer and reader.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <sstream>

#include "events/decode.hpp"
#include "sample_trace.hpp"
#include "trace/format.hpp"
#include "trace/reader.hpp"
#include "trace_bytes.hpp"

namespace pintrace {
namespace {

using testing::HasSubstr;

template <class T>
void put(std::vector<std::byte>& b, size_t off, T v)
{
    std::memcpy(b.data() + off, &v, sizeof v);
}

// The layout is the trace format: spelled out byte by byte, not through
// the struct, so a change to struct pt_process_exit fails here.
TEST(ProcessExit, DecodesTheKernelRecordLayout)
{
    ASSERT_EQ(sizeof(pt_process_exit), 48u);
    std::vector<std::byte> b(48);
    put<uint16_t>(b, 0, PT_REC_PROCESS_EXIT);
    put<uint16_t>(b, 2, 48);
    put<uint16_t>(b, 4, PT_HOOK_EXIT_TP);
    put<uint16_t>(b, 6, 1);  // cpu
    put<uint64_t>(b, 8, 123456789);  // ts_ns
    put<uint32_t>(b, 16, 4242);  // tgid
    put<uint32_t>(b, 20, 4250);  // tid: the thread that exited last
    std::memcpy(b.data() + 24, "iou-wrk-4242", 12);  // comm
    put<uint64_t>(b, 40, 77);  // cgroup id

    Event out;
    auto known = decode_kernel_record(b, FlagLayout::before_6_3(), out);
    ASSERT_TRUE(known.ok()) << known.error().message;
    ASSERT_TRUE(known.value());
    const auto& x = std::get<ProcessExitEvent>(out);
    EXPECT_EQ(x.head.ts_ns, 123456789u);
    EXPECT_EQ(x.head.hook, PT_HOOK_EXIT_TP);
    EXPECT_EQ(x.head.cpu, 1u);
    EXPECT_EQ(x.head.task.tgid, 4242u);
    EXPECT_EQ(x.head.task.tid, 4250u);
    EXPECT_EQ(x.head.task.cgroup_id, 77u);
    EXPECT_EQ(comm_view(x.head.task.comm), "iou-wrk-4242");
    EXPECT_EQ(hook_name(x.head.hook), "sched:sched_process_exit");
}

TEST(ProcessExit, AShortRecordIsAnError)
{
    auto b = test::raw_process_exit(1, 2, "x");
    b.resize(40);
    Event out;
    auto ev = decode_kernel_record(b, FlagLayout::before_6_3(), out);
    ASSERT_FALSE(ev.ok());
    EXPECT_THAT(ev.error().message, HasSubstr("40 bytes")) << ev.error().message;
}

std::string temp_path(const char* name)
{
    static int n = 0;
    return ::testing::TempDir() + "/" + name + std::to_string(getpid()) + "_" + std::to_string(n++);
}

using test::slurp;

// Where the first record starts: after the file header, its sections and
// the seal that ends the header's block.
size_t first_record(const std::string& file)
{
    trace::FileHeader fh;
    std::memcpy(&fh, file.data(), sizeof fh);
    size_t at = sizeof fh + fh.sections_bytes;
    uint16_t type, size;
    std::memcpy(&type, file.data() + at, 2);
    std::memcpy(&size, file.data() + at + 2, 2);
    return type == trace::kRecSeal ? at + size : at;
}

const ProcessInfoEvent kQemu{1500, 4242, "/usr/bin/qemu-system-x86_64", "/machine.slice/machine-qemu\\x2d1.scope"};

// A process record first, then the given ones, then Finish.
std::string write_trace(const std::vector<std::variant<ProcessInfoEvent, std::vector<std::byte>>>& records)
{
    std::string path = temp_path("process.trace");
    auto w = TraceWriter::create(path, test::sample_info());
    EXPECT_TRUE(w.ok());
    for (const auto& r : records) {
        if (auto* p = std::get_if<ProcessInfoEvent>(&r))
            EXPECT_TRUE(w->append(*p).ok());
        else
            EXPECT_TRUE(w->append_kernel_record(std::get<std::vector<std::byte>>(r)).ok());
    }
    EXPECT_TRUE(w->finish(FinishEvent{9000, 0, 0, StopReason::CommandExited, 0}).ok());
    return path;
}

Result<std::vector<Event>> read_bytes(std::string bytes)
{
    auto reader = TraceReader::from_bytes(std::move(bytes));
    if (!reader) return reader.error();
    std::vector<Event> events;
    auto s = reader->read([&](const Event& e) { events.push_back(e); });
    if (!s) return s.error();
    return events;
}

TEST(ProcessRecords, RoundTripThroughWriterAndReader)
{
    // Paths are any bytes: a tab, a newline, a deleted binary; an exec'd
    // process described twice; a process whose cgroup was not readable.
    ProcessInfoEvent odd{2500, 4242, "/opt/a b\tc\nd (deleted)", ""};
    ProcessInfoEvent nothing{2600, 7, "", ""};
    std::string path = write_trace({kQemu, test::raw_grab(1500, 4242, 0x100, test::k61Pin), odd,
                                    test::raw_process_exit(3000, 4242, "iou-wrk-4242", 4250), nothing});
    auto events = read_bytes(slurp(path));
    ASSERT_TRUE(events.ok()) << events.error().message;
    ASSERT_EQ(events->size(), 6u);
    const auto& q = std::get<ProcessInfoEvent>(events.value()[0]);
    EXPECT_EQ(q.ts_ns, 1500u);
    EXPECT_EQ(q.tgid, 4242u);
    EXPECT_EQ(q.exe, kQemu.exe);
    EXPECT_EQ(q.cgroup, kQemu.cgroup);
    EXPECT_EQ(std::get<GrabEvent>(events.value()[1]).pfn, 0x100u);
    const auto& o = std::get<ProcessInfoEvent>(events.value()[2]);
    EXPECT_EQ(o.exe, odd.exe);
    EXPECT_EQ(o.cgroup, "");
    const auto& x = std::get<ProcessExitEvent>(events.value()[3]);
    EXPECT_EQ(x.head.ts_ns, 3000u);
    EXPECT_EQ(x.head.task.tgid, 4242u);
    EXPECT_EQ(x.head.task.tid, 4250u);
    const auto& n = std::get<ProcessInfoEvent>(events.value()[4]);
    EXPECT_EQ(n.tgid, 7u);
    EXPECT_TRUE(n.exe.empty() && n.cgroup.empty());
    EXPECT_EQ(std::get<FinishEvent>(events.value()[5]).reason, StopReason::CommandExited);
}

// A file cut inside a record is the torn end of a killed recording: refused
// as incomplete, or read up to the record before with --allow-incomplete.
TEST(ProcessRecords, ACutProcessRecordIsATornTail)
{
    std::string full = slurp(write_trace({kQemu}));
    size_t at = first_record(full);
    for (size_t cut : {at + 4, at + 20, at + 40}) {
        auto events = read_bytes(full.substr(0, cut));
        ASSERT_FALSE(events.ok()) << "cut at " << cut;
        EXPECT_THAT(events.error().message, HasSubstr("incomplete")) << events.error().message;
        auto reader = TraceReader::from_bytes(full.substr(0, cut));
        ASSERT_TRUE(reader.ok());
        size_t seen = 0;
        auto s = reader->read([&](const Event&) { ++seen; }, {.allow_incomplete = true});
        ASSERT_TRUE(s.ok()) << s.error().message;
        EXPECT_EQ(seen, 0u);
        EXPECT_EQ(s->end_offset, at);
        EXPECT_EQ(s->torn_bytes, cut - at);
    }
}

TEST(ProcessRecords, PathLengthsPastTheRecordAreAnErrorNamingItsOffset)
{
    std::string full = slurp(write_trace({kQemu}));
    size_t at = first_record(full);
    uint16_t size;
    std::memcpy(&size, full.data() + at + 2, 2);
    for (size_t field : {offsetof(trace::ProcessPayload, exe_len), offsetof(trace::ProcessPayload, cgroup_len)}) {
        std::string bad = full;
        uint16_t len = size;  // more than the record holds, whatever the other length
        std::memcpy(bad.data() + at + sizeof(trace::UserRecordHeader) + field, &len, 2);
        auto events = read_bytes(reseal(bad));
        ASSERT_FALSE(events.ok());
        EXPECT_THAT(events.error().message, HasSubstr("corrupt record at byte " + std::to_string(at)))
            << events.error().message;
    }
    // A record too short for the fixed part.
    std::string shrunk = full;
    uint16_t tiny = 16;
    std::memcpy(shrunk.data() + at + 2, &tiny, 2);
    // The framing then breaks inside the record: the error names where.
    auto events = read_bytes(reseal(shrunk));
    ASSERT_FALSE(events.ok());
    const std::string prefix = "corrupt record at byte ";
    ASSERT_EQ(events.error().message.rfind(prefix, 0), 0u) << events.error().message;
    size_t named = std::stoul(events.error().message.substr(prefix.size()));
    EXPECT_GE(named, at);
    EXPECT_LT(named, at + size) << events.error().message;
}

// A 1.0 reader decodes a type it does not know as a kernel record: even the
// smallest process record must pass as one, to be skipped and counted.
TEST(ProcessRecords, OlderReadersCanSkipEvenAnEmptyOne)
{
    std::string full = slurp(write_trace({ProcessInfoEvent{1, 2, "", ""}}));
    size_t at = first_record(full);
    uint16_t size;
    std::memcpy(&size, full.data() + at + 2, 2);
    EXPECT_EQ(size, trace::kMinAddedRecord);
    auto rec = std::as_bytes(std::span(full.data() + at, size));
    Event out;
    auto as_kernel = decode_kernel_record(rec, FlagLayout::before_6_3(), out);
    ASSERT_TRUE(as_kernel.ok()) << as_kernel.error().message;
    EXPECT_FALSE(as_kernel.value());
}

TEST(ProcessRecords, UnknownUserRecordTypesAreSkippedWhateverTheirSize)
{
    std::vector<std::byte> future(16);
    put<uint16_t>(future, 0, 0x1ff);
    put<uint16_t>(future, 2, 16);
    auto reader = TraceReader::open(write_trace({future, kQemu}));
    ASSERT_TRUE(reader.ok());
    std::vector<Event> events;
    auto s = reader->read([&](const Event& e) { events.push_back(e); });
    ASSERT_TRUE(s.ok()) << s.error().message;
    EXPECT_EQ(s->unknown_records, 1u);
    ASSERT_EQ(events.size(), 2u);
    EXPECT_EQ(std::get<ProcessInfoEvent>(events[0]).exe, kQemu.exe);
}

}  // namespace
}  // namespace pintrace
