// A trace file is evidence: what the recorder wrote stays readable however
// it stopped (killed, disk full, cut), a second recorder cannot mix its
// records in, and damage is reported as damage, never read as figures.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <future>
#include <sstream>
#include <thread>

#include "sample_trace.hpp"
#include "trace/format.hpp"
#include "trace/reader.hpp"
#include "trace/writer.hpp"
#include "trace_bytes.hpp"

namespace pintrace {
namespace {

using testing::HasSubstr;

std::string temp(const std::string& name)
{
    return ::testing::TempDir() + "/durable_" + name + "_" + std::to_string(getpid());
}

struct Read {
    Result<ReadSummary> summary = make_error("not read");
    std::vector<Event> events;
};

Read read_bytes(std::string bytes, bool allow_incomplete)
{
    Read out;
    auto reader = TraceReader::from_bytes(std::move(bytes));
    if (!reader) {
        out.summary = reader.error();
        return out;
    }
    out.summary =
        reader->read([&](const Event& e) { out.events.push_back(e); }, {.allow_incomplete = allow_incomplete});
    return out;
}

uint32_t pin_flags() { return test::k61Pin | test::k61Longterm | test::k61Write; }

using test::slurp;
using test::walk_framing;

TEST(TraceDurability, TheHeaderIsOnDiskBeforeTheFirstRecord)
{
    std::string path = temp("header");
    auto w = TraceWriter::create(path, test::sample_info());
    ASSERT_TRUE(w.ok()) << w.error().message;
    // Nothing appended, nothing finished: a kill now still leaves a file
    // that says who recorded what, and that it holds nothing.
    auto reader = TraceReader::open(path);
    ASSERT_TRUE(reader.ok()) << reader.error().message;
    EXPECT_EQ(reader->info().meta.at("hostname"), "db-7");
    auto strict = reader->read([](const Event&) {});
    ASSERT_FALSE(strict.ok());
    EXPECT_THAT(strict.error().message, HasSubstr("incomplete")) << strict.error().message;
    auto lenient = reader->read([](const Event&) {}, {.allow_incomplete = true});
    ASSERT_TRUE(lenient.ok()) << lenient.error().message;
    EXPECT_EQ(lenient->records, 0u);
    EXPECT_EQ(lenient->blocks, 1u);  // the header's
    EXPECT_TRUE(lenient->being_written);
}

TEST(TraceDurability, RecordsReachTheFileAtACheckpointOnceOldEnough)
{
    std::string path = temp("checkpoint");
    auto file = TraceFile::claim(path);
    ASSERT_TRUE(file.ok()) << file.error().message;
    auto w = TraceWriter::create(std::move(file.value()), test::sample_info(),
                                 {.block_bytes = size_t{1} << 20, .flush_interval_ns = 50'000'000});
    ASSERT_TRUE(w.ok());
    ASSERT_TRUE(w->append_kernel_record(test::raw_grab(2000, 4242, 0x100, pin_flags())).ok());
    ASSERT_TRUE(w->checkpoint().ok());
    uint64_t header_only = std::filesystem::file_size(path);
    EXPECT_EQ(header_only, w->bytes_written()) << "too young to be written yet";
    std::this_thread::sleep_for(std::chrono::milliseconds(60));
    ASSERT_TRUE(w->checkpoint().ok());
    EXPECT_GT(std::filesystem::file_size(path), header_only);
    auto got = read_bytes(slurp(path), true);
    ASSERT_TRUE(got.summary.ok()) << got.summary.error().message;
    EXPECT_EQ(got.summary->records, 1u);
    EXPECT_EQ(got.summary->blocks, 2u);
    EXPECT_EQ(got.summary->unverified_records, 0u);
    ASSERT_EQ(got.events.size(), 1u);
    EXPECT_EQ(std::get<GrabEvent>(got.events[0]).pfn, 0x100u);
}

// A drain that never ends (the ring buffer refills as fast as it is read)
// reaches no checkpoint: the block's age is checked as records come.
TEST(TraceDurability, ALongDrainStillWritesBlocksOnTime)
{
    std::string path = temp("longdrain");
    auto file = TraceFile::claim(path);
    ASSERT_TRUE(file.ok());
    auto w = TraceWriter::create(std::move(file.value()), test::sample_info(),
                                 {.block_bytes = size_t{1} << 20, .flush_interval_ns = 20'000'000});
    ASSERT_TRUE(w.ok());
    uint64_t header_only = std::filesystem::file_size(path);
    ASSERT_TRUE(w->append_kernel_record(test::raw_grab(2000, 4242, 0x100, pin_flags())).ok());
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    for (int i = 1; i < 64; ++i)
        ASSERT_TRUE(w->append_kernel_record(test::raw_grab(2000 + i, 4242, 0x100 + i, pin_flags())).ok());
    EXPECT_GT(std::filesystem::file_size(path), header_only) << "64 records, the first 30 ms old, no checkpoint";
    EXPECT_EQ(std::filesystem::file_size(path), w->bytes_written());
}

TEST(TraceDurability, ALostWindowEndsABlock)
{
    std::string path = temp("lost");
    auto w = TraceWriter::create(path, test::sample_info());
    ASSERT_TRUE(w.ok());
    ASSERT_TRUE(w->append_kernel_record(test::raw_grab(2000, 4242, 0x100, pin_flags())).ok());
    uint64_t before = std::filesystem::file_size(path);
    ASSERT_TRUE(w->append(LostEvent{2000, 3000, 17}).ok());
    EXPECT_GT(std::filesystem::file_size(path), before);
    EXPECT_EQ(std::filesystem::file_size(path), w->bytes_written());
}

TEST(TraceDurability, AWriterDroppedWithoutFinishKeepsWhatItHeld)
{
    std::string path = temp("dropped");
    {
        auto w = TraceWriter::create(path, test::sample_info());
        ASSERT_TRUE(w.ok());
        test::write_sample(w.value());
    }
    auto got = read_bytes(slurp(path), true);
    ASSERT_TRUE(got.summary.ok()) << got.summary.error().message;
    EXPECT_FALSE(got.summary->finished);
    EXPECT_EQ(got.summary->records, walk_framing(slurp(path)).records);
    EXPECT_EQ(got.summary->unverified_records, 0u);
    EXPECT_EQ(got.summary->torn_bytes, 0u);
}

// A kill mid-write leaves part of the last block: every whole record is
// read (those after the last seal marked unverified) and the partial one
// skipped, wherever the cut falls.
TEST(TraceDurability, ATornTailIsSkippedAndEveryWholeRecordRead)
{
    std::string path = temp("torn");
    auto file = TraceFile::claim(path);
    ASSERT_TRUE(file.ok());
    auto w = TraceWriter::create(std::move(file.value()), test::sample_info(), {.block_bytes = 512});
    ASSERT_TRUE(w.ok());
    for (int i = 0; i < 40; ++i)
        ASSERT_TRUE(w->append_kernel_record(test::raw_grab(2000 + i, 4242, 0x100 + i, pin_flags())).ok());
    ASSERT_TRUE(w->finish(FinishEvent{9000, 0, 0, StopReason::Duration, -1}).ok());
    std::string full = slurp(path);
    auto whole = read_bytes(full, false);
    ASSERT_TRUE(whole.summary.ok()) << whole.summary.error().message;
    EXPECT_GT(whole.summary->blocks, 5u);
    for (size_t cut = full.size() - 1; cut > full.size() - 2000; cut -= 13) {
        std::string part = full.substr(0, cut);
        auto strict = read_bytes(part, false);
        ASSERT_FALSE(strict.summary.ok()) << "cut at " << cut;
        auto got = read_bytes(part, true);
        ASSERT_TRUE(got.summary.ok()) << "cut at " << cut << ": " << got.summary.error().message;
        auto oracle = walk_framing(part);
        EXPECT_EQ(got.summary->records, oracle.records) << "cut at " << cut;
        EXPECT_EQ(got.summary->end_offset, oracle.end) << "cut at " << cut;
        EXPECT_EQ(got.summary->torn_bytes, cut - oracle.end) << "cut at " << cut;
        // The Finish record is whole (its seal torn) or not there at all.
        EXPECT_EQ(got.summary->finished, cut >= full.size() - 48) << "cut at " << cut;
    }
}

// A recording written by pintrace 1.2 has no seals: cut by a kill, it is
// still read up to its last whole record.
TEST(TraceDurability, AnOldTraceCutInsideARecordIsReadUpToIt)
{
    std::string path = temp("legacy");
    auto w = TraceWriter::create(path, test::sample_info());
    ASSERT_TRUE(w.ok());
    test::write_sample(w.value());
    ASSERT_TRUE(w->finish(FinishEvent{9000, 0, 0, StopReason::Duration, -1}).ok());
    std::string sealed = slurp(path);
    // Strip the seals and call it 1.2.
    trace::FileHeader fh;
    std::memcpy(&fh, sealed.data(), sizeof fh);
    fh.minor = 2;
    std::string old(reinterpret_cast<const char*>(&fh), sizeof fh);
    size_t off = sizeof fh;
    old += sealed.substr(off, fh.sections_bytes);
    off += fh.sections_bytes;
    size_t finish_at = 0;
    while (off < sealed.size()) {
        uint16_t type, size;
        std::memcpy(&type, sealed.data() + off, 2);
        std::memcpy(&size, sealed.data() + off + 2, 2);
        if (type == trace::kRecFinish) finish_at = old.size();
        if (type != trace::kRecSeal) old += sealed.substr(off, size);
        off += size;
    }
    ASSERT_GT(finish_at, 0u);
    auto all = read_bytes(old, false);
    ASSERT_TRUE(all.summary.ok()) << all.summary.error().message;
    EXPECT_FALSE(all.summary->sealed);
    std::string cut = old.substr(0, finish_at - 20);
    auto got = read_bytes(cut, true);
    ASSERT_TRUE(got.summary.ok()) << got.summary.error().message;
    EXPECT_EQ(got.summary->records, walk_framing(cut).records);
    EXPECT_GT(got.summary->torn_bytes, 0u);
}

// Every single-byte change anywhere in a closed trace is reported as an
// error: a checksum, the framing or the header says so, never a report.
TEST(TraceDurability, EveryFlippedByteIsReportedNotRead)
{
    std::string path = temp("flips");
    auto w = TraceWriter::create(path, test::sample_info());
    ASSERT_TRUE(w.ok());
    test::write_sample(w.value());
    ASSERT_TRUE(w->finish(FinishEvent{9000, 0, 0, StopReason::Duration, -1}).ok());
    std::string full = slurp(path);
    size_t misread = 0;
    std::string first_misread;
    for (size_t at = 0; at < full.size(); ++at) {
        for (uint8_t mask : {0x01, 0x80, 0xff}) {
            std::string bad = full;
            bad[at] = static_cast<char>(bad[at] ^ mask);
            auto got = read_bytes(bad, false);
            if (got.summary.ok()) {
                if (!misread++) first_misread = "byte " + std::to_string(at) + " ^ " + std::to_string(mask);
            }
        }
    }
    EXPECT_EQ(misread, 0u) << "first: " << first_misread << " of " << full.size() << " bytes";
}

TEST(TraceDurability, ChecksumErrorsNameTheDamagedBytes)
{
    std::string path = temp("crc");
    auto w = TraceWriter::create(path, test::sample_info());
    ASSERT_TRUE(w.ok());
    test::write_sample(w.value());
    ASSERT_TRUE(w->finish(FinishEvent{9000, 0, 0, StopReason::Duration, -1}).ok());
    std::string bad = slurp(path);
    size_t at = bad.size() - 200;
    bad[at] ^= 0x10;
    auto got = read_bytes(bad, true);
    ASSERT_FALSE(got.summary.ok());
    EXPECT_THAT(got.summary.error().message, HasSubstr("checksum mismatch in bytes")) << got.summary.error().message;
    EXPECT_TRUE(got.events.empty()) << "nothing of a damaged block is passed on";
}

TEST(TraceDurability, ASecondWriterOfTheSamePathIsRefused)
{
    std::string path = temp("twice");
    auto first = TraceFile::claim(path);
    ASSERT_TRUE(first.ok()) << first.error().message;
    auto second = TraceFile::claim(path, {.keep_previous = true});
    ASSERT_FALSE(second.ok());
    EXPECT_THAT(second.error().message, HasSubstr("another pintrace record")) << second.error().message;
    EXPECT_FALSE(std::filesystem::exists(path + ".old")) << "a refused recorder must not move the file";
}

TEST(TraceDurability, AnEarlierTraceIsKeptAsOld)
{
    std::string path = temp("keep");
    std::filesystem::remove(path + ".old");
    {
        auto w = TraceWriter::create(path, test::sample_info());
        ASSERT_TRUE(w.ok());
        test::write_sample(w.value());
        ASSERT_TRUE(w->finish(FinishEvent{9000, 0, 0, StopReason::Duration, -1}).ok());
    }
    std::string earlier = slurp(path);
    auto again = TraceFile::claim(path, {.keep_previous = true});
    ASSERT_TRUE(again.ok()) << again.error().message;
    EXPECT_EQ(again->previous(), path + ".old");
    EXPECT_EQ(slurp(path + ".old"), earlier);
    EXPECT_EQ(std::filesystem::file_size(path), 0u);
}

TEST(TraceDurability, TraceFilesArePrivate)
{
    std::string path = temp("mode");
    {
        std::ofstream(path) << "x";
    }
    chmod(path.c_str(), 0644);
    auto w = TraceWriter::create(path, test::sample_info());
    ASSERT_TRUE(w.ok());
    struct stat st;
    ASSERT_EQ(stat(path.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    std::filesystem::remove(path);
    auto fresh = TraceWriter::create(path, test::sample_info());
    ASSERT_TRUE(fresh.ok());
    ASSERT_EQ(stat(path.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
}

// Opening a FIFO for reading waits for a writer: it must be refused first.
TEST(TraceDurability, SpecialFilesAreRefusedWithoutWaiting)
{
    std::string fifo = temp("fifo");
    std::filesystem::remove(fifo);
    ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
    auto opened = std::async(std::launch::async, [&] { return TraceReader::open(fifo); });
    ASSERT_EQ(opened.wait_for(std::chrono::seconds(5)), std::future_status::ready) << "open of a FIFO hangs";
    auto reader = opened.get();
    ASSERT_FALSE(reader.ok());
    EXPECT_THAT(reader.error().message, HasSubstr("not a regular file"));
    auto claimed = std::async(std::launch::async, [&] { return TraceFile::claim(fifo); });
    ASSERT_EQ(claimed.wait_for(std::chrono::seconds(5)), std::future_status::ready) << "claim of a FIFO hangs";
    auto file = claimed.get();
    ASSERT_FALSE(file.ok());
    EXPECT_THAT(file.error().message, HasSubstr("not a regular file"));
    auto dir = TraceReader::open(::testing::TempDir());
    ASSERT_FALSE(dir.ok());
}

TEST(TraceDurability, AnEmptyFileSaysNothingWasRecorded)
{
    std::string path = temp("empty");
    {
        std::ofstream(path).flush();
    }
    auto reader = TraceReader::open(path);
    ASSERT_FALSE(reader.ok());
    EXPECT_THAT(reader.error().message, HasSubstr("before it wrote the trace header")) << reader.error().message;
}

// A small tmpfs fills up mid-recording: the file is cut back to its last
// whole block, still takes its Finish record, and says why it stopped.
class FullDisk : public ::testing::Test {
protected:
    void SetUp() override
    {
        if (geteuid() != 0) GTEST_SKIP() << "mounting a small tmpfs needs root";
        dir_ = temp("tmpfs");
        std::filesystem::create_directories(dir_);
        ASSERT_EQ(mount("pintrace-test", dir_.c_str(), "tmpfs", 0, "size=64k"), 0) << std::strerror(errno);
    }
    void TearDown() override
    {
        if (!dir_.empty()) umount2(dir_.c_str(), MNT_DETACH);
    }
    std::string dir_;
};

TEST_F(FullDisk, TheRecordingStopsWithAReadableClosedFile)
{
    std::string path = dir_ + "/full.trace";
    auto file = TraceFile::claim(path);
    ASSERT_TRUE(file.ok());
    auto w = TraceWriter::create(std::move(file.value()), test::sample_info(), {.block_bytes = 4096});
    ASSERT_TRUE(w.ok());
    Result<void> appended;
    uint64_t i = 0;
    for (; i < 100000 && appended; ++i)
        appended = w->append_kernel_record(test::raw_grab(2000 + i, 4242, 0x100 + i, pin_flags()));
    ASSERT_FALSE(appended.ok()) << "64 KiB never filled";
    EXPECT_THAT(appended.error().message, HasSubstr("No space left on device")) << appended.error().message;
    EXPECT_EQ(w->write_errno(), ENOSPC);
    EXPECT_FALSE(w->append(LostEvent{1, 2, 3}).ok()) << "appends after a failed write fail";
    auto finished = w->finish(FinishEvent{9000, 0, 0, StopReason::Duration, -1});
    EXPECT_FALSE(finished.ok()) << "finish reports the write failure";
    EXPECT_TRUE(w->closed()) << "the Finish record still fits";
    auto got = read_bytes(slurp(path), false);
    ASSERT_TRUE(got.summary.ok()) << got.summary.error().message;
    EXPECT_TRUE(got.summary->finished);
    const auto& f = std::get<FinishEvent>(got.events.back());
    EXPECT_EQ(f.reason, StopReason::WriteFailed);
    EXPECT_EQ(f.error, ENOSPC);
    EXPECT_GT(got.summary->records, 100u);
    EXPECT_EQ(got.summary->records, walk_framing(slurp(path)).records);
}

}  // namespace
}  // namespace pintrace
