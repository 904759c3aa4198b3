// The snapshot benchmark (docs/performance.md, "snapshot (issue 6)"): reads
// PAGES pages from START on this machine, through /proc (+ BPF refcounts
// when the kernel allows), RUNS times, and prints each run and the median.
// Then owner discovery for the suspicious pages found. Needs root.
//   bench_snapshot [START_PFN] [PAGES] [RUNS] [proc|auto]
// Last line: pages_per_second=N (the median run).
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

    auto t0 = std::chrono::steady_clock::now();
    std::unique_ptr<BpfRefcounts> bpf;
    if (source != "proc") {
        auto b = BpfRefcounts::open();
        if (b) bpf = std::move(b.value());
        else std::printf("bpf: unavailable (%s): /proc only\n", b.error().message.c_str());
    }
    double open_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("source: %s; BPF open + calibration %.3f s\n", source_name(bpf != nullptr).c_str(), open_s);

    std::vector<PfnSpan> spans{{start, start + pages, "bench"}};
    std::vector<double> secs;
    SnapshotResult last;
    for (int i = 0; i < runs; ++i) {
        auto r = take_snapshot(spans, nullptr, bpf.get());
        if (!r) {
            std::fprintf(stderr, "bench_snapshot: %s\n", r.error().message.c_str());
            return 1;
        }
        secs.push_back(r->seconds);
        std::printf("run %d: %" PRIu64 " pages in %.3f s (%" PRIu64 " blocking, %" PRIu64 " suspicious)\n", i + 1,
                    r->pages(), r->seconds, r->blocking(), r->suspicious_total);
        last = std::move(r.value());
    }
    std::vector<double> sorted = secs;
    std::sort(sorted.begin(), sorted.end());
    double median = sorted[sorted.size() / 2];

    std::set<uint64_t> pfns;
    for (const auto& p : last.suspicious) pfns.insert(p.state.pfn);
    auto owners = find_owners(pfns, start, start + pages);
    std::printf("owners: %zu suspicious pages, %" PRIu64 " processes, %" PRIu64 " pagemap entries, %.3f s\n",
                pfns.size(), owners.processes, owners.pages_walked, owners.seconds);
    std::printf("median %.3f s for %" PRIu64 " pages\n", median, last.pages());
    std::printf("pages_per_second=%.0f\n", static_cast<double>(last.pages()) / median);
    return 0;
}
