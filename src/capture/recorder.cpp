#include "capture/recorder.hpp"

#include <time.h>

#include <cstring>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "capture/pipe_openers.hpp"
#include "capture/process_info.hpp"
#include "capture/symbolize.hpp"
#include "pintrace.h"

namespace pintrace {
namespace {

class StackCollector {
public:
    explicit StackCollector(CaptureSession& session) : session_(session), kernel_(KernelSymbols::load()) {}

    // Kernel stacks are written the first time a record refers to them.
    // User stacks wait for the end of the drain (flush), when every exec in
    // the batch is known, or for their process's exit.
    Result<void> note(const pt_grab& g, RecordSink& writer)
    {
        if (g.kstack_id >= 0 && kernel_seen_.insert(g.kstack_id).second) {
            StackEvent s{g.kstack_id, StackKind::Kernel, 0, {}};
            for (auto ip : session_.stack_addresses(g.kstack_id)) {
                std::string sym = kernel_.resolve(ip);
                // pintrace's own program and its trampoline are not the culprit's code path.
                if (s.frames.empty() && (sym.starts_with("bpf_prog_") || sym.starts_with("bpf_trampoline_"))) continue;
                s.frames.push_back({ip, std::move(sym)});
            }
            if (auto r = writer.append(s); !r) return r;
        }
        // A pin parked in the kernel past its process's exit comes after
        // it (docs/pairing.md): its user stack was the exited process's,
        // whose maps are gone; what /proc shows now may be another
        // process under the pid. Written unresolved, never named wrongly.
        if (exited_before(g.h.tgid, g.h.ts_ns)) {
            if (g.ustack_id < 0) return {};
            return write_user({g.ustack_id, g.h.tgid, g.h.ts_ns}, false, writer);
        }
        uint64_t user_key = (uint64_t{g.h.tgid} << 32) | static_cast<uint32_t>(g.ustack_id);
        if (g.ustack_id >= 0 && user_seen_.insert(user_key).second)
            pending_user_.push_back({g.ustack_id, g.h.tgid, g.h.ts_ns});
        return {};
    }

    // Whether the process was seen to exit after ts_ns: a late grab of it.
    // A grab stamped after the exit is a new process under the pid.
    bool exited_before(uint32_t tgid, uint64_t ts_ns)
    {
        auto it = exited_ns_.find(tgid);
        if (it == exited_ns_.end()) return false;
        if (ts_ns < it->second) return true;
        exited_ns_.erase(it);
        return false;
    }

    void note_exec(uint32_t tgid, uint64_t ts_ns)
    {
        last_exec_ns_[tgid] = ts_ns;
        user_.forget(tgid);
    }

    // The process's memory map went before the exit tracepoint (exit_mm), and
    // its pid may come back as another process: its pending stacks resolve
    // now from the maps read while it lived, or not at all, and the next
    // process under the pid starts afresh.
    Result<void> note_exit(uint32_t tgid, uint64_t ts_ns, RecordSink& writer)
    {
        exited_ns_[tgid] = ts_ns;
        bool maps_read = user_.has_maps(tgid);
        for (const auto& p : pending_user_)
            if (p.tgid == tgid)
                if (auto r = write_user(p, maps_read, writer); !r) return r;
        std::erase_if(pending_user_, [&](const PendingUser& p) { return p.tgid == tgid; });
        std::erase_if(user_seen_, [&](uint64_t key) { return key >> 32 == tgid; });
        user_.forget(tgid);
        last_exec_ns_.erase(tgid);
        return {};
    }

    Result<void> flush(RecordSink& writer)
    {
        for (const auto& p : pending_user_)
            if (auto r = write_user(p, true, writer); !r) return r;
        pending_user_.clear();
        return {};
    }

private:
    struct PendingUser {
        int32_t id;
        uint32_t tgid;
        uint64_t ts_ns;
    };

    // The maps read now are those after the newest exec: a stack captured
    // before it belongs to a program that is gone, and stays unresolved
    // rather than be named wrongly.
    Result<void> write_user(const PendingUser& p, bool resolve, RecordSink& writer)
    {
        StackEvent s{p.id, StackKind::User, p.tgid, {}};
        auto exec = last_exec_ns_.find(p.tgid);
        bool stale = exec != last_exec_ns_.end() && exec->second > p.ts_ns;
        std::vector<uint64_t> ips = session_.stack_addresses(p.id);
        // The maps are the process's own only when not stale: then a frame
        // outside them is the walk running off the stack, not a caller.
        if (resolve && !stale) ips.resize(user_.plausible_frames(p.tgid, ips));
        for (auto ip : ips) s.frames.push_back({ip, stale || !resolve ? std::string() : user_.resolve(p.tgid, ip)});
        return writer.append(s);
    }

    CaptureSession& session_;
    KernelSymbols kernel_;
    UserSymbols user_;
    std::unordered_set<int32_t> kernel_seen_;
    std::unordered_set<uint64_t> user_seen_;
    std::vector<PendingUser> pending_user_;
    std::unordered_map<uint32_t, uint64_t> last_exec_ns_;
    std::unordered_map<uint32_t, uint64_t> exited_ns_;  // until the pid's next grab after it
};

}  // namespace

struct Recorder::Impl {
    CaptureSession& session;
    RecordSink& writer;
    StackCollector stacks;
    ProcessDescriber processes;
    PipeWatch pipes;
};

Recorder::Recorder(CaptureSession& session, RecordSink& writer)
    : impl_(std::make_unique<Impl>(Impl{session, writer, StackCollector(session), ProcessDescriber(), PipeWatch()}))
{
}

Recorder::~Recorder() = default;

Result<FinishEvent> Recorder::run(const RecorderOptions& options)
{
    CaptureSession& session = impl_->session;
    RecordSink& writer = impl_->writer;
    StackCollector& stacks = impl_->stacks;
    ProcessDescriber& processes = impl_->processes;
    PipeWatch& pipes = impl_->pipes;
    Result<void> status;
    auto sink = [&](std::span<const std::byte> rec) {
        if (!status) return;
        status = writer.append_kernel_record(rec);
        uint16_t type;
        std::memcpy(&type, rec.data(), sizeof type);
        if (status && type == PT_REC_GRAB && rec.size() >= sizeof(pt_grab)) {
            pt_grab g;
            std::memcpy(&g, rec.data(), sizeof g);
            // A late grab of an exited process (pairing) has no process to read.
            bool late = stacks.exited_before(g.h.tgid, g.h.ts_ns);
            status = stacks.note(g, writer);
            if (!late) processes.note_grab(g.h);
            if (pt_grab_in_pipe piped; rec.size() >= sizeof piped) {
                std::memcpy(&piped, rec.data(), sizeof piped);
                pipes.note_splice(piped.pipe_ino);
            }
        } else if (type == PT_REC_FAILED_FOLIO || type == PT_REC_ISOLATION_FAILED ||
                   type == PT_REC_ISOLATION_REFUSED) {
            pipes.note_failure();
        } else if (type == PT_REC_EXEC && rec.size() >= sizeof(pt_exec)) {
            pt_exec x;
            std::memcpy(&x, rec.data(), sizeof x);
            stacks.note_exec(x.h.tgid, x.h.ts_ns);
            processes.note_exec(x.h);
        } else if (type == PT_REC_PROCESS_EXIT && rec.size() >= sizeof(pt_process_exit)) {
            pt_process_exit x;
            std::memcpy(&x, rec.data(), sizeof x);
            processes.note_exit(x.h.tgid);
            if (status) status = stacks.note_exit(x.h.tgid, x.h.ts_ns, writer);
        }
    };

    FinishEvent finish;
    uint64_t lost_seen = 0, last_drain = monotonic_now_ns();
    for (;;) {
        if (options.between_drains && status) status = options.between_drains();
        if (!status) return status.error();
        auto stop = options.stop ? options.stop() : std::nullopt;
        // Pins parked past the threshold are holders worth recording; when
        // stopping, every parked pin is one held at the end.
        if (auto sent = session.send_parked(stop.has_value()); !sent) return sent.error();
        // One last drain after the stop decision, so nothing the kernel
        // already produced is left behind.
        auto polled = session.poll(stop ? 0 : options.drain_interval_ms, sink);
        if (status) status = stacks.flush(writer);
        if (status) status = processes.flush(writer);
        if (status) status = pipes.flush(writer, monotonic_now_ns(), stop.has_value());
        if (status) status = writer.checkpoint();
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
    finish.paired_pins = session.pairs_elided();
    return finish;
}

Result<void> HoldingSink::append_kernel_record(std::span<const std::byte> record)
{
    if (!holding_) return next_.append_kernel_record(record);
    if (held_bytes_ + record.size() > max_bytes_) {
        pt_header h{};
        std::memcpy(&h, record.data(), std::min(record.size(), sizeof h));
        uint64_t ts = h.ts_ns;
        if (!dropped_.count++) dropped_.from_ns = ts;
        dropped_.from_ns = std::min(dropped_.from_ns, ts);
        dropped_.to_ns = std::max(dropped_.to_ns, ts);
        return {};
    }
    held_bytes_ += record.size();
    held_.emplace_back(std::vector<std::byte>(record.begin(), record.end()));
    return {};
}

Result<void> HoldingSink::append(const StackEvent& stack)
{
    if (!holding_) return next_.append(stack);
    held_.emplace_back(stack);
    return {};
}

Result<void> HoldingSink::append(const LostEvent& lost)
{
    if (!holding_) return next_.append(lost);
    held_.emplace_back(lost);
    return {};
}

Result<void> HoldingSink::checkpoint() { return holding_ ? Result<void>{} : next_.checkpoint(); }

Result<void> HoldingSink::append(const ProcessInfoEvent& process)
{
    if (!holding_) return next_.append(process);
    held_.emplace_back(process);
    return {};
}

Result<void> HoldingSink::append(const PipeOpenersEvent& pipe)
{
    if (!holding_) return next_.append(pipe);
    held_.emplace_back(pipe);
    return {};
}

Result<void> HoldingSink::release()
{
    holding_ = false;
    for (const auto& h : held_) {
        Result<void> r = std::visit(
            [&](const auto& x) -> Result<void> {
                if constexpr (std::is_same_v<std::decay_t<decltype(x)>, std::vector<std::byte>>)
                    return next_.append_kernel_record(x);
                else
                    return next_.append(x);
            },
            h);
        if (!r) return r;
    }
    if (dropped_.count)
        if (auto r = next_.append(dropped_); !r) return r;
    held_.clear();
    held_.shrink_to_fit();
    held_bytes_ = 0;
    return {};
}

}  // namespace pintrace
