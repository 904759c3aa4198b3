// Drains a capture session into a trace file (or any RecordSink) until told
// to stop, adding what only user space knows: symbolized stacks, which
// program and cgroup each pinning process is, and lost-event windows.
#pragma once

#include <functional>
#include <memory>
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

class Recorder {
public:
    // Does the slow set-up (kernel symbols) now: construct it before
    // starting a traced command, so draining starts with the command.
    Recorder(CaptureSession& session, RecordSink& writer);
    ~Recorder();

    // Drains until options.stop says so, then once more. The caller writes
    // the returned Finish record (adding what only it knows).
    Result<FinishEvent> run(const RecorderOptions& options);

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

uint64_t monotonic_now_ns();

}  // namespace pintrace
