#pragma once

#include <cstdint>
#include <span>

#include "util/result.hpp"

namespace pintrace {

struct PageMapping {
    uint64_t vmemmap_base = 0;
    uint64_t struct_page_size = 0;
};

// Runs the calibration programs (bpf/calibrate.bpf.c) for at most ~1 s.
Result<PageMapping> calibrate_page_mapping();

// The base agreed on by the samples of one direction, if any: at least 8
// samples and three quarters of them identical.
Result<uint64_t> consensus_base(std::span<const uint64_t> page_then_pfn, std::span<const uint64_t> pfn_then_page);

}  // namespace pintrace
