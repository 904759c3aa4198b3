// Drains a capture session into a trace file until told to stop, adding what
// only user space knows: symbolized stacks and lost-event windows.
#pragma once

#include <functional>
#include <optional>

#include "capture/session.hpp"
#include "events/event.hpp"
#include "trace/writer.hpp"

namespace pintrace {

struct RecorderOptions {
    int drain_interval_ms = 100;
    // Polled after every drain; a value stops the recording.
    std::function<std::optional<StopReason>()> stop;
};

// Returns the Finish record it wrote. The file is complete when it returns,
// whatever stopped the recording.
Result<FinishEvent> record_until_stopped(CaptureSession& session, TraceWriter& writer, const RecorderOptions& options);

uint64_t monotonic_now_ns();

}  // namespace pintrace
