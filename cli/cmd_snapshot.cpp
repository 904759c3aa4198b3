// pintrace snapshot: the live state of a pfn range, what in it would make a
// migration fail, and who may hold those pages (candidates with evidence).
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <memory>
#include <optional>

#include "commands.hpp"
#include "render/snapshot_views.hpp"
#include "snapshot/bpf_source.hpp"
#include "snapshot/cma_area.hpp"
#include "snapshot/owners.hpp"
#include "snapshot/range.hpp"
#include "snapshot/snapshot.hpp"

namespace pintrace::cli {
namespace {

struct SnapshotArgs {
    snapshot::RangeRequest range;
    std::string format = "text";
    bool no_owners = false;
    std::string source = "auto";
};

}  // namespace

// --source: BPF refcounts when asked or available; why not, when not.
Result<std::unique_ptr<snapshot::BpfRefcounts>> open_page_source(const std::string& source, std::string& fallback_note)
{
    if (source == "proc") return std::unique_ptr<snapshot::BpfRefcounts>();
    auto bpf = snapshot::BpfRefcounts::open();
    if (bpf) return std::move(bpf.value());
    if (source == "bpf") return make_error("--source bpf: " + bpf.error().message);
    fallback_note = "BPF unavailable (" + bpf.error().message + "): /proc only";
    return std::unique_ptr<snapshot::BpfRefcounts>();
}

std::string page_state_denied()
{
    int fd = ::open("/proc/kpageflags", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        ::close(fd);
        return "";
    }
    if (errno != EACCES && errno != EPERM) return "";  // another error: the page source names it
    return "/proc/kpageflags: permission denied (run as root: the kernel needs CAP_SYS_ADMIN to show page flags)";
}

namespace {

int run_snapshot(const SnapshotArgs& args)
{
    using namespace snapshot;
    if (std::string why = page_state_denied(); !why.empty()) return fail("snapshot", why, kExitNoPrivileges);
    std::string note;
    std::optional<Result<std::unique_ptr<BpfRefcounts>>> bpf_early;
    std::optional<CmaArea> cma;
    Result<std::vector<PfnSpan>> spans = std::vector<PfnSpan>{};
    if (!args.range.cma.empty()) {
        // Without CONFIG_CMA_DEBUGFS the area's range is in its pageblocks,
        // which only BPF reads: open it first.
        if (auto sysfs = read_cma_sysfs(args.range.cma); !sysfs && cma_area_names().empty())
            return fail("snapshot", "--cma: this kernel shows no CMA area (/sys/kernel/mm/cma)", kExitUsage);
        else if (!sysfs)
            return fail("snapshot", "--cma: " + sysfs.error().message, kExitUsage);
        bpf_early = open_page_source(args.source, note);
        if (!*bpf_early) return fail("snapshot", bpf_early->error().message, kExitError);
        auto area = locate_cma_area(args.range.cma, bpf_early->value().get());
        if (!area)
            return fail("snapshot", "--cma: " + area.error().message + (note.empty() ? "" : " (" + note + ")"),
                        kExitError);
        cma = std::move(area.value());
        spans = cma->spans;
    } else {
        spans = resolve(args.range);
    }
    if (!spans) return fail("snapshot", spans.error().message, kExitUsage);
    uint64_t lo = UINT64_MAX, hi = 0;
    for (const auto& s : spans.value()) {
        lo = std::min(lo, s.start);
        hi = std::max(hi, s.end);
    }
    // Long-term pins user space can see (io_uring buffers) first: the page
    // flags cannot show a pin, this evidence can. Cost: the registered
    // buffers' pages, not the memory size.
    PinHints hints;
    if (!args.no_owners) hints = registered_pins(find_owners({}, lo, hi));
    auto bpf = bpf_early ? std::move(*bpf_early) : open_page_source(args.source, note);
    if (!bpf) return fail("snapshot", bpf.error().message, kExitError);
    auto snap = take_snapshot(spans.value(), &hints, bpf.value().get());
    if (!snap) return fail("snapshot", snap.error().message, kExitError);
    snap->cma = std::move(cma);
    if (!note.empty()) snap->blind.insert(snap->blind.begin(), note);
    std::optional<OwnerScan> owners;
    if (!args.no_owners) {
        std::set<uint64_t> pfns;
        for (const auto& p : snap->suspicious) pfns.insert(p.state.pfn);
        owners = find_owners_as(pfns, lo, hi, bpf.value().get(), note);
    }
    const OwnerScan* o = owners ? &*owners : nullptr;
    std::string out =
        args.format == "json" ? render_snapshot_json(snap.value(), o) : render_snapshot_text(snap.value(), o);
    std::fwrite(out.data(), 1, out.size(), stdout);
    return snap->blocking() ? kExitBlocked : kExitOk;
}

}  // namespace

Runner setup_snapshot(CLI::App& sub)
{
    auto args = std::make_shared<SnapshotArgs>();
    auto range = "Range (exactly one)";
    sub.add_option("--pfn", args->range.pfn, "Pages A-B (both included), A+N or A; hex with 0x or decimal")
        ->group(range);
    sub.add_option("--node", args->range.node, "Every page a NUMA node spans")->group(range);
    sub.add_option("--zone", args->range.zone, "Every page of a zone (DMA, DMA32, Normal, Movable) on every node")
        ->group(range);
    sub.add_option("--memory-block", args->range.memory_block,
                   "The pages of /sys/devices/system/memory/memoryN (what memory offline works on)")
        ->group(range);
    sub.add_option("--cma", args->range.cma,
                   "The pages of a CMA area (/sys/kernel/mm/cma/NAME) and its counters; its range from "
                   "/sys/kernel/debug/cma/NAME (CONFIG_CMA_DEBUGFS), else from the MIGRATE_CMA pageblocks (BPF)")
        ->group(range);
    sub.add_flag("--all", args->range.all, "Every page of RAM (System RAM in /proc/iomem)")->group(range);
    sub.add_option("--format", args->format, "text or json")
        ->check(CLI::IsMember({"text", "json"}))
        ->capture_default_str();
    sub.add_option("--source", args->source,
                   "auto (BPF refcounts when the kernel allows, else /proc only), bpf, or proc")
        ->check(CLI::IsMember({"auto", "bpf", "proc"}))
        ->capture_default_str();
    sub.add_flag("--no-owners", args->no_owners,
                 "Skip owner discovery (the reverse map of the held pages, or without BPF the walk of every "
                 "process's page map)");
    sub.footer(exit_codes_footer("snapshot"));
    return [args] { return run_snapshot(*args); };
}

}  // namespace pintrace::cli
