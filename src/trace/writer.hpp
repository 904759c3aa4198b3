#pragma once

#include <memory>
#include <span>
#include <string>
#include <vector>

#include "events/event.hpp"
#include "trace/format.hpp"
#include "trace/trace_info.hpp"
#include "util/fd.hpp"
#include "util/result.hpp"

namespace pintrace {

// Where a Recorder puts what it drains: a trace file, or a live view (top)
// that decodes the records as they come.
class RecordSink {
public:
    virtual ~RecordSink() = default;
    virtual Result<void> append_kernel_record(std::span<const std::byte> record) = 0;
    virtual Result<void> append(const StackEvent& stack) = 0;
    virtual Result<void> append(const LostEvent& lost) = 0;
    virtual Result<void> append(const ProcessInfoEvent& process) = 0;
    // A live view that does not show pipes (top) keeps none.
    virtual Result<void> append(const PipeOpenersEvent&) { return {}; }
    // Called after every drain: a file sink writes out what it has held
    // long enough, so a recorder killed at any moment loses little.
    virtual Result<void> checkpoint() { return {}; }
};

struct TraceFileOptions {
    // An existing file at the path is renamed PATH.old rather than
    // overwritten (as perf does with perf.data): it may be the only
    // evidence of an earlier incident.
    bool keep_previous = false;
};

// A trace file claimed for writing: created 0600 (it holds the command
// lines, paths and stacks of every process that pinned, as perf.data does)
// and locked, so a second recorder of the same path is refused rather than
// mixing its records in. The lock lasts as long as the TraceFile (or the
// TraceWriter it becomes); readers use it to tell a live recording.
class TraceFile {
public:
    static Result<TraceFile> claim(const std::string& path, TraceFileOptions options = {});
    const std::string& path() const { return path_; }
    const std::string& previous() const { return previous_; }  // PATH.old, or empty

private:
    friend class TraceWriter;
    TraceFile(Fd fd, std::string path, std::string previous)
        : fd_(std::move(fd)), path_(std::move(path)), previous_(std::move(previous))
    {
    }
    Fd fd_;
    std::string path_;
    std::string previous_;
};

struct TraceWriterOptions {
    size_t block_bytes = size_t{1} << 20;  // a block is written once it holds this much
    uint64_t flush_interval_ns = 1'000'000'000;  // or once its first record is this old
};

// Appends records to a trace file in sealed blocks (docs/trace-format.md):
// the header is on disk before the first record is taken; a block is
// written whole, with its checksum, when it is big enough, old enough (at a
// checkpoint), after a lost-event window, and at finish(), which also syncs
// the file. A writer destroyed without finish() writes what it holds and
// leaves a file that readers report as not closed.
//
// A failed write (disk full, quota, I/O error) cuts the file back to its
// last whole block and makes every later append fail; finish() then still
// tries to close the file with StopReason::WriteFailed.
class TraceWriter : public RecordSink {
public:
    static Result<TraceWriter> create(TraceFile file, const TraceInfo& info, TraceWriterOptions options = {});
    static Result<TraceWriter> create(const std::string& path, const TraceInfo& info);
    TraceWriter(TraceWriter&&) = default;
    TraceWriter& operator=(TraceWriter&&) = delete;
    ~TraceWriter() override;

    Result<void> append_kernel_record(std::span<const std::byte> record) override;
    Result<void> append(const StackEvent& stack) override;
    Result<void> append(const LostEvent& lost) override;
    Result<void> append(const ProcessInfoEvent& process) override;
    Result<void> append(const PipeOpenersEvent& pipe) override;
    // A snapshot's records (record --snapshot): more pages or pfns than a
    // record holds are split over several records, which readers join.
    Result<void> append(const SnapshotPagesEvent& pages);
    Result<void> append(const SnapshotHolderEvent& holder);
    Result<void> append(const SnapshotEndEvent& end);
    Result<void> checkpoint() override;
    Result<void> finish(const FinishEvent& finish);

    uint64_t records() const { return records_; }
    uint64_t bytes_written() const { return file_end_; }  // whole blocks on disk
    int write_errno() const { return write_errno_; }  // 0 until a write fails
    bool closed() const { return closed_; }  // its Finish record is on disk
    const std::string& path() const { return file_.path(); }

private:
    TraceWriter(TraceFile file, TraceWriterOptions options) : file_(std::move(file)), options_(options) {}
    Result<void> write_user_record(uint16_t type, std::span<const std::byte> payload, size_t min_size = 0);
    void put(const void* data, size_t size);
    Result<void> end_record();
    Result<void> write_block(trace::SealReason reason);
    Error write_error() const;

    TraceFile file_;
    TraceWriterOptions options_;
    std::vector<std::byte> block_;  // the block being filled, not yet written
    uint64_t block_records_ = 0;
    uint64_t block_first_ns_ = 0;  // when its first record came
    uint64_t file_end_ = 0;  // bytes of whole blocks written
    uint64_t records_ = 0;
    int write_errno_ = 0;
    bool finished_ = false;
    bool closed_ = false;
};

std::string encode_section_text(const TraceInfo& info, uint16_t section);

}  // namespace pintrace
