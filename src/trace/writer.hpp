#pragma once

#include <cstdio>
#include <memory>
#include <span>
#include <string>

#include "events/event.hpp"
#include "trace/trace_info.hpp"
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
};

// Appends records to a trace file. Everything written is complete on disk
// once finish() returns; a writer destroyed without finish() leaves a file
// that readers report as not closed.
class TraceWriter : public RecordSink {
public:
    static Result<TraceWriter> create(const std::string& path, const TraceInfo& info);

    Result<void> append_kernel_record(std::span<const std::byte> record) override;
    Result<void> append(const StackEvent& stack) override;
    Result<void> append(const LostEvent& lost) override;
    Result<void> append(const ProcessInfoEvent& process) override;
    // A snapshot's records (record --snapshot): more pages or pfns than a
    // record holds are split over several records, which readers join.
    Result<void> append(const SnapshotPagesEvent& pages);
    Result<void> append(const SnapshotHolderEvent& holder);
    Result<void> append(const SnapshotEndEvent& end);
    Result<void> finish(const FinishEvent& finish);

    uint64_t records() const { return records_; }

private:
    struct FileCloser {
        void operator()(std::FILE* f) const { std::fclose(f); }
    };
    TraceWriter(std::unique_ptr<std::FILE, FileCloser> file, std::string path)
        : file_(std::move(file)), path_(std::move(path)) {}
    Result<void> write_user_record(uint16_t type, std::span<const std::byte> payload, size_t min_size = 0);
    Result<void> write(const void* data, size_t size);

    std::unique_ptr<std::FILE, FileCloser> file_;
    std::string path_;
    uint64_t records_ = 0;
};

std::string encode_section_text(const TraceInfo& info, uint16_t section);

}  // namespace pintrace
