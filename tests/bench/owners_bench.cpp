// Owner discovery benchmark (docs/performance.md, "owner discovery"): a
// child maps and touches MIB MiB of anonymous memory; owner discovery then
// looks for the holders of N of its pages, from the pages (the BPF reverse
// map, each answer confirmed by one pagemap read) and by walking every
// process's pagemap, RUNS times each. Needs root.
//   bench_owners [RUNS] MIB:N [MIB:N ...]     (default: 5 64:8 4096:8 4096:64 4096:512)
// One line per case: mib, pages, method, median seconds, pagemap entries read.
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <set>
#include <string>
#include <vector>

#include "snapshot/owners.hpp"
#include "snapshot/rmap_source.hpp"

using namespace pintrace::snapshot;

namespace {

struct Child {
    pid_t pid = -1;
    uint64_t base = 0;
};

// The child maps and touches mib MiB and sleeps until killed.
Child spawn(uint64_t mib)
{
    int p[2];
    if (pipe(p) != 0) return {};
    pid_t pid = fork();
    if (pid == 0) {
        size_t bytes = mib << 20;
        auto* m = static_cast<char*>(mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
        if (m == MAP_FAILED) _exit(1);
        for (size_t off = 0; off < bytes; off += 4096) m[off] = 1;
        uint64_t base = reinterpret_cast<uintptr_t>(m);
        (void)!write(p[1], &base, sizeof base);
        pause();
        _exit(0);
    }
    Child c;
    c.pid = pid;
    if (read(p[0], &c.base, sizeof c.base) != sizeof c.base) c.pid = -1;
    close(p[0]);
    close(p[1]);
    return c;
}

// n pages spread over the child's mapping.
std::set<uint64_t> pick_pfns(const Child& c, uint64_t mib, uint64_t n)
{
    std::set<uint64_t> out;
    int fd = open(("/proc/" + std::to_string(c.pid) + "/pagemap").c_str(), O_RDONLY);
    uint64_t pages = (mib << 20) / 4096;
    for (uint64_t i = 0; i < n; ++i) {
        uint64_t va = c.base + (i * pages / n) * 4096, entry = 0;
        if (pread(fd, &entry, 8, static_cast<off_t>(va / 4096 * 8)) == 8)
            if (auto pfn = pagemap_pfn(entry)) out.insert(*pfn);
    }
    close(fd);
    return out;
}

double median(std::vector<double> v)
{
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv)
{
    if (geteuid() != 0) {
        std::fprintf(stderr, "bench_owners: needs root (pfns in /proc/PID/pagemap, BPF)\n");
        return 1;
    }
    int runs = argc > 1 ? std::atoi(argv[1]) : 5;
    std::vector<std::pair<uint64_t, uint64_t>> cases;
    for (int i = 2; i < argc; ++i) {
        unsigned long long mib = 0, n = 0;
        if (std::sscanf(argv[i], "%llu:%llu", &mib, &n) != 2 || !mib || !n) {
            std::fprintf(stderr, "bench_owners: '%s' is not MIB:PAGES\n", argv[i]);
            return 2;
        }
        cases.emplace_back(mib, n);
    }
    if (cases.empty()) cases = {{64, 8}, {4096, 8}, {4096, 64}, {4096, 512}};
    if (runs < 1) runs = 1;

    auto t0 = std::chrono::steady_clock::now();
    auto rmap = BpfRmap::open();
    if (!rmap) {
        std::fprintf(stderr, "bench_owners: no BPF reverse map here: %s\n", rmap.error().message.c_str());
        return 1;
    }
    std::printf("reverse map: load + calibration %.3f s\n",
                std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    std::printf("%8s %6s %-13s %10s %14s %s\n", "MIB", "PAGES", "METHOD", "SECONDS", "PAGEMAP_READS", "FOUND");
    for (auto [mib, n] : cases) {
        Child c = spawn(mib);
        if (c.pid < 0) {
            std::fprintf(stderr, "bench_owners: could not map %" PRIu64 " MiB\n", mib);
            return 1;
        }
        auto pfns = pick_pfns(c, mib, n);
        for (bool from_pages : {true, false}) {
            OwnerOptions o;
            o.rdma_mr_text = "";
            if (from_pages) o.rmap = rmap.value()->lookup();
            std::vector<double> secs;
            OwnerScan last;
            for (int r = 0; r < runs; ++r) {
                last = find_owners(pfns, 0, 0, o);
                secs.push_back(last.seconds);
            }
            size_t found = 0;
            for (const auto& cand : last.candidates)
                if (cand.pid == static_cast<uint32_t>(c.pid)) found = cand.pfns.size();
            std::printf("%8" PRIu64 " %6zu %-13s %10.4f %14" PRIu64 " %zu/%zu of the child's\n", mib, pfns.size(),
                        std::string(method_name(last.method)).c_str(), median(secs), last.pages_walked, found,
                        pfns.size());
        }
        kill(c.pid, SIGKILL);
        waitpid(c.pid, nullptr, 0);
    }
    return 0;
}
