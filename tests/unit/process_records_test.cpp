// Process records: a pinner's exit (from the kernel) and what user space
// read about it (exe, cgroup), through the real decoder, writer and reader.
#include <gtest/gtest.h>

#include <cstring>

#include "events/decode.hpp"
#include "sample_trace.hpp"

namespace pintrace {
namespace {

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
    put<uint16_t>(b, 6, 1);                       // cpu
    put<uint64_t>(b, 8, 123456789);               // ts_ns
    put<uint32_t>(b, 16, 4242);                   // tgid
    put<uint32_t>(b, 20, 4250);                   // tid: the thread that exited last
    std::memcpy(b.data() + 24, "iou-wrk-4242", 12);  // comm
    put<uint64_t>(b, 40, 77);                     // cgroup id

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
    EXPECT_NE(ev.error().message.find("40 bytes"), std::string::npos) << ev.error().message;
}

}  // namespace
}  // namespace pintrace
