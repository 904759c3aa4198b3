#include "capture/session.hpp"

#include <bpf/bpf.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>

#include "capture/attach_plan.hpp"
#include "capture/calibrate.hpp"
#include "capture/capture_constants.hpp"
#include "capture/grabbed_pages.hpp"
#include "capture/kernel_facts.hpp"
#include "capture/kernel_info.hpp"
#include "capture/libbpf_owners.hpp"
#include "capture/load.hpp"
#include "events/bounds.hpp"
#include "pintrace.h"
#include "snapshot/range.hpp"
#include "util/clock.hpp"
#include "util/hex.hpp"

namespace pintrace {

struct CaptureSession::State {
    CaptureSkel skel;
    std::vector<LinkPtr> links;  // destroyed before the skeleton (declared after it)
    RingBufferPtr ring;
    const Sink* sink = nullptr;
    uint64_t pair_threshold_ns = 0;
};

namespace {

int on_record(void* ctx, void* data, size_t size)
{
    auto* state = static_cast<CaptureSession::State*>(ctx);
    (*state->sink)(std::span(static_cast<const std::byte*>(data), size));
    return 0;
}

}  // namespace

std::string test_refusal_from_environment()
{
    const char* name = getenv("PINTRACE_TEST_REFUSE_PROGRAM");
    return name ? name : "";
}

CaptureSession::CaptureSession(std::unique_ptr<State> state) : state_(std::move(state)) {}
CaptureSession::~CaptureSession() = default;

Result<std::unique_ptr<CaptureSession>> CaptureSession::open(const CaptureOptions& options)
{
    libbpf_set_print(libbpf_print_when_debugging);
    if (std::string why = missing_privileges(); !why.empty()) return make_error(why);

    auto tracefs = ensure_tracefs();
    if (!tracefs) return tracefs.error();

    auto btf = load_kernel_btf();
    if (!btf) return btf.error();
    auto kernel = read_kernel_info(btf.value().get());
    if (!kernel) return kernel.error();
    const KernelInfo& k = kernel.value();

    auto mapping = calibrate_page_mapping();
    if (!mapping) return mapping.error();

    // The machine's RAM: what readers check every pfn a record names against
    // (events/bounds.hpp; without it, only the architecture's limit), and
    // what the free filter is sized to.
    auto ram = snapshot::system_ram();
    uint64_t end_pfn = 0;
    if (ram)
        for (const auto& r : ram.value()) end_pfn = std::max(end_pfn, r.end);

    LiveKernelFacts facts(btf.value().get());
    auto plan = plan_attach(facts);
    LoadOptions load;
    load.refuse_for_test = options.refuse_program_for_test;
    // Kernels with bpf_loop() (5.17+) have the atomics pairing needs; older
    // ones get the object compiled without them.
    load.object = k.can_pair_in_kernel ? CaptureObject::Full : CaptureObject::WithoutAtomics;
    CaptureOptions effective = options;
    std::string pairing_refused;
    load.configure = [&](pintrace_bpf* skel) { set_capture_constants(skel, mapping.value(), k, effective, end_pfn); };
    load.stop_pairing = [&](const std::string& why) {
        if (!effective.pair_in_kernel || !k.can_pair_in_kernel) return false;
        effective.pair_in_kernel = false;
        pairing_refused = why;
        return true;
    };
    auto loaded = load_capture(plan, facts, load);
    if (!loaded) return loaded.error();
    auto state = std::make_unique<State>();
    state->skel = std::move(loaded.value());
    pintrace_bpf* skel = state->skel.get();
    state->pair_threshold_ns = options.pair_threshold_ns;

    auto session = std::unique_ptr<CaptureSession>(new CaptureSession(std::move(state)));
    State& st = *session->state_;
    TraceInfo& info = session->info_;
    info.attach = attach_planned(skel, plan, facts, st.links);
    info.flags = k.flags;
    info.migrate_reasons = k.migrate_reasons;
    info.page_flags = k.page_flags;
    info.meta["kernel_release"] = k.release;
    info.meta["boot_id"] = k.boot_id;
    info.meta["hostname"] = k.hostname;
    info.meta["vmemmap_base"] = hex(mapping->vmemmap_base);
    info.meta["struct_page_size"] = std::to_string(mapping->struct_page_size);
    if (!tracefs->empty()) info.meta["note_tracefs"] = tracefs.value();
    info.meta["ring_buffer_bytes"] = std::to_string(options.ring_buffer_bytes);
    info.meta["stack_sample_ns"] = std::to_string(options.stack_sample_ns);
    // How short-term pins were recorded: the report says what is missing.
    info.meta["pairing"] = !options.pair_in_kernel    ? "off"
                           : !k.can_pair_in_kernel  ? "unsupported"
                           : !pairing_refused.empty() ? "refused"
                                                      : "kernel";
    if (!pairing_refused.empty()) info.meta["pairing_refused"] = pairing_refused;
    if (skel->rodata->pair_pins) info.meta["pairing_threshold_ns"] = std::to_string(options.pair_threshold_ns);
    if (ram) {
        std::vector<std::pair<uint64_t, uint64_t>> ranges;
        for (const auto& r : ram.value()) ranges.emplace_back(r.start, r.end);
        info.meta["ram_pfns"] = PfnBounds::format(ranges);
    }

    st.ring.reset(ring_buffer__new(bpf_map__fd(skel->maps.events), on_record, &st, nullptr));
    if (!st.ring) return make_error(std::string("cannot open the ring buffer: ") + std::strerror(errno));
    return session;
}

Result<void> CaptureSession::poll(int timeout_ms, const Sink& sink)
{
    state_->sink = &sink;
    int n = ring_buffer__poll(state_->ring.get(), timeout_ms);
    // The wakeup may have come before the last records were committed, and
    // most records never wake us (BPF_RB_NO_WAKEUP): drain what is there.
    if (n >= 0) n = ring_buffer__consume(state_->ring.get());
    state_->sink = nullptr;
    if (n < 0 && n != -EINTR) return make_error(std::string("reading the ring buffer failed: ") + std::strerror(-n));
    return {};
}

uint64_t CaptureSession::lost_total() const { return per_cpu_sum(state_->skel->maps.lost); }

bool CaptureSession::pairing() const { return state_->skel->rodata->pair_pins; }

uint64_t CaptureSession::pairs_elided() const { return pairing() ? per_cpu_sum(state_->skel->maps.pairs_elided) : 0; }

Result<void> CaptureSession::send_parked(bool all)
{
    if (!pairing()) return {};
    // Pins taken after the last flush must not be left parked.
    if (all) state_->skel->bss->stop_parking = 1;
    uint64_t now = monotonic_now_ns(), threshold = state_->pair_threshold_ns;
    uint64_t args[1] = {all ? UINT64_MAX : now > threshold ? now - threshold : 0};
    LIBBPF_OPTS(bpf_test_run_opts, run, .ctx_in = args, .ctx_size_in = sizeof args);
    if (int err = bpf_prog_test_run_opts(bpf_program__fd(state_->skel->progs.flush_parked), &run); err != 0)
        return make_error(std::string("sending the pins parked in the kernel failed: ") + std::strerror(-err));
    return {};
}

std::vector<ProgramStats> CaptureSession::program_stats() const
{
    std::vector<ProgramStats> out;
    bpf_program* prog;
    bpf_object__for_each_program(prog, state_->skel->obj)
    {
        int fd = bpf_program__fd(prog);
        if (fd < 0) continue;
        bpf_prog_info info{};
        uint32_t len = sizeof info;
        if (bpf_obj_get_info_by_fd(fd, &info, &len) != 0) continue;
        out.push_back({bpf_program__name(prog), info.run_cnt, info.run_time_ns, info.recursion_misses});
    }
    return out;
}

size_t CaptureSession::watch_frees(std::span<const uint64_t> pfns)
{
    return mark_pages_grabbed(bpf_map__fd(state_->skel->maps.grabbed_pages),
                              bpf_map__fd(state_->skel->maps.grabbed_regions), pfns);
}

std::vector<uint64_t> CaptureSession::stack_addresses(int32_t id) const
{
    std::vector<uint64_t> ips(PT_MAX_STACK_DEPTH);
    if (id < 0) return {};
    bpf_map* map = id & PT_STACK_SPILL ? state_->skel->maps.stacks_spill : state_->skel->maps.stacks;
    int32_t key = id & ~PT_STACK_SPILL;
    if (bpf_map_lookup_elem(bpf_map__fd(map), &key, ips.data()) != 0) return {};
    size_t n = 0;
    while (n < ips.size() && ips[n]) ++n;
    ips.resize(n);
    return ips;
}

}  // namespace pintrace
