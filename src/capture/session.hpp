// A live capture: the BPF programs loaded and attached, and the ring buffer
// they fill. Everything it owns is released when it is destroyed.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "trace/trace_info.hpp"
#include "util/result.hpp"

namespace pintrace {

// PINTRACE_TEST_REFUSE_PROGRAM, or empty.
std::string test_refusal_from_environment();

struct CaptureOptions {
    uint32_t ring_buffer_bytes = 16u << 20;
    // Short-term grabs reuse their thread's stack for this long; 0 takes a
    // stack on every grab (exact, and costly at high pin rates).
    uint64_t stack_sample_ns = 1000000000ull;
    // Pair short-term pins with their releases in the kernel and record
    // neither when the release comes within pair_threshold_ns (where the
    // kernel can: docs/pairing.md). false: every grab and release, as
    // `record --all-events` asks (what --pfn histories need).
    bool pair_in_kernel = true;
    uint64_t pair_threshold_ns = kDefaultPairThresholdNs;
    // page_pinner's threshold for a pin worth reporting.
    static constexpr uint64_t kDefaultPairThresholdNs = 300'000'000;
    // Test hook: the kernel is made to refuse this capture program, to show
    // that the others still load and capture (PINTRACE_TEST_REFUSE_PROGRAM).
    std::string refuse_program_for_test = test_refusal_from_environment();
};

// What the kernel measured of one BPF program (kernel.bpf_stats_enabled=1).
struct ProgramStats {
    std::string name;
    uint64_t run_cnt = 0;
    uint64_t run_time_ns = 0;
    // Runs the kernel skipped because BPF was already running on that CPU
    // (5.12+): their events are missing from the trace.
    uint64_t recursion_misses = 0;
};

class CaptureSession {
public:
    using Sink = std::function<void(std::span<const std::byte>)>;

    static Result<std::unique_ptr<CaptureSession>> open(const CaptureOptions& options);
    ~CaptureSession();

    // Kernel facts and the attach table, as the trace header stores them.
    const TraceInfo& info() const { return info_; }

    // Waits up to timeout_ms for a forced wakeup, then hands every record in
    // the ring buffer to the sink.
    Result<void> poll(int timeout_ms, const Sink& sink);
    // Records the kernel could not put in the ring buffer, since open().
    uint64_t lost_total() const;
    // Whether short-term pins are being paired in the kernel.
    bool pairing() const;
    // Sends the pins parked in the kernel for longer than the pairing
    // threshold (every one when `all`: recording stops) into the ring buffer.
    Result<void> send_parked(bool all);
    // Short-term pins paired with their releases and dropped, since open().
    uint64_t pairs_elided() const;
    // Per loaded program; zero counts unless kernel.bpf_stats_enabled=1.
    std::vector<ProgramStats> program_stats() const;
    // Instruction pointers of a stack id from the grab records.
    std::vector<uint64_t> stack_addresses(int32_t id) const;
    // Report the frees of these pages too, as of grabbed ones (record
    // --snapshot: pages held since before the trace, whose free ends the
    // inference). Returns how many the kernel's table took: it holds
    // 65 536 pages, the oldest evicted first.
    size_t watch_frees(std::span<const uint64_t> pfns);

    struct State;  // libbpf objects; defined in session.cpp

private:
    explicit CaptureSession(std::unique_ptr<State> state);
    std::unique_ptr<State> state_;
    TraceInfo info_;
};

}  // namespace pintrace
