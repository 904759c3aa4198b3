// top's two loops over an event source: the full-screen view, and batch
// snapshots (text or JSON lines) for runbooks and scripts.
#pragma once

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <string>

#include "top/screen.hpp"
#include "top/source.hpp"
#include "top/terminal.hpp"

namespace pintrace::top {

struct TopOptions {
    double interval_s = 1;
    uint64_t iterations = 0;  // batch: snapshots to print (0: until the source ends or a signal)
    bool json = false;
    int width = 120;  // batch text lines
    // Set by a signal handler: stop at the next tick.
    const std::atomic<int>* stop = nullptr;
};

// Exit status: 0, or 1 when the source failed (the error is returned).
Result<void> run_batch(EventSource& source, TopState state, const TopOptions& options, std::FILE* out);
Result<void> run_interactive(EventSource& source, Terminal& terminal, TopState state, const TopOptions& options);

// One snapshot as one line of JSON (schema pintrace.top/1, docs/report-json.md).
std::string snapshot_json(const Report& r, const SourceStatus& src, const TopState& s, std::span<const PinnerRow> rows);

}  // namespace pintrace::top
