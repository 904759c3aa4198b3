// Pages marked as grabbed from user space: record --snapshot watches the
// frees of pages it found held before the trace began, as if a grab had
// taken them (bpf/pintrace.bpf.c, mark_grabbed()).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace pintrace {

// Sets each pfn's bit in the grabbed-pages map and its region's byte in the
// free filter (grabbed_regions): a bit behind an unset byte is never looked
// at, and the page's free would go unreported. Returns the pfns marked.
size_t mark_pages_grabbed(int grabbed_pages_fd, int grabbed_regions_fd, std::span<const uint64_t> pfns);

}  // namespace pintrace
