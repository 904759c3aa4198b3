#include "capture/recorder.hpp"

#include <time.h>

#include <cstring>
#include <unordered_set>

#include "capture/symbolize.hpp"
#include "pintrace.h"

namespace pintrace {
namespace {

class StackCollector {
public:
    explicit StackCollector(CaptureSession& session) : session_(session), kernel_(KernelSymbols::load()) {}

    // Writes each stack the first time a record refers to it. User stacks
    // are resolved per process, while the process is (usually) still alive.
    Result<void> note(const pt_grab& g, TraceWriter& writer)
    {
        if (g.kstack_id >= 0 && kernel_seen_.insert(g.kstack_id).second) {
            StackEvent s{g.kstack_id, StackKind::Kernel, 0, {}};
            for (auto ip : session_.stack_addresses(g.kstack_id)) {
                std::string sym = kernel_.resolve(ip);
                // pintrace's own program and its trampoline are not the culprit's code path.
                if (s.frames.empty() && (sym.starts_with("bpf_prog_") || sym.starts_with("bpf_trampoline_")))
                    continue;
                s.frames.push_back({ip, std::move(sym)});
            }
            if (auto r = writer.append(s); !r) return r;
        }
        uint64_t user_key = (uint64_t{g.h.tgid} << 32) | static_cast<uint32_t>(g.ustack_id);
        if (g.ustack_id >= 0 && user_seen_.insert(user_key).second) {
            StackEvent s{g.ustack_id, StackKind::User, g.h.tgid, {}};
            for (auto ip : session_.stack_addresses(g.ustack_id)) s.frames.push_back({ip, user_.resolve(g.h.tgid, ip)});
            if (auto r = writer.append(s); !r) return r;
        }
        return {};
    }

private:
    CaptureSession& session_;
    KernelSymbols kernel_;
    UserSymbols user_;
    std::unordered_set<int32_t> kernel_seen_;
    std::unordered_set<uint64_t> user_seen_;
};

}  // namespace

uint64_t monotonic_now_ns()
{
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return uint64_t(ts.tv_sec) * 1000000000ull + uint64_t(ts.tv_nsec);
}

Result<FinishEvent> record_until_stopped(CaptureSession& session, TraceWriter& writer, const RecorderOptions& options)
{
    StackCollector stacks(session);
    Result<void> status;
    auto sink = [&](std::span<const std::byte> rec) {
        if (!status) return;
        status = writer.append_kernel_record(rec);
        uint16_t type;
        std::memcpy(&type, rec.data(), sizeof type);
        if (status && type == PT_REC_GRAB && rec.size() >= sizeof(pt_grab)) {
            pt_grab g;
            std::memcpy(&g, rec.data(), sizeof g);
            status = stacks.note(g, writer);
        }
    };

    FinishEvent finish;
    uint64_t lost_seen = 0, last_drain = monotonic_now_ns();
    for (;;) {
        auto stop = options.stop ? options.stop() : std::nullopt;
        // One last drain after the stop decision, so nothing the kernel
        // already produced is left behind.
        auto polled = session.poll(stop ? 0 : options.drain_interval_ms, sink);
        uint64_t now = monotonic_now_ns();
        if (uint64_t lost = session.lost_total(); lost > lost_seen) {
            if (auto r = writer.append(LostEvent{last_drain, now, lost - lost_seen}); !r) return r.error();
            lost_seen = lost;
        }
        last_drain = now;
        if (!status) return status.error();
        if (!polled) {
            finish.reason = StopReason::Error;
            break;
        }
        if (stop) {
            finish.reason = *stop;
            break;
        }
    }
    finish.end_ns = monotonic_now_ns();
    finish.lost = lost_seen;
    return finish;
}

}  // namespace pintrace
