#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <span>
#include <string>

#include "events/bounds.hpp"
#include "events/event.hpp"
#include "trace/trace_info.hpp"
#include "util/result.hpp"

namespace pintrace {

struct ReadOptions {
    // Read what is there from a file that was never closed (killed recorder)
    // instead of refusing it; the report then says it is incomplete.
    bool allow_incomplete = false;
};

struct ReadSummary {
    uint64_t records = 0;
    uint64_t unknown_records = 0;  // from a newer pintrace: skipped
    bool finished = false;         // a Finish record closed the file
};

// A trace file mapped into memory. Errors name the problem and the byte
// offset; the CLI adds the file name.
class TraceReader {
public:
    static Result<TraceReader> open(const std::string& path);
    static Result<TraceReader> from_bytes(std::string bytes);

    const TraceInfo& info() const { return info_; }
    Result<ReadSummary> read(const std::function<void(const Event&)>& sink, ReadOptions options = {}) const;

private:
    TraceReader() = default;
    Result<void> parse_header();

    std::shared_ptr<const void> owner_;  // the mapping or buffer behind data_
    std::span<const std::byte> data_;
    size_t records_offset_ = 0;
    TraceInfo info_;
    PfnBounds pfns_;  // the header's ram_pfns, else the architecture's limit
};


}  // namespace pintrace
