// The pipes a splice filled: their inode in the grab record, who has them
// open (found in this process's own /proc entries), the trace record that
// keeps it, and the report that names them.
#include <boost/property_tree/json_parser.hpp>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <sstream>

#include "capture/pipe_openers.hpp"
#include "events/decode.hpp"
#include "explain/explainer.hpp"
#include "render/report_views.hpp"
#include "event_builders.hpp"
#include "sample_trace.hpp"
#include "trace/reader.hpp"
#include "trace/writer.hpp"
#include "trace_bytes.hpp"

namespace pintrace {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr uint64_t kMs = 1'000'000;

// A pipe of this process, closed at the end of the test.
struct TestPipe {
    int fds[2] = {-1, -1};
    uint64_t ino = 0;
    TestPipe()
    {
        struct stat st {};
        if (pipe(fds) == 0 && fstat(fds[0], &st) == 0) ino = st.st_ino;
    }
    void close_all()
    {
        for (int& fd : fds)
            if (fd >= 0) close(fd), fd = -1;
    }
    ~TestPipe() { close_all(); }
};

std::string own_comm()
{
    std::ifstream in("/proc/self/comm");
    std::string comm;
    std::getline(in, comm);
    return comm;
}

TEST(PipeOpeners, FindsEveryFdOfThePipeInItsProcess)
{
    TestPipe a, b;
    ASSERT_NE(a.ino, 0u);
    auto found = find_pipe_openers({a.ino});
    ASSERT_EQ(found.count(a.ino), 1u);
    EXPECT_EQ(found.count(b.ino), 0u) << "only the pipes asked for";
    std::vector<uint32_t> fds;
    for (const auto& o : found[a.ino]) {
        EXPECT_EQ(o.pid, static_cast<uint32_t>(getpid()));
        EXPECT_EQ(o.comm, own_comm());
        fds.push_back(o.fd);
    }
    EXPECT_EQ(fds, (std::vector<uint32_t>{static_cast<uint32_t>(a.fds[0]), static_cast<uint32_t>(a.fds[1])}));
    a.close_all();
    EXPECT_TRUE(find_pipe_openers({a.ino}).empty()) << "a closed pipe has no opener";
    EXPECT_TRUE(find_pipe_openers({a.ino}, "/nonexistent").empty());
}

struct PipeSink : RecordSink {
    std::vector<PipeOpenersEvent> looks;
    Result<void> append_kernel_record(std::span<const std::byte>) override { return {}; }
    Result<void> append(const StackEvent&) override { return {}; }
    Result<void> append(const LostEvent&) override { return {}; }
    Result<void> append(const ProcessInfoEvent&) override { return {}; }
    Result<void> append(const PipeOpenersEvent& e) override
    {
        looks.push_back(e);
        return {};
    }
};

// A new pipe is looked up at once, then new ones at most every
// kMinLookNs; every watched pipe after a failure (at once, then at most
// every kMinRescanNs) and at the end, found open or not.
TEST(PipeOpeners, WatchLooksWhenSplicedAfterFailuresAndAtTheEnd)
{
    TestPipe p, q;
    PipeWatch watch;
    PipeSink sink;
    uint64_t t = 10'000 * kMs;
    ASSERT_TRUE(watch.flush(sink, t, false).ok());
    EXPECT_TRUE(sink.looks.empty()) << "nothing spliced: no look";
    watch.note_splice(p.ino);
    watch.note_splice(p.ino);
    ASSERT_TRUE(watch.flush(sink, t, false).ok());
    ASSERT_EQ(sink.looks.size(), 1u);
    EXPECT_EQ(sink.looks[0].ino, p.ino);
    EXPECT_EQ(sink.looks[0].ts_ns, t);
    EXPECT_EQ(sink.looks[0].openers.size(), 2u);
    watch.note_splice(p.ino);  // known: not looked up again for that
    ASSERT_TRUE(watch.flush(sink, t + kMs, false).ok());
    EXPECT_EQ(sink.looks.size(), 1u);

    watch.note_failure();
    ASSERT_TRUE(watch.flush(sink, t + 2 * kMs, false).ok());
    ASSERT_EQ(sink.looks.size(), 2u) << "the first failure's look comes at once";
    watch.note_failure();
    ASSERT_TRUE(watch.flush(sink, t + 500 * kMs, false).ok());
    EXPECT_EQ(sink.looks.size(), 2u) << "within a second of the last failure's look";
    ASSERT_TRUE(watch.flush(sink, t + 1100 * kMs, false).ok());
    ASSERT_EQ(sink.looks.size(), 3u) << "the failure's look, once the second passed";
    EXPECT_EQ(sink.looks[2].openers.size(), 2u);

    // A second new pipe right after a look waits kMinLookNs, and is looked
    // up alone.
    watch.note_splice(q.ino);
    ASSERT_TRUE(watch.flush(sink, t + 1100 * kMs + 1, false).ok());
    ASSERT_TRUE(watch.flush(sink, t + 1300 * kMs, false).ok());
    EXPECT_EQ(sink.looks.size(), 3u);
    ASSERT_TRUE(watch.flush(sink, t + 1400 * kMs, false).ok());
    ASSERT_EQ(sink.looks.size(), 4u);
    EXPECT_EQ(sink.looks[3].ino, q.ino);
    ASSERT_TRUE(watch.flush(sink, t + 3000 * kMs, false).ok());
    EXPECT_EQ(sink.looks.size(), 4u) << "nothing new, no failure since";

    // Closed pipes stay watched: the last look names both, with no opener.
    p.close_all();
    q.close_all();
    ASSERT_TRUE(watch.flush(sink, t + 4000 * kMs, true).ok());
    ASSERT_EQ(sink.looks.size(), 6u) << "the last look";
    for (size_t i = 4; i < 6; ++i) EXPECT_TRUE(sink.looks[i].openers.empty());
}

// The oldest pipes leave the watch once kMaxWatched are watched; a new one
// is still looked up.
TEST(PipeOpeners, WatchForgetsTheOldestPastItsBound)
{
    PipeWatch watch("/nonexistent");
    PipeSink sink;
    for (uint64_t ino = 1; ino <= PipeWatch::kMaxWatched + 10; ++ino) watch.note_splice(ino);
    ASSERT_TRUE(watch.flush(sink, 1, true).ok());
    EXPECT_EQ(sink.looks.size(), PipeWatch::kMaxWatched + 10) << "every new pipe is looked up once";
    sink.looks.clear();
    ASSERT_TRUE(watch.flush(sink, 2, true).ok());
    ASSERT_EQ(sink.looks.size(), PipeWatch::kMaxWatched);
    EXPECT_EQ(sink.looks.front().ino, 11u) << "the ten oldest went";
}

TEST(PipeOpeners, GrabRecordEndsWithThePipeAndOlderOnesDoNot)
{
    pt_grab_in_pipe g{};
    auto plain = test::raw_grab(1000, 42, 0x100, test::k61Get, "splicer");
    std::memcpy(&g.base, plain.data(), sizeof g.base);
    g.base.h.size = sizeof g;
    g.base.h.hook = PT_HOOK_SPLICE_READ;
    g.pipe_ino = 98765;
    Event out;
    ASSERT_TRUE(decode_kernel_record(test::bytes_of(g), FlagLayout::before_6_3(), out).ok());
    EXPECT_EQ(std::get<GrabEvent>(out).pipe_ino, 98765u);
    ASSERT_TRUE(decode_kernel_record(plain, FlagLayout::before_6_3(), out).ok());
    EXPECT_EQ(std::get<GrabEvent>(out).pipe_ino, 0u);
}

TEST(PipeOpeners, RecordRoundTripsAndCorruptCountsAreRefused)
{
    std::string path = ::testing::TempDir() + "/pipes.trace" + std::to_string(getpid());
    PipeOpenersEvent look{2000, 555, {{10, 3, "haproxy"}, {10, 4, "haproxy"}, {11, 7, std::string(20, 'x')}}};
    {
        auto w = TraceWriter::create(path, test::sample_info());
        ASSERT_TRUE(w.ok());
        ASSERT_TRUE(w->append(look).ok());
        ASSERT_TRUE(w->append(PipeOpenersEvent{2500, 556, {}}).ok());
        ASSERT_TRUE(w->finish(FinishEvent{9000, 0, 0, StopReason::CommandExited, 0}).ok());
    }
    std::string bytes = test::slurp(path);
    auto reader = TraceReader::from_bytes(bytes);
    ASSERT_TRUE(reader.ok()) << reader.error().message;
    std::vector<PipeOpenersEvent> got;
    ASSERT_TRUE(reader->read([&](const Event& e) {
                          if (auto* p = std::get_if<PipeOpenersEvent>(&e)) got.push_back(*p);
                      }).ok());
    ASSERT_EQ(got.size(), 2u);
    EXPECT_EQ(got[0].ts_ns, 2000u);
    EXPECT_EQ(got[0].ino, 555u);
    ASSERT_EQ(got[0].openers.size(), 3u);
    EXPECT_EQ(got[0].openers[1].fd, 4u);
    EXPECT_EQ(got[0].openers[1].comm, "haproxy");
    EXPECT_EQ(got[0].openers[2].comm, std::string(16, 'x')) << "cut to the kernel's comm length";
    EXPECT_TRUE(got[1].openers.empty());

    // A count past the record's end (the blocks resealed, so that their
    // checksums pass): one error naming it, nothing read past it.
    size_t at = bytes.find(std::string("\x2b\x02\0\0\0\0\0\0", 8));  // ino 555
    ASSERT_NE(at, std::string::npos);
    bytes[at + 8] = '\x7f';  // count: 127 entries in a record of 3
    auto bad = TraceReader::from_bytes(reseal(bytes));
    ASSERT_TRUE(bad.ok());
    auto read = bad->read([](const Event&) {});
    ASSERT_FALSE(read.ok());
    EXPECT_THAT(read.error().message, HasSubstr("counts need")) << read.error().message;
}

// The report names the pipe a splice filled and who had it open at the
// look nearest the failure; two pipes of one process are two holders.
TEST(PipeOpeners, ReportNamesThePipeAndItsOpenersPerPipe)
{
    namespace pt = boost::property_tree;
    TraceInfo info = test::sample_info();
    Explainer ex(info);
    for (auto [pfn, ino] : {std::pair{0x4000ull, 555ull}, {0x4001ull, 555ull}, {0x4002ull, 777ull}}) {
        GrabEvent g = test::grab(1 * kMs, 300, pfn, kFlagGet, 1, "splicer");
        g.head.hook = PT_HOOK_SPLICE_READ;
        g.pipe_ino = ino;
        ex.consume(g);
    }
    // 555: looked at when spliced, just after the failure, and later; the
    // nearest to the failure counts. 777: once, after it.
    ex.consume(PipeOpenersEvent{1 * kMs + 100, 555, {{300, 9, "splicer"}}});
    ex.consume(PipeOpenersEvent{3 * kMs + 500'000, 555, {{300, 3, "splicer"}, {300, 4, "splicer"}}});
    ex.consume(PipeOpenersEvent{9 * kMs, 555, {{301, 0, "reader"}}});
    ex.consume(PipeOpenersEvent{4 * kMs, 777, {}});
    for (const auto& e : test::migration_failure(3 * kMs, {{0x4000, 3}, {0x4001, 3}, {0x4002, 3}})) ex.consume(e);
    ex.consume(FinishEvent{20 * kMs, 0, 0, StopReason::Duration, -1});
    Report r = std::move(ex).finish();

    std::string text = test::flat(render_report_text(r));
    EXPECT_THAT(text, HasSubstr("pipe: pipe:[555], where the splice put them; open in pid 300 (splicer) fds 3, 4, "
                                "seen 500 us after the failure"))
        << text;
    EXPECT_THAT(text, HasSubstr("pipe: pipe:[777], where the splice put them; in no process's /proc/PID/fd "
                                "(closed, or passed on where /proc does not show it), seen 1 ms after the failure"))
        << text;

    std::istringstream in(render_report_json(r));
    pt::ptree root;
    ASSERT_NO_THROW(pt::read_json(in, root));
    std::map<uint64_t, int> pages_per_pipe;
    for (const auto& [_, c] : root.get_child("failures").front().second.get_child("culprits")) {
        uint64_t ino = c.get<uint64_t>("pipe.inode");
        ++pages_per_pipe[ino];
        EXPECT_EQ(c.get<std::string>("pipe.name"), "pipe:[" + std::to_string(ino) + "]");
        if (ino == 555) {
            EXPECT_EQ(c.get<uint64_t>("pipe.openers_seen_ns"), 3 * kMs + 500'000);
            auto openers = c.get_child("pipe.openers");
            ASSERT_EQ(openers.size(), 2u);
            EXPECT_EQ(openers.front().second.get<int>("pid"), 300);
            EXPECT_EQ(openers.front().second.get<int>("fd"), 3);
        } else {
            EXPECT_TRUE(c.get_child("pipe.openers").empty());
        }
    }
    EXPECT_EQ(pages_per_pipe, (std::map<uint64_t, int>{{555, 2}, {777, 1}}));
}

}  // namespace
}  // namespace pintrace
