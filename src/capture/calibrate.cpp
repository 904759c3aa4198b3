#include "capture/calibrate.hpp"

#include <sys/mman.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

// The skeleton's record types first.
#include "pintrace.h"

#include "calibrate.skel.h"
#include "capture/kernel_info.hpp"
#include "capture/libbpf_owners.hpp"

namespace pintrace {
namespace {

using CalibSkel = std::unique_ptr<calibrate_bpf, SkelDeleter<calibrate_bpf, calibrate_bpf__destroy>>;

std::pair<uint64_t, size_t> most_common(std::span<const uint64_t> samples)
{
    std::map<uint64_t, size_t> counts;
    for (auto v : samples) ++counts[v];
    std::pair<uint64_t, size_t> best{0, 0};
    for (auto [v, n] : counts)
        if (n > best.second) best = {v, n};
    return best;
}

// Page faults on fresh anonymous memory: each one is a page allocation.
void provoke_page_allocations()
{
    constexpr size_t kBytes = 64 * 4096;
    void* p = mmap(nullptr, kBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    if (p != MAP_FAILED) munmap(p, kBytes);
}

}  // namespace

Result<uint64_t> consensus_base(std::span<const uint64_t> page_then_pfn, std::span<const uint64_t> pfn_then_page)
{
    for (auto samples : {page_then_pfn, pfn_then_page}) {
        auto [value, count] = most_common(samples);
        if (count >= 8 && count * 4 >= samples.size() * 3) return value;
    }
    return make_error("no consensus among " + std::to_string(page_then_pfn.size() + pfn_then_page.size()) +
                      " calibration samples");
}

Result<PageMapping> calibrate_page_mapping()
{
    // The program attaches to a tracepoint, which libbpf finds in tracefs:
    // snapshot and the benchmarks calibrate without a recording session
    // that would have mounted it.
    if (auto tracefs = ensure_tracefs(); !tracefs) return tracefs.error();
    CalibSkel skel(calibrate_bpf__open_and_load());
    if (!skel) return make_error(std::string("cannot load the calibration program: ") + std::strerror(errno));
    if (calibrate_bpf__attach(skel.get()) != 0)
        return make_error(std::string("cannot attach the calibration program to kmem:mm_page_alloc: ") +
                          std::strerror(errno));

    const pt_calib& c = skel->bss->calib;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(1);
    while (std::chrono::steady_clock::now() < deadline &&
           (c.n_page_then_pfn < PT_CALIB_SAMPLES || c.n_pfn_then_page < PT_CALIB_SAMPLES)) {
        provoke_page_allocations();
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    calibrate_bpf__detach(skel.get());

    auto n1 = std::min<uint32_t>(c.n_page_then_pfn, PT_CALIB_SAMPLES);
    auto n2 = std::min<uint32_t>(c.n_pfn_then_page, PT_CALIB_SAMPLES);
    std::vector<uint64_t> a(c.page_then_pfn, c.page_then_pfn + n1), b(c.pfn_then_page, c.pfn_then_page + n2);
    auto base = consensus_base(a, b);
    if (!base) return make_error("cannot find the vmemmap base: " + base.error().message);
    if (c.struct_page_size == 0) return make_error("calibration saw no struct page size");
    return PageMapping{base.value(), c.struct_page_size};
}

}  // namespace pintrace
