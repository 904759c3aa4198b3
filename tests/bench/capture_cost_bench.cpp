// The capture's own cost per event, measured natively (docs/performance.md,
// "Native capture cost"). The capture's BPF bodies (bpf/pintrace.bpf.c,
// compiled into bpf/capture_cost.bpf.c unchanged) run on real pages of a
// locked buffer, ITERATIONS times inside one BPF_PROG_TEST_RUN, timed by the
// program itself; RUNS runs per case, alternating cases so that all see the
// same machine. The empty loop's median is the floor subtracted from the
// others. What attaching costs (the fentry trampoline, the kprobe) is not
// run here: this host refuses both; the kernel's own figures are printed
// beside. Needs root.
//   bench_capture_cost [ITERATIONS] [RUNS]
// Last line: grab_ns=N release_ns=N pair_ns=N failure_ns=N (floor-corrected medians).
#include <bpf/bpf.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "capture/calibrate.hpp"
#include "capture/capture_constants.hpp"
#include "capture/kernel_info.hpp"
#include "capture/libbpf_owners.hpp"
#include "capture_cost.skel.h"
#include "snapshot/owners.hpp"
#include "util/fd.hpp"

using namespace pintrace;

namespace {

constexpr size_t kPages = 4096;  // COST_PAGES in bpf/capture_cost.bpf.c
using Skel = std::unique_ptr<capture_cost_bpf, SkelDeleter<capture_cost_bpf, capture_cost_bpf__destroy>>;
using Programs = decltype(capture_cost_bpf::progs);
using ProgramRef = bpf_program* Programs::*;

// One measured body: its program, and the records one iteration must leave
// in the ring buffer (a run that left fewer measured something else).
struct Case {
    const char* name;
    ProgramRef program;
    unsigned records;
    const char* last_line_key;  // its figure in the last line, or nullptr
    const char* what;
};

// In the order they run, each run.
constexpr Case kCases[] = {
    {"empty", &Programs::cost_empty, 0, nullptr, "bpf_loop() and the page lookup: the floor"},
    {"free_untracked", &Programs::cost_free_untracked, 0, nullptr,
     "mm_page_free of a page no grab marked (every free pays it)"},
    {"grab", &Programs::cost_grab, 1, "grab_ns", "short-term pin, the thread's sampled stacks"},
    {"grab_fresh_stacks", &Programs::cost_grab_fresh_stacks, 1, nullptr,
     "long-term pin: kernel and user stacks walked"},
    {"release", &Programs::cost_release, 1, "release_ns", "gup_put_folio's release"},
    {"pair", &Programs::cost_pair, 2, "pair_ns", "a short-lived pin: grab, then its release"},
    {"failure", &Programs::cost_failure, 1, "failure_ns", "one folio a migration could not move"},
};

int fail(const std::string& why)
{
    std::fprintf(stderr, "bench_capture_cost: %s\n", why.c_str());
    return 1;
}

// pfns of n locked, present pages of this process.
Result<std::vector<uint64_t>> locked_pages(size_t n)
{
    size_t bytes = n * 4096;
    void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    if (p == MAP_FAILED) return make_error(std::string("mmap: ") + std::strerror(errno));
    if (mlock(p, bytes)) return make_error(std::string("mlock: ") + std::strerror(errno));
    for (size_t i = 0; i < n; ++i) static_cast<char*>(p)[i * 4096] = 1;
    Fd pagemap(::open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC));
    if (pagemap.get() < 0) return make_error(std::string("/proc/self/pagemap: ") + std::strerror(errno));
    std::vector<uint64_t> entries(n);
    off_t at = static_cast<off_t>(reinterpret_cast<uintptr_t>(p) / 4096 * 8);
    if (pread(pagemap.get(), entries.data(), n * 8, at) != static_cast<ssize_t>(n * 8))
        return make_error("/proc/self/pagemap: short read");
    std::vector<uint64_t> pfns;
    for (uint64_t e : entries)
        if (auto pfn = snapshot::pagemap_pfn(e)) pfns.push_back(*pfn);
    if (pfns.size() != n || std::count(pfns.begin(), pfns.end(), 0)) return make_error("pagemap gave no pfns (not root?)");
    return pfns;
}

uint64_t lost_records(capture_cost_bpf* skel)
{
    int cpus = libbpf_num_possible_cpus();
    std::vector<uint64_t> per_cpu(cpus > 0 ? cpus : 1);
    uint32_t zero = 0;
    if (bpf_map_lookup_elem(bpf_map__fd(skel->maps.lost), &zero, per_cpu.data())) return 0;
    uint64_t sum = 0;
    for (uint64_t v : per_cpu) sum += v;
    return sum;
}

double median(std::vector<double> v)
{
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv)
{
    long iterations = argc > 1 ? std::strtol(argv[1], nullptr, 0) : 10000;
    int runs = argc > 2 ? std::atoi(argv[2]) : 15;
    // A run's records must fit in the ring buffer below its early-wakeup mark.
    if (iterations < 1 || iterations > 20000 || runs < 1) {
        std::fprintf(stderr, "usage: bench_capture_cost [ITERATIONS 1-20000] [RUNS >= 1]\n");
        return 2;
    }
    libbpf_set_print(libbpf_print_when_debugging);
    if (std::string why = missing_privileges(); !why.empty()) return fail(why);
    auto btf = load_kernel_btf();
    if (!btf) return fail(btf.error().message);
    auto kernel = read_kernel_info(btf.value().get());
    if (!kernel) return fail(kernel.error().message);
    auto mapping = calibrate_page_mapping();
    if (!mapping) return fail(mapping.error().message);
    auto pfns = locked_pages(2 * kPages);  // the grabs' pages, then pages no grab marks
    if (!pfns) return fail(pfns.error().message);

    Skel skel(capture_cost_bpf__open());
    if (!skel) return fail("cannot open the capture object");
    set_capture_constants(skel.get(), mapping.value(), kernel.value(), CaptureOptions{});
    bpf_program* prog;
    bpf_object__for_each_program(prog, skel->obj) bpf_program__set_autoload(prog, false);
    for (const Case& c : kCases) bpf_program__set_autoload(skel->progs.*c.program, true);
    if (int err = capture_cost_bpf__load(skel.get()))
        return fail(std::string("the kernel refused the cost programs: ") + std::strerror(-err) +
                    " (PINTRACE_DEBUG_LIBBPF=1 shows why)");
    std::copy_n(pfns->begin(), kPages, skel->bss->cost_pfns);
    std::copy_n(pfns->begin() + kPages, kPages, skel->bss->cost_untracked_pfns);
    skel->bss->cost_iterations = static_cast<uint32_t>(iterations);

    uint64_t records = 0;
    RingBufferPtr ring(ring_buffer__new(
        bpf_map__fd(skel->maps.events),
        [](void* count, void*, size_t) {
            ++*static_cast<uint64_t*>(count);
            return 0;
        },
        &records, nullptr));
    if (!ring) return fail("cannot read the ring buffer");

    std::printf("kernel %s, vmemmap_base 0x%" PRIx64 ", %ld iterations a run, %d runs a case\n",
                kernel->release.c_str(), mapping->vmemmap_base, iterations, runs);
    constexpr size_t kCaseCount = std::size(kCases);
    std::vector<std::vector<double>> ns(kCaseCount);
    for (int run = 0; run < runs; ++run) {
        for (size_t i = 0; i < kCaseCount; ++i) {
            const Case& c = kCases[i];
            uint64_t ctx_args[1] = {0};
            LIBBPF_OPTS(bpf_test_run_opts, opts, .ctx_in = ctx_args, .ctx_size_in = sizeof ctx_args);
            uint64_t lost_before = lost_records(skel.get());
            records = 0;
            if (bpf_prog_test_run_opts(bpf_program__fd(skel->progs.*c.program), &opts))
                return fail(std::string(c.name) + ": test run failed: " + std::strerror(errno));
            ring_buffer__consume(ring.get());
            if (skel->bss->cost_loops != iterations)
                return fail(std::string(c.name) + ": bpf_loop ran " + std::to_string(skel->bss->cost_loops) +
                            " iterations");
            uint64_t lost = lost_records(skel.get()) - lost_before;
            uint64_t expected = uint64_t{c.records} * static_cast<uint64_t>(iterations);
            if (records != expected || lost)
                return fail(std::string(c.name) + ": " + std::to_string(records) + " records, " +
                            std::to_string(lost) + " lost, expected " + std::to_string(expected));
            ns[i].push_back(static_cast<double>(skel->bss->cost_elapsed_ns) / static_cast<double>(iterations));
        }
    }

    double floor = median(ns[0]);
    std::printf("%-18s %9s %9s %9s %9s  %s\n", "case", "min_ns", "median_ns", "max_ns", "net_ns", "what");
    std::vector<double> net(kCaseCount);
    for (size_t i = 0; i < kCaseCount; ++i) {
        auto [lo, hi] = std::minmax_element(ns[i].begin(), ns[i].end());
        net[i] = i ? median(ns[i]) - floor : 0;
        std::printf("%-18s %9.1f %9.1f %9.1f %9.1f  %s\n", kCases[i].name, *lo, median(ns[i]), *hi, net[i],
                    kCases[i].what);
    }
    std::printf("net = median - empty's median. Not measured here (refused on this host), from the kernel's\n"
                "own figures, per call: fentry/fexit ~7-15 ns, kprobe ~18 ns, kretprobe ~46 ns.\n");
    std::string last;
    for (size_t i = 0; i < kCaseCount; ++i) {
        if (!kCases[i].last_line_key) continue;
        char figure[64];
        std::snprintf(figure, sizeof figure, "%s%s=%.0f", last.empty() ? "" : " ", kCases[i].last_line_key, net[i]);
        last += figure;
    }
    std::printf("%s\n", last.c_str());
    return 0;
}
