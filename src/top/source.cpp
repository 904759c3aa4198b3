#include "top/source.hpp"

#include <bpf/bpf.h>
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <thread>

#include "capture/recorder.hpp"
#include "events/decode.hpp"
#include "explain/event_order.hpp"
#include "trace/writer.hpp"
#include "util/clock.hpp"

namespace pintrace::top {
namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kTickEvery = std::chrono::milliseconds(100);

class ReplaySource final : public EventSource {
public:
    ReplaySource(TraceReader reader, std::string name, double speed, bool allow_incomplete)
        : reader_(std::move(reader)), name_(std::move(name)), speed_(speed), allow_incomplete_(allow_incomplete)
    {
    }

    const TraceInfo& info() const override { return reader_.info(); }

    Result<void> run(const Sink& sink, const Tick& tick) override
    {
        bool stopped = false;
        std::optional<uint64_t> first_ts;
        Clock::time_point start = Clock::now(), last_tick = start;
        uint64_t n = 0;
        auto ticked = [&](Clock::time_point now) {
            last_tick = now;
            stopped = !tick();
            return !stopped;
        };
        // The reader pushes every record; once stopped, the rest are skipped
        // (decoding what is left of a mapped file is quick).
        auto read = reader_.read(
            [&](const Event& e) {
                if (stopped) return;
                auto ts = event_time(e);
                if (ts && speed_ > 0) {
                    if (!first_ts) first_ts = *ts;
                    // Records a little out of order (other CPUs) are due at once.
                    double due_s = *ts > *first_ts ? double(*ts - *first_ts) / 1e9 / speed_ : 0;
                    auto due =
                        start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(due_s));
                    for (auto now = Clock::now(); now < due; now = Clock::now()) {
                        std::this_thread::sleep_for(std::min<Clock::duration>(due - now, kTickEvery));
                        if (Clock::now() - last_tick >= kTickEvery && !ticked(Clock::now())) return;
                    }
                }
                sink(e);
                if ((++n & 1023) == 0 || speed_ > 0) {
                    auto now = Clock::now();
                    if (now - last_tick >= kTickEvery) ticked(now);
                }
            },
            {allow_incomplete_});
        if (!read) return read.error();
        return {};
    }

    void describe(SourceStatus& s) override
    {
        char speed[32];
        std::snprintf(speed, sizeof speed, "%g", speed_);
        s.mode = "replay " + name_ + (speed_ > 0 ? " at " + std::string(speed) + "x" : " (unpaced)");
        s.bpf_known = false;
        s.bpf_note = "n/a (replay)";
    }

private:
    TraceReader reader_;
    std::string name_;
    double speed_;
    bool allow_incomplete_;
};

// The recorder's drain loop with a live view as its sink: the same
// symbolized stacks and lost-event windows a trace file would get, decoded
// on the spot instead of written.
class LiveSource final : public EventSource, private RecordSink {
public:
    explicit LiveSource(std::unique_ptr<CaptureSession> session)
        : session_(std::move(session)), info_(session_->info()), recorder_(*session_, *this)
    {
        info_.meta["pintrace_version"] = PINTRACE_VERSION;
        info_.meta["start_monotonic_ns"] = std::to_string(monotonic_now_ns());
        info_.meta["start_realtime_ns"] = std::to_string(realtime_now_ns());
        // The kernel times BPF programs only while someone asks; the fd
        // keeps it on until top exits.
        stats_fd_ = bpf_enable_stats(BPF_STATS_RUN_TIME);
        last_describe_ = Clock::now();
        take_bpf_totals(last_runs_, last_ns_);
    }
    ~LiveSource() override
    {
        if (stats_fd_ >= 0) close(stats_fd_);
    }

    const TraceInfo& info() const override { return info_; }

    Result<void> run(const Sink& sink, const Tick& tick) override
    {
        sink_ = &sink;
        RecorderOptions ro;
        ro.stop = [&]() -> std::optional<StopReason> {
            if (tick()) return std::nullopt;
            return StopReason::Signal;
        };
        auto finish = recorder_.run(ro);
        if (!finish) return finish.error();
        sink(Event{finish.value()});
        return {};
    }

    void describe(SourceStatus& s) override
    {
        s.mode = "live";
        uint64_t runs = 0, ns = 0;
        take_bpf_totals(runs, ns);
        auto now = Clock::now();
        double wall_ns = std::chrono::duration<double, std::nano>(now - last_describe_).count();
        if (ns > 0 || stats_fd_ >= 0) {
            s.bpf_known = true;
            s.bpf_runs = runs - last_runs_;
            s.bpf_ns_per_run = s.bpf_runs ? double(ns - last_ns_) / double(s.bpf_runs) : 0;
            s.bpf_cpu_fraction = wall_ns > 0 ? double(ns - last_ns_) / wall_ns : 0;
        } else {
            s.bpf_known = false;
            s.bpf_note = "unknown (kernel.bpf_stats_enabled is off and could not be turned on)";
        }
        last_runs_ = runs;
        last_ns_ = ns;
        last_describe_ = now;
    }

private:
    Result<void> append_kernel_record(std::span<const std::byte> record) override
    {
        auto decoded = decode_kernel_record(record, info_.flags, scratch_);
        if (!decoded) return decoded.error();
        if (decoded.value()) (*sink_)(scratch_);
        return {};
    }
    Result<void> append(const StackEvent& stack) override
    {
        (*sink_)(Event{stack});
        return {};
    }
    Result<void> append(const LostEvent& lost) override
    {
        (*sink_)(Event{lost});
        return {};
    }
    Result<void> append(const ProcessInfoEvent& process) override
    {
        (*sink_)(Event{process});
        return {};
    }

    void take_bpf_totals(uint64_t& runs, uint64_t& ns) const
    {
        runs = ns = 0;
        for (const auto& p : session_->program_stats()) {
            runs += p.run_cnt;
            ns += p.run_time_ns;
        }
    }

    std::unique_ptr<CaptureSession> session_;
    TraceInfo info_;
    Recorder recorder_;
    const Sink* sink_ = nullptr;
    Event scratch_;
    int stats_fd_ = -1;
    Clock::time_point last_describe_;
    uint64_t last_runs_ = 0, last_ns_ = 0;
};

}  // namespace

std::unique_ptr<EventSource> replay_source(TraceReader reader, const std::string& name, double speed,
                                           bool allow_incomplete)
{
    return std::make_unique<ReplaySource>(std::move(reader), name, speed, allow_incomplete);
}

Result<std::unique_ptr<EventSource>> live_source(const CaptureOptions& options)
{
    auto session = CaptureSession::open(options);
    if (!session) return session.error();
    return std::unique_ptr<EventSource>(std::make_unique<LiveSource>(std::move(session.value())));
}

}  // namespace pintrace::top
