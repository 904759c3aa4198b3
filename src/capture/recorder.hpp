// Drains a capture session into a trace file (or any RecordSink) until told
// to stop, adding what only user space knows: symbolized stacks, which
// program and cgroup each pinning process is, and lost-event windows.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <variant>
#include <vector>

#include "capture/session.hpp"
#include "events/event.hpp"
#include "trace/writer.hpp"
#include "util/clock.hpp"

namespace pintrace {

struct RecorderOptions {
    int drain_interval_ms = 100;
    // Polled after every drain; a value stops the recording.
    std::function<std::optional<StopReason>()> stop;
    // Called after every drain, before stop: work that must not hold up
    // draining (record --snapshot writes its snapshot from here once it is
    // ready). An error ends the recording with it.
    std::function<Result<void>()> between_drains;
};

// Keeps what a Recorder drains in memory until release(), then passes it
// on, the held records first: record --snapshot writes its snapshot ahead
// of every traced record while the kernel keeps being drained.
class HoldingSink : public RecordSink {
public:
    // Past max_bytes of kernel records held, further ones are dropped and
    // passed on as a lost-event window, like the ring buffer's own losses.
    static constexpr size_t kMaxHeldBytes = size_t{256} << 20;
    explicit HoldingSink(RecordSink& next, size_t max_bytes = kMaxHeldBytes) : next_(next), max_bytes_(max_bytes) {}
    Result<void> append_kernel_record(std::span<const std::byte> record) override;
    Result<void> append(const StackEvent& stack) override;
    Result<void> append(const LostEvent& lost) override;
    Result<void> append(const ProcessInfoEvent& process) override;
    Result<void> append(const PipeOpenersEvent& pipe) override;
    Result<void> checkpoint() override;
    Result<void> release();
    bool holding() const { return holding_; }
    size_t held_bytes() const { return held_bytes_; }

private:
    using Held = std::variant<std::vector<std::byte>, StackEvent, LostEvent, ProcessInfoEvent, PipeOpenersEvent>;
    RecordSink& next_;
    size_t max_bytes_;
    bool holding_ = true;
    std::vector<Held> held_;
    size_t held_bytes_ = 0;
    LostEvent dropped_;  // count 0: nothing dropped
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

}  // namespace pintrace
