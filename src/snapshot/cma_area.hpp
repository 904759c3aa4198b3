// Where a CMA area is, and its counters, on kernels without
// CONFIG_CMA_DEBUGFS (Debian's 7.x): /sys/kernel/mm/cma/NAME/ (CMA_SYSFS)
// holds counters and, from 6.14, total_pages and available_pages, but no
// base pfn. The range then comes from the pageblocks whose migratetype is
// MIGRATE_CMA (read by the BPF snapshot program), matched to the area by
// its size: a CMA area is whole pageblocks, and every CMA pageblock
// belongs to an area.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "snapshot/range.hpp"
#include "util/result.hpp"

namespace pintrace::snapshot {

class BpfRefcounts;

struct CmaArea {
    std::string name;
    std::vector<PfnSpan> spans;
    std::string range_source;  // how the range was found
    // Every file of /sys/kernel/mm/cma/NAME/ and its value, by name.
    std::vector<std::pair<std::string, std::string>> sysfs;
    const std::string* counter(std::string_view file) const;
};

// The areas under /sys/kernel/mm/cma (and debugfs' cma/), sorted.
std::vector<std::string> cma_area_names(const std::string& root = "");
// /sys/kernel/mm/cma/NAME/*: an error naming the areas there is when NAME is not one.
Result<std::vector<std::pair<std::string, std::string>>> read_cma_sysfs(const std::string& name,
                                                                        const std::string& root = "");
// Maximal runs of pageblocks of migratetype cma_value; types[i] is the
// migratetype of the block starting at first_pfn + (i << order).
std::vector<PfnSpan> cma_block_runs(uint64_t first_pfn, std::span<const int> types, int cma_value, unsigned order);
// The runs that are area `name` of total_pages pages, when the pageblocks
// tell: every CMA pageblock when there is one area only (their sum must be
// total_pages), else the one run of exactly total_pages pages.
Result<std::vector<PfnSpan>> pick_area_runs(const std::vector<PfnSpan>& runs, uint64_t total_pages, size_t areas,
                                            const std::string& name);
// The area: from debugfs (base_pfn, count) when mounted and built, else
// from the pageblocks through bpf (which must see migratetypes).
// hugetlbN areas (hugetlb_cma=) are searched on node N only.
Result<CmaArea> locate_cma_area(const std::string& name, BpfRefcounts* bpf, const std::string& root = "");

}  // namespace pintrace::snapshot
