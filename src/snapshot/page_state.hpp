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

#include "events/gup_flags.hpp"

namespace pintrace::snapshot {

// Page flags in the /proc/kpageflags layout (include/uapi/linux/
// kernel-page-flags.h and include/linux/kernel-page-flags.h), the one
// layout that is stable across kernels; other readers translate into it.
enum Kpf : unsigned {
    kKpfLocked = 0,
    kKpfReferenced = 2,
    kKpfUptodate = 3,
    kKpfDirty = 4,
    kKpfLru = 5,
    kKpfActive = 6,
    kKpfSlab = 7,
    kKpfWriteback = 8,
    kKpfReclaim = 9,
    kKpfBuddy = 10,
    kKpfMmap = 11,
    kKpfAnon = 12,
    kKpfSwapcache = 13,
    kKpfSwapbacked = 14,
    kKpfCompoundHead = 15,
    kKpfCompoundTail = 16,
    kKpfHuge = 17,
    kKpfUnevictable = 18,
    kKpfHwpoison = 19,
    kKpfNopage = 20,
    kKpfKsm = 21,
    kKpfThp = 22,
    kKpfOffline = 23,
    kKpfZeroPage = 24,
    kKpfIdle = 25,
    kKpfPgtable = 26,
    kKpfReserved = 32,
    kKpfMlocked = 33,
    kKpfPrivate = 35,
    kKpfPrivate2 = 36,
};
constexpr uint64_t kpf(unsigned bit) { return uint64_t{1} << bit; }
// "lru|anon|mmap": the flags set, by name.
std::string kpf_string(uint64_t flags);

struct PageState {
    uint64_t pfn = 0;
    uint64_t flags = 0;  // Kpf bits
    std::optional<int32_t> refcount;  // BPF only: /proc exposes no refcount
    std::optional<int32_t> mapcount;  // /proc/kpagecount, or _mapcount + 1
    std::optional<int32_t> pincount;  // BPF: large folios (head and tails), on kernels and orders that keep one
    std::optional<uint64_t> folio_head;  // BPF: a large folio's head pfn (on its head and tail pages)
    std::optional<unsigned> folio_order;  // BPF: that folio's order
    std::string_view zone;  // "" when unknown (points into the zone table)
    std::optional<int> migratetype;  // BPF, where mem_section is known: the pageblock's (PageblockLayout values)
};

// How this kernel stores a pageblock's flags (include/linux/pageblock-
// flags.h) and names its migratetypes (enum migratetype), from its BTF.
// 5.10-6.15: 3 migratetype bits + compaction skip in 4 bits, MIGRATE_ISOLATE
// a migratetype value. 6.16+: isolation is a bit of its own
// (PB_migrate_isolate), NR_PAGEBLOCK_BITS rounds 5 up to 8.
struct PageblockLayout {
    unsigned order = 9;  // pageblock_order: 512 pages on x86-64
    unsigned bits = 4;  // NR_PAGEBLOCK_BITS
    int isolate_bit = -1;  // PB_migrate_isolate, 6.16+
    std::vector<std::string> names{"unmovable", "movable", "reclaimable", "highatomic", "isolate"};  // by value
    int movable = 1, cma = -1,
        isolate = 4;  // values of MIGRATE_MOVABLE, MIGRATE_CMA (-1: no CONFIG_CMA), MIGRATE_ISOLATE

    // From (name, value) pairs of enum migratetype and enum pageblock_bits.
    static PageblockLayout from_enums(const std::vector<std::pair<std::string, int>>& migratetype,
                                      const std::vector<std::pair<std::string, int>>& pageblock_bits);
    // The migratetype of a block from its raw flag bits (isolated blocks
    // read as isolate on every kernel); -1 when unreadable.
    int decode(uint16_t raw) const;
    std::string_view name(int value) const;  // "movable"; "?" when unknown
    // Blocks the allocator keeps for movable pages (MOVABLE, CMA): an
    // unmovable page there defeats compaction, CMA and memory offline.
    bool movable_kind(int value) const { return value >= 0 && (value == movable || value == cma); }
};
inline constexpr size_t kMigratetypeSlots = 8;  // values 0..7 (3 bits)

// What a page means for a migration, worst first.
enum class PageClass {
    Pinned,  // large folio with pins counted (certain)
    MaybePinned,  // refcount >= mappings + 1024: DMA-pinned, by the bias heuristic
    ExtraRefs,  // more references than mappings and caches explain (vmsplice, KVM, in-flight I/O)
    Unmovable,  // kernel memory by its flags: slab, page tables, reserved, offline
    NotLru,  // in use, not on an LRU, not identified: kernel allocation, or a per-CPU batch
    Movable,  // on an LRU with nothing extra seen
    Free,  // in the buddy allocator
    Hole,  // no struct page (memory hole, offline section)
};
inline constexpr size_t kPageClassCount = 8;

std::string_view class_name(PageClass c);  // "maybe_pinned"
std::string_view class_description(PageClass c);  // one line for the summary
// Would a page of this class make migrating (or isolating) it fail?
bool blocks_migration(PageClass c);

struct Classified {
    PageClass cls = PageClass::Movable;
    std::optional<int32_t> extra_refs;  // references beyond the expected ones, when refcount is known
    std::string why;  // short evidence: "refcount 1026, mapcount 1"
};
// explain: build the why text (not needed to count pages: the walk of a
// whole machine classifies millions of pages and keeps a handful).
Classified classify(const PageState& page, bool explain = true);

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
    // Pages per pageblock migratetype (where the migratetype is visible),
    // and pages that would block a migration inside MOVABLE or CMA
    // pageblocks, with the first of them.
    std::array<uint64_t, kMigratetypeSlots> migratetypes{};
    uint64_t blocking_in_movable = 0;
    std::vector<uint64_t> blocking_in_movable_examples;
    static constexpr size_t kExamples = 64;

    void add(const PageState& page, const Classified& c, const PageblockLayout* layout = nullptr);
    // Adds a later part of the same range (examples stay in pfn order).
    void merge(const Summary& later);
    uint64_t migratetype_pages() const;
    uint64_t count(PageClass c) const { return counts[static_cast<size_t>(c)]; }
    uint64_t pages() const;
    uint64_t blocking() const;
};

}  // namespace pintrace::snapshot
