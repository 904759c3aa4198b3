#include "capture/grabbed_pages.hpp"

#include <bpf/bpf.h>

#include "pintrace.h"

namespace pintrace {

size_t mark_pages_grabbed(int grabbed_pages_fd, int grabbed_regions_fd, std::span<const uint64_t> pfns)
{
    // The filter's word is written whole and all ones, never read first: a
    // read-modify-write could undo a byte the BPF side sets meanwhile, and
    // ones only make the filter a little less selective. A word past the
    // array is refused, and there the BPF side takes the map lookup anyway.
    constexpr uint64_t kAllRegions = 0x0101010101010101ull;
    // A grab the BPF side marks at the same moment may lose its bit to this
    // read-modify-write of the block (its free then goes unreported); this
    // runs once, before the traced command starts.
    size_t taken = 0;
    for (uint64_t pfn : pfns) {
        uint32_t word = static_cast<uint32_t>(pfn >> (PT_REGION_SHIFT + 3));
        bpf_map_update_elem(grabbed_regions_fd, &word, &kAllRegions, BPF_ANY);
        uint64_t key = pfn >> PT_BLOCK_SHIFT, bits = 0;
        if (bpf_map_lookup_elem(grabbed_pages_fd, &key, &bits) != 0) bits = 0;
        bits |= uint64_t{1} << (pfn & ((uint64_t{1} << PT_BLOCK_SHIFT) - 1));
        taken += bpf_map_update_elem(grabbed_pages_fd, &key, &bits, BPF_ANY) == 0;
    }
    return taken;
}

}  // namespace pintrace
