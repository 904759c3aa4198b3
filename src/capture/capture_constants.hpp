// The capture object's load-time constants (bpf/pintrace.bpf.c's const
// volatile globals), set the one way for `record` and for the object
// bench_capture_cost runs (bpf/capture_cost.bpf.c includes the capture
// whole: its skeleton has the same fields).
#pragma once

#include <bpf/libbpf.h>

#include <algorithm>
#include <cstdint>

#include "capture/calibrate.hpp"
#include "capture/kernel_info.hpp"
#include "capture/session.hpp"
#include "pintrace.h"

namespace pintrace {

// Words of the free filter (grabbed_regions: a byte per 2^PT_REGION_SHIFT
// pages, 8 a word) for pfns below end_pfn, the machine's highest RAM pfn + 1.
// At least one: with end_pfn unknown (0), the frees of pfns past the first
// word's 4096 pages all take the hash lookup, as before the filter.
inline uint32_t region_words(uint64_t end_pfn)
{
    constexpr uint64_t kPagesPerWord = uint64_t{8} << PT_REGION_SHIFT;
    uint64_t words = end_pfn / kPagesPerWord + (end_pfn % kPagesPerWord != 0);
    return static_cast<uint32_t>(std::clamp<uint64_t>(words, 1, UINT32_MAX));
}

template <class Skeleton>
void set_capture_constants(Skeleton* skel, const PageMapping& mapping, const KernelInfo& k,
                           const CaptureOptions& options, uint64_t end_pfn)
{
    skel->rodata->vmemmap_base = mapping.vmemmap_base;
    skel->rodata->foll_get = k.flags.get;
    skel->rodata->foll_pin = k.flags.pin;
    skel->rodata->foll_longterm = k.flags.longterm;
    skel->rodata->stack_sample_ns = options.stack_sample_ns;
    // Woken early once a quarter of the buffer is waiting (bpf/pintrace.bpf.c submit()).
    skel->rodata->wakeup_bytes = options.ring_buffer_bytes / 4;
    skel->rodata->try_grab_page_returns_errno = k.try_grab_page_returns_errno;
    skel->rodata->pipe_buf_release_fn = k.pipe_buf_release_fn;
    bool pair = options.pair_in_kernel && k.can_pair_in_kernel;
    skel->rodata->pair_pins = pair;
    bpf_map__set_max_entries(skel->maps.parked_grabs, pair ? PT_PARK_SLOTS : 1);
    bpf_program__set_autoload(skel->progs.flush_parked, pair);
    bpf_map__set_max_entries(skel->maps.events, options.ring_buffer_bytes);
    bpf_map__set_max_entries(skel->maps.grabbed_regions, region_words(end_pfn));
}

}  // namespace pintrace
