#include "snapshot/proc_source.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>

namespace pintrace::snapshot {
namespace {

Result<int> open_proc(const std::string& path)
{
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd >= 0) return fd;
    int e = errno;
    if (e == EACCES || e == EPERM)
        return make_error(path +
                          ": permission denied (run as root: the kernel needs CAP_SYS_ADMIN to show page flags)");
    return make_error(path + ": " + std::strerror(e));
}

// Whole 8-byte entries from offset; returns how many.
Result<size_t> read_entries(int fd, uint64_t* out, size_t n, uint64_t first, const char* what)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = ::pread(fd, out + got, (n - got) * 8, static_cast<off_t>((first + got) * 8));
        if (r < 0) {
            if (errno == EINTR) continue;
            return make_error(std::string(what) + ": " + std::strerror(errno));
        }
        if (r == 0) break;
        got += static_cast<size_t>(r) / 8;
    }
    return got;
}

}  // namespace

Result<ProcPageSource> ProcPageSource::open(const std::string& root)
{
    auto f = open_proc(root + "/proc/kpageflags");
    if (!f) return f.error();
    auto c = open_proc(root + "/proc/kpagecount");
    if (!c) {
        ::close(f.value());
        return c.error();
    }
    return ProcPageSource(f.value(), c.value());
}

ProcPageSource::ProcPageSource(ProcPageSource&& o) noexcept : flags_fd_(o.flags_fd_), count_fd_(o.count_fd_)
{
    o.flags_fd_ = o.count_fd_ = -1;
}

ProcPageSource::~ProcPageSource()
{
    if (flags_fd_ >= 0) ::close(flags_fd_);
    if (count_fd_ >= 0) ::close(count_fd_);
}

std::vector<std::string> ProcPageSource::blind_spots(bool with_bpf)
{
    if (with_bpf)
        return {
            "migratetype of the pageblock, where /proc/kallsyms does not name mem_section (CONFIG_KALLSYMS_ALL off)",
            "pins of order-1 folios on 5.8-5.11, which keep no pin count for them (their pins add 1 to the refcount)",
            "the 1024 bias is a heuristic: 1024 ordinary references look the same",
            "values are read without locks, page by page: a snapshot, not an atomic picture",
        };
    return {
        "refcount: /proc shows none, so pins (the 1024 refcount bias) and extra references (vmsplice, KVM) are "
        "invisible: a pinned page looks movable here",
        "pin counts of large folios",
        "migratetype of the pageblock",
        "mapcount is /proc/kpagecount's: the page's mappings, not its references",
    };
}

std::vector<std::string> ProcPageSource::blind_spots(const BpfRefcounts* bpf)
{
    if (!bpf) return blind_spots(false);
    std::vector<std::string> out;
    if (!bpf->migratetype_visible()) out.push_back(bpf->migratetype_unavailable());
    if (bpf->pincount_field().starts_with("page[2]"))
        out.push_back(
            "pins of order-1 folios: this kernel keeps no pin count for them (their pins add 1 to the "
            "refcount, not 1024)");
    if (bpf->pincount_field().empty())
        out.push_back("pin counts of large folios: no field for them in this kernel's BTF");
    out.push_back("the 1024 bias is a heuristic: 1024 ordinary references look the same");
    out.push_back("values are read without locks, page by page: a snapshot, not an atomic picture");
    return out;
}

Result<void> ProcPageSource::scan(const PfnSpan& span, const std::vector<ZoneSpan>& zones,
                                  const std::vector<PfnSpan>& ram, const std::function<void(const PageState&)>& fn,
                                  BpfRefcounts* bpf) const
{
    for (uint64_t pfn = span.start; pfn < span.end;) {
        size_t n = static_cast<size_t>(std::min<uint64_t>(kPiece, span.end - pfn));
        auto got = scan_piece(pfn, n, zones, ram, fn, bpf, 0);
        if (!got) return got.error();
        if (got.value() < n) break;  // past the end of memory
        pfn += n;
    }
    return {};
}

Result<size_t> ProcPageSource::scan_piece(uint64_t start, size_t n, const std::vector<ZoneSpan>& zones,
                                          const std::vector<PfnSpan>& ram,
                                          const std::function<void(const PageState&)>& fn, BpfRefcounts* bpf,
                                          unsigned slot) const
{
    constexpr uint64_t kFree = kpf(kKpfBuddy) | kpf(kKpfNopage);
    constexpr uint64_t kCompound = kpf(kKpfCompoundHead) | kpf(kKpfCompoundTail);
    std::vector<uint64_t> flags(n), counts(n, 0);
    auto nf = read_entries(flags_fd_, flags.data(), n, start, "/proc/kpageflags");
    if (!nf) return nf.error();
    const size_t got = nf.value();

    // Pfns outside "System RAM" read as flags 0, like a kernel page: holes.
    if (!ram.empty()) {
        const PfnSpan* block = nullptr;
        for (size_t i = 0; i < got; ++i) {
            uint64_t pfn = start + i;
            if (!block || pfn < block->start || pfn >= block->end) {
                block = nullptr;
                for (const auto& r : ram)
                    if (pfn >= r.start && pfn < r.end) block = &r;
            }
            if (!block) flags[i] = kpf(kKpfNopage);
        }
    }

    // /proc/kpagecount costs the kernel as much per page as kpageflags
    // (both walk every pfn): read it only where it says something. Free
    // pages are mapped by nobody; with BPF, a small page's mapcount is its
    // _mapcount + 1, read with its refcount. Compound pages keep theirs
    // (the folio's mapcount rules change with every release).
    auto needs_count = [&](size_t i) { return !(flags[i] & kFree) && (!bpf || (flags[i] & kCompound)); };
    for (size_t i = 0; i < got;) {
        if (!needs_count(i)) {
            ++i;
            continue;
        }
        size_t end = i + 1, last = i;
        while (end < got && end - last <= 32) {  // short gaps are cheaper to read than to skip
            if (needs_count(end)) last = end;
            ++end;
        }
        auto nc = read_entries(count_fd_, counts.data() + i, last + 1 - i, start + i, "/proc/kpagecount");
        if (!nc) return nc.error();
        i = last + 1;
    }

    std::vector<PageOp> ops;
    std::vector<BpfPage> pages;
    std::vector<uint16_t> blocks;
    std::vector<uint16_t> block_of;  // per page: its pageblock's raw bits
    std::vector<uint64_t> tail_heads;  // per Tail op: its head's pfn
    if (bpf && got) {
        const size_t run = BpfRefcounts::run_pages();
        ops.resize(got);
        pages.resize(got);
        block_of.assign(got, kNoBlock);
        tail_heads.assign(got, 0);
        bool in_folio = false;  // a head (or its tail) came before: tails need no read
        for (size_t i = 0; i < got; ++i) {
            uint64_t f = flags[i];
            if (f & kFree) {
                ops[i] = PageOp::Skip;
                in_folio = false;
            } else if (f & kpf(kKpfCompoundHead)) {
                ops[i] = PageOp::Head;
                in_folio = true;
            } else if (f & kpf(kKpfCompoundTail)) {
                ops[i] = in_folio ? PageOp::Skip : PageOp::Tail;
                in_folio = true;
            } else {
                ops[i] = PageOp::Small;
                in_folio = false;
            }
        }
        for (size_t r = 0; r < got; r += run) {
            size_t m = std::min(run, got - r);
            blocks.assign(bpf->pageblocks_in(start + r, m), kNoBlock);
            uint64_t tail_head = 0;
            auto ok = bpf->read(slot, start + r, std::span<const PageOp>(ops.data() + r, m),
                                std::span<BpfPage>(pages.data() + r, m), blocks, &tail_head);
            if (!ok) return ok.error();
            // At most one Tail op per piece: the piece's leading tail pages.
            for (size_t i = r; i < r + m; ++i)
                if (ops[i] == PageOp::Tail) tail_heads[i] = tail_head;
            if (bpf->migratetype_visible()) {
                uint64_t first = (start + r) >> bpf->pageblocks().order;
                for (size_t i = r; i < r + m; ++i)
                    block_of[i] = blocks[((start + i) >> bpf->pageblocks().order) - first];
            }
        }
    }

    // The folio the current tail pages belong to (BPF only).
    struct Folio {
        uint64_t head = 0;
        unsigned order = 0;
        std::optional<int32_t> pincount;
    };
    Folio folio;  // valid while current (a plain value: gcc misjudges an optional here)
    bool current = false;
    const ZoneSpan* zone = nullptr;
    PageState p;
    for (size_t i = 0; i < got; ++i) {
        p = PageState{};
        p.pfn = start + i;
        if (!zone || p.pfn < zone->start_pfn || p.pfn >= zone->start_pfn + zone->spanned) zone = zone_of(zones, p.pfn);
        p.zone = zone ? std::string_view(zone->zone) : std::string_view();
        p.flags = flags[i];
        p.mapcount = static_cast<int32_t>(counts[i]);
        if (bpf) {
            const BpfPage& b = pages[i];
            switch (ops[i]) {
            case PageOp::Small:
                p.refcount = b.refcount;
                // A typed page (slab, page table, ...) keeps its type in
                // _mapcount's place: kpagecount says 0 for those.
                p.mapcount = std::max(0, b.mapcount);
                current = false;
                break;
            case PageOp::Head:
                p.refcount = b.refcount;
                folio = Folio{p.pfn, b.order, b.pincount};
                current = true;
                break;
            case PageOp::Tail:
                // No head found (bpf/compound_head.h): this folio's order
                // and pin count stay unknown, not guessed.
                current = tail_heads[i] != kNoHead;
                if (current) folio = Folio{tail_heads[i], b.order, b.pincount};
                break;
            case PageOp::Skip:
                if (!(p.flags & kpf(kKpfCompoundTail))) current = false;
                break;
            }
            if (current && (p.flags & kCompound)) {
                p.folio_head = folio.head;
                p.folio_order = folio.order;
                p.pincount = folio.pincount;
            }
            if (!(p.flags & kpf(kKpfNopage)) && block_of[i] != kNoBlock) {
                int mt = bpf->pageblocks().decode(block_of[i]);
                if (mt >= 0) p.migratetype = mt;
            }
        }
        fn(p);
    }
    return got;
}

}  // namespace pintrace::snapshot
