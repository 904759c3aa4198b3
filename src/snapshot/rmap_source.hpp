// The reverse map in BPF (bpf/rmap.bpf.c): from one pfn to the address
// spaces that map it, the owner task of each and the virtual address, read
// without the kernel's locks (a racy snapshot: confirm before believing).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>

#include "snapshot/owners.hpp"
#include "util/result.hpp"

namespace pintrace::snapshot {

class BpfRmap {
public:
    // Loads the program; without a base, calibrates (about 10 ms) to find
    // it. An error says why BPF cannot be used here.
    static Result<std::unique_ptr<BpfRmap>> open(std::optional<uint64_t> vmemmap_base = std::nullopt);
    ~BpfRmap();
    // At most max_mappers mappers and max_runs program runs (each visits
    // at most 48 tree nodes): past either, the answer is truncated.
    Result<PageMappers> walk(uint64_t pfn, size_t max_mappers = 32, unsigned max_runs = 64);
    // A lookup for find_owners (OwnerOptions::rmap).
    RmapLookup lookup();

private:
    struct Impl;
    explicit BpfRmap(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

}  // namespace pintrace::snapshot
