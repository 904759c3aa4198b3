#include "snapshot/page_state.hpp"

#include <algorithm>

namespace pintrace::snapshot {

std::string kpf_string(uint64_t flags)
{
    static constexpr std::pair<unsigned, const char*> kNames[] = {
        {kKpfLocked, "locked"},     {kKpfReferenced, "referenced"}, {kKpfUptodate, "uptodate"},
        {kKpfDirty, "dirty"},       {kKpfLru, "lru"},               {kKpfActive, "active"},
        {kKpfSlab, "slab"},         {kKpfWriteback, "writeback"},   {kKpfReclaim, "reclaim"},
        {kKpfBuddy, "buddy"},       {kKpfMmap, "mmap"},             {kKpfAnon, "anon"},
        {kKpfSwapcache, "swapcache"}, {kKpfSwapbacked, "swapbacked"}, {kKpfCompoundHead, "compound_head"},
        {kKpfCompoundTail, "compound_tail"}, {kKpfHuge, "huge"},    {kKpfUnevictable, "unevictable"},
        {kKpfHwpoison, "hwpoison"}, {kKpfNopage, "nopage"},         {kKpfKsm, "ksm"},
        {kKpfThp, "thp"},           {kKpfOffline, "offline"},       {kKpfZeroPage, "zero_page"},
        {kKpfIdle, "idle"},         {kKpfPgtable, "pgtable"},       {kKpfReserved, "reserved"},
        {kKpfMlocked, "mlocked"},   {kKpfPrivate, "private"},       {kKpfPrivate2, "private_2"},
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

Classified classify(const PageState& p)
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
    auto set = [&](PageClass cls, std::string why) {
        c.cls = cls;
        c.why = std::move(why);
        return c;
    };
    if (f & kpf(kKpfNopage)) return set(PageClass::Hole, "no struct page");
    if (f & kpf(kKpfBuddy)) return set(PageClass::Free, "in the buddy allocator");
    if (p.pincount && *p.pincount > 0) return set(PageClass::Pinned, counts());
    const uint64_t kernel_flags = kpf(kKpfSlab) | kpf(kKpfPgtable) | kpf(kKpfReserved) | kpf(kKpfOffline) |
                                  kpf(kKpfZeroPage) | kpf(kKpfHwpoison);
    if (p.refcount) {
        if (*p.refcount == 0 && !(f & kernel_flags))
            return set(PageClass::Free, "refcount 0 (free, e.g. on a per-CPU list)");
        // A small page: each pin adds 1024. A large folio's pins add 1
        // each and count in its pin count (5.10: order >= 2; 6.x: all), and
        // its refcount is the whole folio's: no bias test there.
        if (!compound && *p.refcount - p.mapcount.value_or(0) >= kGupPinCountingBias)
            return set(PageClass::MaybePinned, counts() + " (>= 1024 pin bias)");
    }
    if (f & kernel_flags) return set(PageClass::Unmovable, kpf_string(f & kernel_flags));
    if (!(f & kpf(kKpfLru))) {
        if (f & kpf(kKpfMmap))
            return set(PageClass::NotLru, "mapped but not on an LRU (per-CPU LRU batch, or a driver's page)");
        return set(PageClass::NotLru, "not on an LRU, not free, not identified");
    }
    if (p.refcount && !compound) {
        if (auto exp = expected_refs(p)) {
            int32_t extra = *p.refcount - *exp;
            if (extra > 0) {
                c.extra_refs = extra;
                return set(PageClass::ExtraRefs, counts() + ", " + std::to_string(extra) + " unexplained");
            }
            c.extra_refs = 0;
        }
    }
    std::string why = counts();
    return set(PageClass::Movable, why.empty() ? "on an LRU" : why);
}

void Summary::add(const PageState& page, const Classified& c)
{
    size_t i = static_cast<size_t>(c.cls);
    ++counts[i];
    if (blocks_migration(c.cls) && examples[i].size() < kExamples) examples[i].push_back(page.pfn);
    if (page.flags & kpf(kKpfMlocked)) ++mlocked;
    if (page.flags & (kpf(kKpfCompoundHead) | kpf(kKpfCompoundTail))) ++compound;
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
