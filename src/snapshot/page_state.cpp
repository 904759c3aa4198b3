#include "snapshot/page_state.hpp"
#include "util/hex.hpp"

#include <algorithm>
#include <cctype>
#include <cstdio>

namespace pintrace::snapshot {

std::string kpf_string(uint64_t flags)
{
    static constexpr std::pair<unsigned, const char*> kNames[] = {
        {kKpfLocked, "locked"},
        {kKpfReferenced, "referenced"},
        {kKpfUptodate, "uptodate"},
        {kKpfDirty, "dirty"},
        {kKpfLru, "lru"},
        {kKpfActive, "active"},
        {kKpfSlab, "slab"},
        {kKpfWriteback, "writeback"},
        {kKpfReclaim, "reclaim"},
        {kKpfBuddy, "buddy"},
        {kKpfMmap, "mmap"},
        {kKpfAnon, "anon"},
        {kKpfSwapcache, "swapcache"},
        {kKpfSwapbacked, "swapbacked"},
        {kKpfCompoundHead, "compound_head"},
        {kKpfCompoundTail, "compound_tail"},
        {kKpfHuge, "huge"},
        {kKpfUnevictable, "unevictable"},
        {kKpfHwpoison, "hwpoison"},
        {kKpfNopage, "nopage"},
        {kKpfKsm, "ksm"},
        {kKpfThp, "thp"},
        {kKpfOffline, "offline"},
        {kKpfZeroPage, "zero_page"},
        {kKpfIdle, "idle"},
        {kKpfPgtable, "pgtable"},
        {kKpfReserved, "reserved"},
        {kKpfMlocked, "mlocked"},
        {kKpfPrivate, "private"},
        {kKpfPrivate2, "private_2"},
    };
    std::string out;
    for (auto [bit, name] : kNames) {
        if (!(flags & kpf(bit))) continue;
        if (!out.empty()) out += '|';
        out += name;
    }
    return out.empty() ? "-" : out;
}

std::string_view class_name(PageClass c)
{
    switch (c) {
    case PageClass::Pinned: return "pinned";
    case PageClass::MaybePinned: return "maybe_pinned";
    case PageClass::ExtraRefs: return "extra_refs";
    case PageClass::Unmovable: return "unmovable";
    case PageClass::NotLru: return "not_lru";
    case PageClass::Movable: return "movable";
    case PageClass::Free: return "free";
    case PageClass::Hole: return "hole";
    }
    return "?";
}

std::string_view class_description(PageClass c)
{
    switch (c) {
    case PageClass::Pinned: return "pinned (a folio pin count, or a registered long-term pin buffer)";
    case PageClass::MaybePinned: return "maybe DMA-pinned (refcount carries the 1024 pin bias: a heuristic)";
    case PageClass::ExtraRefs: return "extra references beyond mappings and caches (vmsplice, KVM, in-flight I/O)";
    case PageClass::Unmovable: return "unmovable kernel memory (slab, page tables, reserved, offline)";
    case PageClass::NotLru: return "in use, not on an LRU list (kernel or driver page, or a per-CPU LRU batch)";
    case PageClass::Movable: return "movable (on an LRU, nothing extra seen)";
    case PageClass::Free: return "free";
    case PageClass::Hole: return "no page (hole or offline section)";
    }
    return "?";
}

bool blocks_migration(PageClass c)
{
    switch (c) {
    case PageClass::Pinned:
    case PageClass::MaybePinned:
    case PageClass::ExtraRefs:
    case PageClass::Unmovable:
    case PageClass::NotLru: return true;
    default: return false;
    }
}

std::optional<int32_t> expected_refs(const PageState& p)
{
    if (!p.mapcount) return std::nullopt;
    int32_t refs = *p.mapcount;
    bool anon = p.flags & kpf(kKpfAnon);
    if (anon) {
        if (p.flags & kpf(kKpfSwapcache)) refs += 1;
    } else if (p.flags & (kpf(kKpfLru) | kpf(kKpfMmap))) {
        refs += 1;  // the page cache
    }
    if (p.flags & kpf(kKpfPrivate)) refs += 1;  // buffer heads or fs private data
    return refs;
}

Classified classify(const PageState& p, bool explain)
{
    Classified c;
    const uint64_t f = p.flags;
    bool compound = f & (kpf(kKpfCompoundHead) | kpf(kKpfCompoundTail));
    auto counts = [&] {
        std::string s;
        if (p.refcount) s += "refcount " + std::to_string(*p.refcount);
        if (p.mapcount) s += std::string(s.empty() ? "" : ", ") + "mapcount " + std::to_string(*p.mapcount);
        if (p.pincount) s += std::string(s.empty() ? "" : ", ") + "pincount " + std::to_string(*p.pincount);
        return s;
    };
    // why is only built when asked: the strings would cost more than the
    // rest of the walk (a malloc per page).
    auto set = [&](PageClass cls, auto&& why) {
        c.cls = cls;
        if (explain) c.why = why();
        return c;
    };
    auto text = [](const char* s) { return [s] { return std::string(s); }; };
    if (f & kpf(kKpfNopage)) return set(PageClass::Hole, text("no struct page"));
    if (f & kpf(kKpfBuddy)) return set(PageClass::Free, text("in the buddy allocator"));
    if (p.pincount && *p.pincount > 0)
        return set(PageClass::Pinned, [&] {
            std::string why = "large folio pin count " + std::to_string(*p.pincount) + " (certain)";
            if (p.folio_head && p.folio_order)
                why += (*p.folio_head == p.pfn ? std::string(", head of an order-") : std::string(", in the order-")) +
                       std::to_string(*p.folio_order) + " folio at pfn " + hex(*p.folio_head);
            if (std::string n = counts(); !n.empty()) why += "; " + n;
            return why;
        });
    const uint64_t kernel_flags =
        kpf(kKpfSlab) | kpf(kKpfPgtable) | kpf(kKpfReserved) | kpf(kKpfOffline) | kpf(kKpfZeroPage) | kpf(kKpfHwpoison);
    if (p.refcount) {
        if (*p.refcount == 0 && !(f & kernel_flags))
            return set(PageClass::Free, text("refcount 0 (free, e.g. on a per-CPU list)"));
        // A small page: each pin adds 1024. A large folio's pins add 1
        // each and count in its pin count (5.10: order >= 2; 6.x: all), and
        // its refcount is the whole folio's: no bias test there.
        if (!compound && int64_t{*p.refcount} - p.mapcount.value_or(0) >= kGupPinCountingBias)
            return set(PageClass::MaybePinned, [&] { return counts() + " (>= 1024 pin bias)"; });
    }
    if (f & kernel_flags) return set(PageClass::Unmovable, [&] { return kpf_string(f & kernel_flags); });
    if (!(f & kpf(kKpfLru))) {
        if (f & kpf(kKpfMmap))
            return set(PageClass::NotLru, text("mapped but not on an LRU (per-CPU LRU batch, or a driver's page)"));
        return set(PageClass::NotLru, text("not on an LRU, not free, not identified"));
    }
    if (p.refcount && !compound) {
        if (auto exp = expected_refs(p)) {
            int32_t extra = *p.refcount - *exp;
            if (extra > 0) {
                c.extra_refs = extra;
                return set(PageClass::ExtraRefs,
                           [&] { return counts() + ", " + std::to_string(extra) + " unexplained"; });
            }
            c.extra_refs = 0;
        }
    }
    return set(PageClass::Movable, [&] {
        std::string why = counts();
        return why.empty() ? std::string("on an LRU") : why;
    });
}

PageblockLayout PageblockLayout::from_enums(const std::vector<std::pair<std::string, int>>& migratetype,
                                            const std::vector<std::pair<std::string, int>>& pageblock_bits)
{
    PageblockLayout l;
    if (!migratetype.empty()) {
        l.names.clear();
        l.cma = -1;
        for (const auto& [name, value] : migratetype) {
            // Counts and aliases share values with real types
            // (MIGRATE_PCPTYPES = MIGRATE_HIGHATOMIC = 3, MIGRATE_TYPES).
            if (!name.starts_with("MIGRATE_") || name == "MIGRATE_PCPTYPES" || name == "MIGRATE_TYPES") continue;
            if (value < 0 || value >= static_cast<int>(kMigratetypeSlots)) continue;
            std::string n = name.substr(8);
            for (auto& ch : n) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
            if (l.names.size() <= static_cast<size_t>(value)) l.names.resize(value + 1);
            if (l.names[value].empty()) l.names[value] = n;
            if (n == "movable") l.movable = value;
            if (n == "cma") l.cma = value;
            if (n == "isolate") l.isolate = value;
        }
    }
    int count = -1, raw_count = -1;
    for (const auto& [name, value] : pageblock_bits) {
        if (name == "NR_PAGEBLOCK_BITS") count = value;
        if (name == "__NR_PAGEBLOCK_BITS") raw_count = value;
        if (name == "PB_migrate_isolate") l.isolate_bit = value;
    }
    if (count > 0)
        l.bits = static_cast<unsigned>(count);
    else if (raw_count > 0) {
        // 6.16+: #define NR_PAGEBLOCK_BITS roundup_pow_of_two(__NR_PAGEBLOCK_BITS)
        unsigned b = 1;
        while (b < static_cast<unsigned>(raw_count)) b <<= 1;
        l.bits = b;
    }
    return l;
}

int PageblockLayout::decode(uint16_t raw) const
{
    if (raw == 0xffff) return -1;
    if (isolate_bit >= 0 && (raw >> isolate_bit) & 1) return isolate;
    return raw & 7;  // PB_migrate..PB_migrate_end: 3 bits on every kernel
}

std::string_view PageblockLayout::name(int value) const
{
    if (value < 0 || static_cast<size_t>(value) >= names.size() || names[value].empty()) return "?";
    return names[value];
}

void Summary::add(const PageState& page, const Classified& c, const PageblockLayout* layout)
{
    size_t i = static_cast<size_t>(c.cls);
    ++counts[i];
    bool blocks = blocks_migration(c.cls);
    if (blocks && examples[i].size() < kExamples) examples[i].push_back(page.pfn);
    if (page.flags & kpf(kKpfMlocked)) ++mlocked;
    if (page.flags & (kpf(kKpfCompoundHead) | kpf(kKpfCompoundTail))) ++compound;
    if (page.migratetype && *page.migratetype >= 0 && static_cast<size_t>(*page.migratetype) < kMigratetypeSlots) {
        ++migratetypes[*page.migratetype];
        if (blocks && layout && layout->movable_kind(*page.migratetype)) {
            ++blocking_in_movable;
            if (blocking_in_movable_examples.size() < kExamples) blocking_in_movable_examples.push_back(page.pfn);
        }
    }
}

void Summary::merge(const Summary& later)
{
    auto append = [](std::vector<uint64_t>& to, const std::vector<uint64_t>& from) {
        for (size_t k = 0; k < from.size() && to.size() < kExamples; ++k) to.push_back(from[k]);
    };
    for (size_t i = 0; i < kPageClassCount; ++i) {
        counts[i] += later.counts[i];
        append(examples[i], later.examples[i]);
    }
    mlocked += later.mlocked;
    compound += later.compound;
    for (size_t i = 0; i < kMigratetypeSlots; ++i) migratetypes[i] += later.migratetypes[i];
    blocking_in_movable += later.blocking_in_movable;
    append(blocking_in_movable_examples, later.blocking_in_movable_examples);
}

uint64_t Summary::migratetype_pages() const
{
    uint64_t n = 0;
    for (auto c : migratetypes) n += c;
    return n;
}

uint64_t Summary::pages() const
{
    uint64_t n = 0;
    for (auto c : counts) n += c;
    return n;
}

uint64_t Summary::blocking() const
{
    uint64_t n = 0;
    for (size_t i = 0; i < kPageClassCount; ++i)
        if (blocks_migration(static_cast<PageClass>(i))) n += counts[i];
    return n;
}

}  // namespace pintrace::snapshot
