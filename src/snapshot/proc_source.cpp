#include "snapshot/proc_source.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace pintrace::snapshot {
namespace {

Result<int> open_proc(const std::string& path)
{
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd >= 0) return fd;
    int e = errno;
    if (e == EACCES || e == EPERM)
        return make_error(path + ": permission denied (run as root: the kernel needs CAP_SYS_ADMIN to show page flags)");
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
            "pin counts of large folios: their pins add 1 to the refcount, not 1024, so a pinned large folio shows "
            "no bias (the BPF reader does not read folio pin counts yet)",
            "migratetype of the pageblock",
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

Result<void> ProcPageSource::scan(const PfnSpan& span, const std::vector<ZoneSpan>& zones,
                                  const std::vector<PfnSpan>& ram, const std::function<void(const PageState&)>& fn,
                                  BpfRefcounts* refcounts) const
{
    constexpr size_t kChunk = 1 << 16;
    std::vector<uint64_t> flags(kChunk), counts(kChunk);
    std::vector<int32_t> refs(refcounts ? kChunk : 0);
    std::vector<bool> want;
    const ZoneSpan* zone = nullptr;
    const PfnSpan* block = nullptr;  // the RAM span of the last pfn
    for (uint64_t pfn = span.start; pfn < span.end;) {
        size_t n = static_cast<size_t>(std::min<uint64_t>(kChunk, span.end - pfn));
        auto nf = read_entries(flags_fd_, flags.data(), n, pfn, "/proc/kpageflags");
        if (!nf) return nf.error();
        auto nc = read_entries(count_fd_, counts.data(), n, pfn, "/proc/kpagecount");
        if (!nc) return nc.error();
        size_t got = std::min(nf.value(), nc.value());
        if (refcounts && got) {
            // Free pages' refcounts are 0 and tail pages' are not theirs:
            // only the others are read.
            want.assign(got, false);
            for (size_t i = 0; i < got; ++i)
                want[i] = !(flags[i] & (kpf(kKpfBuddy) | kpf(kKpfCompoundTail) | kpf(kKpfNopage)));
            auto r = refcounts->read(pfn, std::span<int32_t>(refs.data(), got), &want);
            if (!r) return r.error();
        }
        PageState p;
        for (size_t i = 0; i < got; ++i) {
            p.pfn = pfn + i;
            if (!zone || p.pfn < zone->start_pfn || p.pfn >= zone->start_pfn + zone->spanned)
                zone = zone_of(zones, p.pfn);
            p.zone = zone ? std::string_view(zone->zone) : std::string_view();
            p.flags = flags[i];
            if (!ram.empty()) {
                if (!block || p.pfn < block->start || p.pfn >= block->end) {
                    block = nullptr;
                    for (const auto& r : ram)
                        if (p.pfn >= r.start && p.pfn < r.end) block = &r;
                }
                if (!block) p.flags = kpf(kKpfNopage);
            }
            p.refcount.reset();
            if (refcounts && refs[i] != kNoPage && !(p.flags & (kpf(kKpfCompoundTail) | kpf(kKpfNopage))))
                p.refcount = refs[i];
            p.mapcount = static_cast<int32_t>(counts[i]);
            fn(p);
        }
        if (got < n) break;  // past the end of memory
        pfn += n;
    }
    return {};
}

}  // namespace pintrace::snapshot
