// Where top's events come from: a trace replayed at its recorded pace, or
// the kernel, live. Both hand decoded events to the same sink (an
// Explainer), so the view cannot tell them apart.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "capture/session.hpp"
#include "events/event.hpp"
#include "top/screen.hpp"
#include "trace/reader.hpp"
#include "trace/trace_info.hpp"
#include "util/result.hpp"

namespace pintrace::top {

class EventSource {
public:
    using Sink = std::function<void(const Event&)>;
    // Returns false to stop the source.
    using Tick = std::function<bool()>;

    virtual ~EventSource() = default;
    virtual const TraceInfo& info() const = 0;
    // Hands events to sink until the source ends (end of trace, capture
    // error) or tick returns false. tick runs at least every 100 ms, also
    // while nothing happens: top reads keys and redraws there.
    virtual Result<void> run(const Sink& sink, const Tick& tick) = 0;
    // The header's facts about the source; BPF cost is measured over the
    // time since the previous call.
    virtual void describe(SourceStatus& status) = 0;
};

// speed: 1 is the recorded pace, 2 twice as fast, 0 as fast as it reads.
std::unique_ptr<EventSource> replay_source(TraceReader reader, const std::string& name, double speed,
                                           bool allow_incomplete);

// Opens and attaches the BPF programs (needs root), and turns on the
// kernel's BPF run-time statistics for as long as it lives.
Result<std::unique_ptr<EventSource>> live_source(const CaptureOptions& options);

}  // namespace pintrace::top
