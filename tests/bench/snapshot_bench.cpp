// The snapshot benchmark (docs/performance.md, "snapshot (issue 6)"): reads
// PAGES pages from START on this machine, through /proc (+ BPF when the
// kernel allows), RUNS times with one thread and RUNS times with THREADS
// (0: one per CPU), alternating so that both see the same load, and prints
// each run, the medians and the CPU time. Then owner discovery for the
// suspicious pages found. Needs root.
//   bench_snapshot [START_PFN] [PAGES] [RUNS] [proc|auto] [THREADS]
// Last line: pages_per_second=N (the median run with THREADS).
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <string>
#include <vector>

#include "snapshot/bpf_source.hpp"
#include "snapshot/owners.hpp"
#include "snapshot/snapshot.hpp"

using namespace pintrace::snapshot;

int main(int argc, char** argv)
{
    uint64_t start = argc > 1 ? std::strtoull(argv[1], nullptr, 0) : 0x100000;
    uint64_t pages = argc > 2 ? std::strtoull(argv[2], nullptr, 0) : 4194304;
    int runs = argc > 3 ? std::atoi(argv[3]) : 5;
    std::string source = argc > 4 ? argv[4] : "auto";
    unsigned threads = argc > 5 ? static_cast<unsigned>(std::atoi(argv[5])) : 0;
    // The medians need a run, and pages per second a page.
    if (runs < 1 || pages == 0 || start + pages < start) {
        std::fprintf(stderr, "usage: bench_snapshot [START_PFN] [PAGES >= 1] [RUNS >= 1] [proc|auto] [THREADS]\n");
        return 2;
    }

    auto t0 = std::chrono::steady_clock::now();
    std::unique_ptr<BpfRefcounts> bpf;
    if (source != "proc") {
        auto b = BpfRefcounts::open();
        if (b)
            bpf = std::move(b.value());
        else
            std::printf("bpf: unavailable (%s): /proc only\n", b.error().message.c_str());
    }
    double open_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("source: %s; BPF open + calibration %.3f s\n", source_name(bpf != nullptr).c_str(), open_s);
    if (bpf) {
        const auto& t = bpf->open_times();
        std::printf(
            "  calibration %.3f s, then in parallel program load %.3f s, kallsyms/BTF/pagetypeinfo %.3f s; "
            "migratetype %s; folio pin counts in %s\n",
            t.calibrate, t.load, t.kernel_facts, bpf->migratetype_visible() ? "visible" : "not visible",
            bpf->pincount_field().c_str());
    }

    std::vector<PfnSpan> spans{{start, start + pages, "bench"}};
    auto cpu_seconds = [] {
        rusage u{};
        getrusage(RUSAGE_SELF, &u);
        return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
               static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
    };
    std::vector<double> secs[2], cpu[2];
    unsigned used[2] = {1, 1};
    SnapshotResult last;
    for (int i = 0; i < runs; ++i) {
        for (int mode = 0; mode < 2; ++mode) {
            double c0 = cpu_seconds();
            auto r = take_snapshot(spans, nullptr, bpf.get(), "", mode == 0 ? 1 : threads);
            if (!r) {
                std::fprintf(stderr, "bench_snapshot: %s\n", r.error().message.c_str());
                return 1;
            }
            secs[mode].push_back(r->seconds);
            cpu[mode].push_back(cpu_seconds() - c0);
            used[mode] = r->threads;
            std::printf("run %d, %u thread(s): %" PRIu64 " pages in %.3f s, %.3f s CPU (%" PRIu64 " blocking, %" PRIu64
                        " suspicious)\n",
                        i + 1, r->threads, r->pages(), r->seconds, cpu[mode].back(), r->blocking(),
                        r->suspicious_total);
            last = std::move(r.value());
        }
    }
    auto median = [](std::vector<double> v) {
        std::sort(v.begin(), v.end());
        return v[v.size() / 2];
    };
    for (int mode = 0; mode < 2; ++mode)
        std::printf("median, %u thread(s): %.3f s, %.3f s CPU\n", used[mode], median(secs[mode]), median(cpu[mode]));
    double best = median(secs[1]);

    std::set<uint64_t> pfns;
    for (const auto& p : last.suspicious) pfns.insert(p.state.pfn);
    auto owners = find_owners(pfns, start, start + pages);
    std::printf("owners: %zu suspicious pages, %" PRIu64 " processes, %" PRIu64 " pagemap entries, %.3f s\n",
                pfns.size(), owners.processes, owners.pages_walked, owners.seconds);
    std::printf("median %.3f s for %" PRIu64 " pages with %u thread(s); open + median = %.3f s\n", best, last.pages(),
                used[1], open_s + best);
    std::printf("pages_per_second=%.0f\n", static_cast<double>(last.pages()) / best);
    return 0;
}
