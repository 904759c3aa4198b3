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

// How far a read got and how much of it was checked: what a report says
// about a file that was not closed.
struct ReadSummary {
    uint64_t records = 0;  // passed on or skipped as unknown (seals not counted)
    uint64_t unknown_records = 0;  // from a newer pintrace: skipped
    bool finished = false;  // a Finish record closed the file
    bool sealed = false;  // format 1.3+: blocks carry checksums
    uint64_t blocks = 0;  // blocks whose checksum matched (the header's included)
    uint64_t last_block_ns = 0;  // CLOCK_MONOTONIC when the last of them was written
    // A recorder that stopped mid-write leaves a block without its seal:
    // its whole records are read unchecked (allow_incomplete only), and a
    // last partial record, or a zero-filled end, is skipped.
    uint64_t unverified_records = 0;
    uint64_t end_offset = 0;  // where the records read end
    uint64_t torn_bytes = 0;  // skipped after end_offset
    uint64_t file_bytes = 0;
    bool being_written = false;  // a recorder held the file's lock when it was opened
    // Kernel records naming pages outside the header's System RAM (device
    // memory, or memory added while recording): read like any other.
    uint64_t outside_ram_records = 0;
};

// A trace file mapped into memory. Errors name the problem and the byte
// offset; the CLI adds the file name. Nothing of a sealed block (1.3) is
// passed on before its checksum is checked: a corrupt file is reported as
// corrupt, never turned into figures.
class TraceReader {
public:
    static Result<TraceReader> open(const std::string& path);
    static Result<TraceReader> from_bytes(std::string bytes);

    const TraceInfo& info() const { return info_; }
    Result<ReadSummary> read(const std::function<void(const Event&)>& sink, ReadOptions options = {}) const;

private:
    TraceReader() = default;
    Result<void> parse_header();
    Result<ReadSummary> read_legacy(const std::function<void(const Event&)>& sink, ReadOptions options) const;
    Result<ReadSummary> read_sealed(const std::function<void(const Event&)>& sink, ReadOptions options) const;
    Result<bool> deliver(size_t from, size_t to, const std::function<void(const Event&)>& sink,
                         ReadSummary& summary) const;

    std::shared_ptr<const void> owner_;  // the mapping or buffer behind data_
    std::span<const std::byte> data_;
    size_t records_offset_ = 0;
    uint16_t minor_ = 0;
    bool being_written_ = false;
    TraceInfo info_;
    PfnBounds pfns_;  // the header's ram_pfns, else the architecture's limit
};

// Recomputes every seal of a 1.3 trace for the bytes it now holds. For
// tests and fuzzing, which alter files on purpose and want the decoder, not
// the checksum, to meet the change. Stops where the framing does.
std::string reseal(std::string bytes);

}  // namespace pintrace
