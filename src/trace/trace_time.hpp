// Times and pages as users type them on report's command line, turned into
// the trace's own terms.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "trace/trace_info.hpp"
#include "util/result.hpp"

namespace pintrace {

// A moment in the trace, as CLOCK_MONOTONIC ns: "+90s" or "90s" (after the
// recording started), "14:05:30[.250]" (UTC, on the day the recording
// started), or "2026-11-22T14:05:30[.250]" / "2026-11-22 14:05:30" (UTC).
Result<uint64_t> parse_trace_time(std::string_view text, const TraceInfo& info);

// "0x1a2b", "6699" or several of them comma-separated.
Result<std::vector<uint64_t>> parse_pfn_list(std::string_view text);

}  // namespace pintrace
