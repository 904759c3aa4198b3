// One page's state as the kernel shows it now, and what it would mean for
// a migration (snapshot, explain --pfn). Pure value types and rules: the
// readers (/proc/kpageflags + /proc/kpagecount, or BPF) fill PageState,
// classify() judges it.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pintrace::snapshot {

// Page flags in the /proc/kpageflags layout (include/uapi/linux/
// kernel-page-flags.h and include/linux/kernel-page-flags.h), the one
// layout that is stable across kernels; other readers translate into it.
enum Kpf : unsigned {
    kKpfLocked = 0, kKpfReferenced = 2, kKpfUptodate = 3, kKpfDirty = 4, kKpfLru = 5, kKpfActive = 6,
    kKpfSlab = 7, kKpfWriteback = 8, kKpfReclaim = 9, kKpfBuddy = 10, kKpfMmap = 11, kKpfAnon = 12,
    kKpfSwapcache = 13, kKpfSwapbacked = 14, kKpfCompoundHead = 15, kKpfCompoundTail = 16, kKpfHuge = 17,
    kKpfUnevictable = 18, kKpfHwpoison = 19, kKpfNopage = 20, kKpfKsm = 21, kKpfThp = 22, kKpfOffline = 23,
    kKpfZeroPage = 24, kKpfIdle = 25, kKpfPgtable = 26, kKpfReserved = 32, kKpfMlocked = 33, kKpfPrivate = 35,
    kKpfPrivate2 = 36,
};
constexpr uint64_t kpf(unsigned bit) { return uint64_t{1} << bit; }
// "lru|anon|mmap": the flags set, by name.
std::string kpf_string(uint64_t flags);

// A pin adds this to a small page's refcount (include/linux/mm.h).
inline constexpr int32_t kGupPinCountingBias = 1024;

struct PageState {
    uint64_t pfn = 0;
    uint64_t flags = 0;                // Kpf bits
    std::optional<int32_t> refcount;   // BPF only: /proc exposes no refcount
    std::optional<int32_t> mapcount;   // /proc/kpagecount, or _mapcount + 1
    std::optional<int32_t> pincount;   // large folios on kernels that keep one
    std::string_view zone;             // "" when unknown (points into the zone table)
    std::optional<int> migratetype;    // BPF only (pageblock bits)
};

// What a page means for a migration, worst first.
enum class PageClass {
    Pinned,           // large folio with pins counted (certain)
    MaybePinned,      // refcount >= mappings + 1024: DMA-pinned, by the bias heuristic
    ExtraRefs,        // more references than mappings and caches explain (vmsplice, KVM, in-flight I/O)
    Unmovable,        // kernel memory by its flags: slab, page tables, reserved, offline
    NotLru,           // in use, not on an LRU, not identified: kernel allocation, or a per-CPU batch
    Movable,          // on an LRU with nothing extra seen
    Free,             // in the buddy allocator
    Hole,             // no struct page (memory hole, offline section)
};
inline constexpr size_t kPageClassCount = 8;

std::string_view class_name(PageClass c);        // "maybe_pinned"
std::string_view class_description(PageClass c);  // one line for the summary
// Would a page of this class make migrating (or isolating) it fail?
bool blocks_migration(PageClass c);

struct Classified {
    PageClass cls = PageClass::Movable;
    std::optional<int32_t> extra_refs;  // references beyond the expected ones, when refcount is known
    std::string why;                    // short evidence: "refcount 1026, mapcount 1"
};
Classified classify(const PageState& page);

// References a page is expected to have with nothing holding it: its
// mappings, the page cache or swap cache, private data. nullopt without
// a mapcount.
std::optional<int32_t> expected_refs(const PageState& page);

// Counts per class over a range, and the first pages of each blocking class.
struct Summary {
    uint64_t start = 0, end = 0;  // [start, end)
    std::array<uint64_t, kPageClassCount> counts{};
    std::array<std::vector<uint64_t>, kPageClassCount> examples;  // up to kExamples pfns per class
    uint64_t mlocked = 0, compound = 0;
    static constexpr size_t kExamples = 64;

    void add(const PageState& page, const Classified& c);
    uint64_t count(PageClass c) const { return counts[static_cast<size_t>(c)]; }
    uint64_t pages() const;
    uint64_t blocking() const;
};

}  // namespace pintrace::snapshot
