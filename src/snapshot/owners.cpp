#include "snapshot/owners.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <sstream>

#include "capture/libbpf_owners.hpp"
#include "snapshot/bpf_source.hpp"
#include "snapshot/proc_fds.hpp"
#include "snapshot/range.hpp"
#include "snapshot/rmap_source.hpp"
#include "util/hex.hpp"

namespace pintrace::snapshot {
namespace {

std::string trim(std::string s)
{
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
    return s;
}

constexpr uint64_t kPage = 4096;

// Reads pagemap entries for [start, end) and calls fn(vaddr, pfn) for present pages.
template <class Fn>
uint64_t read_pagemap(int fd, uint64_t start, uint64_t end, Fn& fn)
{
    constexpr size_t kChunk = 4096;
    uint64_t entries[kChunk];
    uint64_t walked = 0;
    for (uint64_t va = start & ~(kPage - 1); va < end;) {
        size_t n = static_cast<size_t>(std::min<uint64_t>(kChunk, (end - va + kPage - 1) / kPage));
        ssize_t r = ::pread(fd, entries, n * 8, static_cast<off_t>(va / kPage * 8));
        if (r <= 0) break;
        size_t got = static_cast<size_t>(r) / 8;
        for (size_t i = 0; i < got; ++i)
            if (auto pfn = pagemap_pfn(entries[i])) fn(va + i * kPage, *pfn);
        walked += got;
        if (got < n) break;
        va += n * kPage;
    }
    return walked;
}

// PAGEMAP_SCAN (6.7+), as include/uapi/linux/fs.h of 6.12 has it; this
// build's headers may predate it.
struct PmScanArg {
    uint64_t size, flags, start, end, walk_end, vec, vec_len, max_pages;
    uint64_t category_inverted, category_mask, category_anyof_mask, return_mask;
};
struct PageRegion {
    uint64_t start, end, categories;
};
static_assert(sizeof(PmScanArg) == 96 && sizeof(PageRegion) == 24, "the kernel's layouts");
static_assert(sizeof(VaRange) == 16);
constexpr unsigned long kPagemapScan = _IOWR('f', 16, PmScanArg);
constexpr uint64_t kPageIsPresent = 1 << 3;

// Calls fn(vaddr, pfn) for the present pages of [start, end): pagemap
// entries read only where the kernel says pages are present, or all of
// them where it cannot say. Returns the entries read.
template <class Fn>
uint64_t walk_pagemap(int fd, uint64_t start, uint64_t end, Fn fn)
{
    start &= ~(kPage - 1);
    auto ranges = present_ranges(fd, start, end);
    if (!ranges) return read_pagemap(fd, start, end, fn);
    uint64_t walked = 0;
    for (const auto& r : *ranges) walked += read_pagemap(fd, r.start, r.end, fn);
    return walked;
}

}  // namespace

std::vector<Vma> parse_maps(std::string_view text)
{
    std::vector<Vma> out;
    std::istringstream in{std::string(text)};
    std::string line;
    while (std::getline(in, line)) {
        uint64_t a, b;
        char perms[8] = {};
        int path_at = 0;
        if (std::sscanf(line.c_str(), "%" SCNx64 "-%" SCNx64 " %7s %*s %*s %*s %n", &a, &b, perms, &path_at) < 3)
            continue;
        Vma v{a, b, perms, path_at > 0 && static_cast<size_t>(path_at) <= line.size() ? line.substr(path_at) : ""};
        out.push_back(std::move(v));
    }
    return out;
}

std::optional<uint64_t> pagemap_pfn(uint64_t entry)
{
    constexpr uint64_t kPresent = uint64_t{1} << 63, kSwapped = uint64_t{1} << 62;
    if (!(entry & kPresent) || (entry & kSwapped)) return std::nullopt;
    uint64_t pfn = entry & ((uint64_t{1} << 55) - 1);
    if (!pfn) return std::nullopt;
    return pfn;
}

std::optional<std::vector<VaRange>> present_ranges(int pagemap_fd, uint64_t start, uint64_t end)
{
    std::vector<VaRange> out;
    PageRegion vec[256];
    for (uint64_t from = start; from < end;) {
        PmScanArg arg{};
        arg.size = sizeof arg;
        arg.start = from;
        arg.end = end;
        arg.vec = reinterpret_cast<uintptr_t>(vec);
        arg.vec_len = std::size(vec);
        arg.category_mask = kPageIsPresent;
        arg.return_mask = kPageIsPresent;
        long n = ::ioctl(pagemap_fd, kPagemapScan, &arg);
        if (n < 0) return std::nullopt;  // ENOTTY before 6.7, or not a pagemap
        for (long i = 0; i < n; ++i) out.push_back({vec[i].start, std::min(vec[i].end, end)});
        if (arg.walk_end <= from) return std::nullopt;  // no progress: do not trust it
        from = arg.walk_end;
    }
    return out;
}

std::string_view confidence_word(Confidence c) { return c == Confidence::Likely ? "likely" : "possible"; }

std::optional<Candidate> make_candidate(uint32_t pid, std::string comm, const std::vector<MappedRun>& runs)
{
    Candidate c;
    c.pid = pid;
    c.comm = std::move(comm);
    for (const auto& run : runs) {
        if (run.hits.empty()) continue;
        Evidence e;
        for (const auto& h : run.hits) {
            e.pfns.push_back(h.pfn);
            c.pfns.insert(h.pfn);
        }
        std::string pages = run.hits.size() == 1 ? "1 page" : std::to_string(run.hits.size()) + " pages";
        if (run.pinned_by) {
            const auto& [fd, kind, range] = *run.pinned_by;
            c.confidence = Confidence::Likely;
            e.long_term = true;
            e.named_by_fd = true;
            e.origin = kind->origin;
            e.what = std::string(kind->noun) + " fd " + std::to_string(fd) + " has " + range.label + " (" +
                     hex(range.addr) + ", " + std::to_string(range.len) + " bytes; a long-term pin) on " + pages;
        } else {
            e.what = "maps " + pages + " at " + hex(run.hits.front().vaddr) + " (" + run.vma.perms + " " +
                     (run.vma.path.empty() ? "anonymous" : run.vma.path) + "): a mapping, not necessarily a pin";
        }
        c.evidence.push_back(std::move(e));
    }
    if (c.evidence.empty()) return std::nullopt;
    // The long-term pin evidence first.
    std::stable_sort(c.evidence.begin(), c.evidence.end(),
                     [](const Evidence& a, const Evidence& b) { return a.long_term && !b.long_term; });
    return c;
}

std::vector<PageHolderNow> holders_now(const OwnerScan& scan, uint64_t pfn)
{
    std::vector<PageHolderNow> out;
    for (const auto& c : scan.candidates) {
        if (!c.pfns.count(pfn)) continue;
        PageHolderNow h{c.pid, c.comm};
        for (const auto& e : c.evidence)
            if (e.long_term && std::count(e.pfns.begin(), e.pfns.end(), pfn)) {
                h.confidence = Confidence::Likely;
                h.origin = e.origin;
                h.named_by_fd = e.named_by_fd;
            }
        out.push_back(std::move(h));
    }
    return out;
}

std::map<uint64_t, std::string> registered_pins(const OwnerScan& scan)
{
    std::map<uint64_t, std::string> out;
    for (const auto& c : scan.candidates)
        for (const auto& e : c.evidence)
            if (e.named_by_fd)
                for (uint64_t pfn : e.pfns)
                    out.emplace(pfn, "pinned as " + std::string(origin_description(e.origin)) + " by pid " +
                                         std::to_string(c.pid) + " (" + c.comm + ")");
    return out;
}

std::string_view method_name(OwnerMethod m)
{
    switch (m) {
    case OwnerMethod::ReverseMap: return "rmap";
    case OwnerMethod::PagemapWalk: return "pagemap_walk";
    case OwnerMethod::None: break;
    }
    return "none";
}

std::vector<RdmaMr> parse_rdma_mr(std::string_view text, size_t* bad_lines)
{
    std::vector<RdmaMr> out;
    std::istringstream in{std::string(text)};
    std::string line;
    while (std::getline(in, line)) {
        std::istringstream words(line);
        std::vector<std::string> w;
        for (std::string x; words >> x;) w.push_back(x);
        if (w.empty()) continue;
        RdmaMr mr;
        bool has_len = false, ok = w.size() % 2 == 0;
        for (size_t i = 0; ok && i + 1 < w.size(); i += 2) {
            const std::string& k = w[i];
            const std::string& v = w[i + 1];
            char* end = nullptr;
            errno = 0;
            uint64_t n = std::strtoull(v.c_str(), &end, 0);
            bool number = errno == 0 && end && *end == '\0' && !v.empty();
            if (k == "dev")
                mr.dev = v;
            else if (k == "comm")
                mr.comm = v;
            else if (k == "mrn")
                ok = number, mr.mrn = static_cast<uint32_t>(n);
            else if (k == "mrlen")
                ok = number, mr.len = n, has_len = true;
            else if (k == "iova")
                ok = number, mr.iova = n;
            else if (k == "pid")
                ok = number, mr.pid = static_cast<uint32_t>(n);
            // rkey, lkey, pdn, and what later versions add: not needed.
        }
        if (!ok || !has_len || mr.dev.empty()) {
            if (bad_lines) ++*bad_lines;
            continue;
        }
        out.push_back(std::move(mr));
    }
    return out;
}

namespace {

// A file descriptor of a holder kind that pins memory without naming
// which (VFIO, iommufd, RDMA verbs, udmabuf, a busy io_uring ring).
struct HeldFd {
    uint32_t fd = 0;
    std::string target;
    const HolderFdKind* kind = nullptr;
    std::string detail;  // what its fdinfo added
};

// What one process showed: its pinned ranges and mappings on the pages
// asked about, and its fds that pin memory without naming it.
struct ProcessFinds {
    std::vector<MappedRun> runs;
    std::vector<HeldFd> held;
};

std::string held_fd_evidence(const HeldFd& h, size_t pages)
{
    return "holds " + std::string(h.kind->article) + " " + std::string(h.kind->noun) + " fd " + std::to_string(h.fd) +
           " (" + h.target + (h.detail.empty() ? "" : "; " + h.detail) + "): " + std::string(h.kind->pins) +
           "; it maps " + (pages == 1 ? "1 of these pages" : std::to_string(pages) + " of these pages") +
           " (which of its pages are DMA-mapped is not visible)";
}

// The vma of /proc/PID/maps holding each hit, for the evidence.
std::vector<MappedRun> runs_from_hits(const std::vector<Vma>& maps, std::vector<Hit> hits)
{
    std::sort(hits.begin(), hits.end(), [](const Hit& a, const Hit& b) { return a.vaddr < b.vaddr; });
    std::vector<MappedRun> runs;
    for (const auto& h : hits) {
        auto it =
            std::find_if(maps.begin(), maps.end(), [&](const Vma& v) { return h.vaddr >= v.start && h.vaddr < v.end; });
        Vma v = it != maps.end() ? *it : Vma{h.vaddr, h.vaddr + kPage, "?", "(gone from maps)"};
        if (runs.empty() || runs.back().vma.start != v.start) runs.push_back(MappedRun{v, std::nullopt, {}});
        runs.back().hits.push_back(h);
    }
    return runs;
}

std::optional<std::string> run_rdma_tool(std::vector<std::string>& notes)
{
    const char* path = std::getenv("PATH");
    std::string found;
    std::istringstream dirs(path ? path : "/usr/sbin:/usr/bin:/sbin:/bin");
    for (std::string d; std::getline(dirs, d, ':');)
        if (!d.empty() && ::access((d + "/rdma").c_str(), X_OK) == 0) {
            found = d + "/rdma";
            break;
        }
    if (found.empty()) {
        notes.push_back("rdma (iproute2) is not installed: RDMA memory regions are not listed");
        return std::nullopt;
    }
    std::string cmd = found + " resource show mr 2>/dev/null";
    FILE* f = ::popen(cmd.c_str(), "r");
    if (!f) return std::nullopt;
    std::string text;
    char buf[4096];
    for (size_t n; (n = std::fread(buf, 1, sizeof buf, f)) > 0;) text.append(buf, n);
    int rc = ::pclose(f);
    if (rc != 0) {
        notes.push_back(found + " resource show mr failed (exit " + std::to_string(rc) +
                        "): RDMA memory regions are not listed");
        return std::nullopt;
    }
    return text;
}

std::string pages_word(size_t n) { return n == 1 ? "1 page" : std::to_string(n) + " pages"; }

// What the scan looks for: the pages asked about, and a range in which
// every page an fd names as pinned counts (the /proc fallback cannot see
// pins; these can).
struct Query {
    const std::set<uint64_t>& pfns;
    uint64_t range_start = 0, range_end = 0;
    bool wanted(uint64_t pfn) const { return pfns.count(pfn) != 0; }
    bool in_range(uint64_t pfn) const { return wanted(pfn) || (pfn >= range_start && pfn < range_end); }
};

// From the pages: each answer is a (task, address) the kernel's reverse
// map held a moment ago, read without its locks; one pagemap entry at that
// address says whether the page is really there (a forked child shares the
// parent's anon_vma but may hold its own copy). If the reverse map fails,
// the method becomes the walk and nothing is returned.
std::map<uint32_t, std::vector<Hit>> mappers_from_pages(const Query& q, const RmapLookup& rmap, const std::string& proc,
                                                        uint32_t self, OwnerScan& scan)
{
    std::map<uint32_t, std::vector<Hit>> hits_by_pid;
    std::map<uint32_t, Fd> pagemaps;
    uint64_t not_mapped = 0, ksm = 0, truncated = 0, no_owner = 0, no_head = 0;
    for (uint64_t pfn : q.pfns) {
        auto pm = rmap(pfn);
        if (!pm) {
            scan.notes.push_back("reverse map failed at pfn " + hex(pfn) + " (" + pm.error().message +
                                 "): walked every process's pagemap instead");
            scan.method = OwnerMethod::PagemapWalk;
            return {};
        }
        ++scan.rmap_pages;
        scan.rmap_mappers += pm->mappers.size();
        if (pm->identity) scan.identities[pfn] = *pm->identity;
        if (pm->kind == RmapKind::Ksm)
            ++ksm;
        else if (pm->kind != RmapKind::Anon && pm->kind != RmapKind::File)
            ++not_mapped;
        truncated += pm->truncated;
        no_head += pm->no_head;
        for (const auto& m : pm->mappers) {
            if (!m.tgid) {
                ++no_owner;
                continue;
            }
            if (m.tgid == self) continue;
            auto [it, fresh] = pagemaps.try_emplace(m.tgid);
            if (fresh)
                it->second =
                    Fd(::open((proc + "/" + std::to_string(m.tgid) + "/pagemap").c_str(), O_RDONLY | O_CLOEXEC));
            uint64_t entry = 0;
            bool confirmed = it->second.get() >= 0 &&
                             ::pread(it->second.get(), &entry, sizeof entry, static_cast<off_t>(m.vaddr / kPage * 8)) ==
                                 sizeof entry &&
                             pagemap_pfn(entry) == pfn;
            if (it->second.get() >= 0) ++scan.pages_walked;
            if (!confirmed) {
                ++scan.rmap_unconfirmed;
                continue;
            }
            auto& hits = hits_by_pid[m.tgid];
            if (std::none_of(hits.begin(), hits.end(), [&](const Hit& h) { return h.vaddr == m.vaddr; }))
                hits.push_back({m.vaddr, pfn});
        }
    }
    scan.notes.push_back(
        "mappers found from the pages through the kernel's reverse map (BPF, read without its "
        "locks), each confirmed by one /proc/PID/pagemap read: " +
        std::to_string(scan.rmap_pages) + " page(s), " + std::to_string(scan.rmap_mappers) + " mapping(s) found, " +
        std::to_string(scan.rmap_unconfirmed) + " not confirmed");
    if (truncated)
        scan.notes.push_back(std::to_string(truncated) +
                             " page(s) have more mappers than were searched (widely shared file pages): their list "
                             "is partial");
    if (no_head)
        scan.notes.push_back(std::to_string(no_head) +
                             " page(s) are tail pages whose head page could not be found (their head word fits "
                             "neither form this kernel uses): their mappers are not walked");
    if (ksm) scan.notes.push_back(std::to_string(ksm) + " page(s) are KSM-merged: their mappers are not walked");
    if (no_owner)
        scan.notes.push_back(std::to_string(no_owner) +
                             " mapping(s) have no owner task (kernel without CONFIG_MEMCG's mm->owner)");
    return hits_by_pid;
}

// One process, as the sources below read it.
struct ProcessDir {
    uint32_t pid = 0;
    std::string dir;  // ROOT/proc/PID
    int pagemap = -1;
};

// Source: its file descriptors of a holder kind (holder_fds.hpp). Ranges
// an fd names become pinned runs (the pages in them that are asked about
// or in the range); fds that name none are kept for the evidence.
void scan_holder_fds(const ProcessDir& p, const Query& q, OwnerScan& scan, ProcessFinds& found)
{
    for_each_fd(p.dir, [&](uint32_t fd, std::string_view target) {
        const HolderFdKind* kind = holder_fd_kind(target);
        if (!kind) return;
        FdReading reading;
        if (kind->read_fdinfo) {
            auto text = read_text_file(p.dir + "/fdinfo/" + std::to_string(fd));
            if (!text) return;  // closed meanwhile
            auto r = kind->read_fdinfo(text.value());
            if (!r) return;  // holds nothing after all
            reading = std::move(*r);
        }
        if (!reading.note.empty())
            scan.notes.push_back("pid " + std::to_string(p.pid) + " " + std::string(kind->noun) + " fd " +
                                 std::to_string(fd) + " " + reading.note);
        if (reading.ranges.empty()) {
            found.held.push_back({fd, std::string(target), kind, reading.detail});
            return;
        }
        for (auto& range : reading.ranges) {
            MappedRun run;
            run.vma = Vma{range.addr, range.addr + range.len, "", ""};
            scan.pages_walked +=
                walk_pagemap(p.pagemap, range.addr, range.addr + range.len, [&](uint64_t va, uint64_t pfn) {
                    if (q.in_range(pfn)) run.hits.push_back({va, pfn});
                });
            run.pinned_by = PinnedBy{fd, kind, std::move(range)};
            found.runs.push_back(std::move(run));
        }
    });
}

// Source: every mapping's pagemap (without the reverse map).
void scan_mappings(const ProcessDir& p, const Query& q, OwnerScan& scan, ProcessFinds& found)
{
    auto maps = read_text_file(p.dir + "/maps");
    if (!maps) return;
    for (const auto& v : parse_maps(maps.value())) {
        if (v.path == "[vsyscall]") continue;
        MappedRun run;
        run.vma = v;
        scan.pages_walked += walk_pagemap(p.pagemap, v.start, v.end, [&](uint64_t va, uint64_t pfn) {
            if (q.wanted(pfn)) run.hits.push_back({va, pfn});
        });
        if (!run.hits.empty()) found.runs.push_back(std::move(run));
    }
}

// Source: the mappings the reverse map named in it; its maps say what each is.
void add_mapped_by_rmap(const ProcessDir& p, std::vector<Hit> hits, ProcessFinds& found)
{
    auto maps = read_text_file(p.dir + "/maps");
    auto runs = runs_from_hits(maps ? parse_maps(maps.value()) : std::vector<Vma>{}, std::move(hits));
    found.runs.insert(found.runs.end(), runs.begin(), runs.end());
}

// The memory regions `rdma resource show mr` lists, read once per scan and
// only when some process holds an RDMA verbs fd.
struct RdmaRegions {
    std::vector<RdmaMr> mrs;
    bool listed = false;
};
RdmaRegions list_rdma_regions(const std::map<uint32_t, ProcessFinds>& finds, const OwnerOptions& options,
                              OwnerScan& scan)
{
    RdmaRegions out;
    bool verbs = std::any_of(finds.begin(), finds.end(), [](const auto& f) {
        return std::any_of(f.second.held.begin(), f.second.held.end(),
                           [](const HeldFd& h) { return h.kind->origin == Origin::Rdma; });
    });
    if (!verbs) return out;
    std::optional<std::string> text = options.rdma_mr_text ? options.rdma_mr_text : run_rdma_tool(scan.notes);
    if (!text) return out;
    out.listed = true;
    size_t bad = 0;
    out.mrs = parse_rdma_mr(*text, &bad);
    if (bad) scan.notes.push_back("rdma resource show mr: " + std::to_string(bad) + " line(s) not understood");
    return out;
}

// An RDMA holder's regions: one whose iova range holds a page's address
// names that page; then how many it has in all.
void add_rdma_evidence(uint32_t pid, const ProcessFinds& found, const RdmaRegions& rdma, Candidate& c)
{
    uint64_t bytes = 0, regions = 0;
    for (const auto& mr : rdma.mrs) {
        if (mr.pid != pid) continue;
        ++regions;
        bytes += mr.len;
        if (!mr.iova) continue;
        Evidence covered;
        for (const auto& run : found.runs)
            for (const auto& h : run.hits)
                if (h.vaddr >= *mr.iova && h.vaddr - *mr.iova < mr.len &&
                    std::find(covered.pfns.begin(), covered.pfns.end(), h.pfn) == covered.pfns.end())
                    covered.pfns.push_back(h.pfn);
        if (covered.pfns.empty()) continue;
        covered.what = "RDMA memory region mrn " + std::to_string(mr.mrn) + " on " + mr.dev + " (iova " +
                       hex(*mr.iova) + ", " + std::to_string(mr.len) + " bytes; a long-term pin) covers " +
                       pages_word(covered.pfns.size());
        covered.long_term = true;
        covered.origin = Origin::Rdma;
        c.evidence.push_back(std::move(covered));
    }
    if (rdma.listed)
        c.evidence.push_back(Evidence{
            "rdma lists " + std::to_string(regions) + " memory region(s) of " + std::to_string(bytes) + " bytes for it",
            {},
            true,
            Origin::Rdma});
}

// The candidate one process makes: what it maps or pinned, then its
// holder fds (which pin memory it maps, though which pages is not visible).
std::optional<Candidate> candidate_of(uint32_t pid, const std::string& comm, const ProcessFinds& found,
                                      const RdmaRegions& rdma, bool pages_asked, OwnerScan& scan)
{
    auto c = make_candidate(pid, comm, found.runs);
    if (!c) {
        if (pages_asked && !found.held.empty())
            scan.notes.push_back("pid " + std::to_string(pid) + " (" + comm + ") holds " +
                                 std::to_string(found.held.size()) + " fd(s) that pin memory (" +
                                 found.held.front().target +
                                 ", ...) but maps none of these pages: a pin whose mapping is gone would not show "
                                 "here");
        return std::nullopt;
    }
    std::vector<uint64_t> mapped(c->pfns.begin(), c->pfns.end());
    bool rdma_told = false;
    for (const auto& h : found.held) {
        c->evidence.push_back(Evidence{held_fd_evidence(h, mapped.size()), mapped, true, h.kind->origin});
        c->confidence = Confidence::Likely;
        if (h.kind->origin == Origin::Rdma && !rdma_told) {
            add_rdma_evidence(pid, found, rdma, *c);  // one account of its regions, however many verbs fds
            rdma_told = true;
        }
    }
    std::stable_sort(c->evidence.begin(), c->evidence.end(),
                     [](const Evidence& a, const Evidence& b) { return a.long_term && !b.long_term; });
    return c;
}

}  // namespace

OwnerScan find_owners(const std::set<uint64_t>& pfns, uint64_t range_start, uint64_t range_end,
                      const OwnerOptions& options)
{
    auto t0 = std::chrono::steady_clock::now();
    OwnerScan scan;
    const Query q{pfns, range_start, range_end};
    std::string proc = options.root + "/proc";
    uint32_t self = static_cast<uint32_t>(::getpid());

    std::map<uint32_t, std::vector<Hit>> rmap_hits;
    if (!pfns.empty() && options.rmap) {
        scan.method = OwnerMethod::ReverseMap;
        rmap_hits = mappers_from_pages(q, options.rmap, proc, self, scan);
    } else if (!pfns.empty()) {
        scan.method = OwnerMethod::PagemapWalk;
        scan.notes.push_back(
            "mappers found by walking every process's /proc/PID/pagemap (proportional to mapped "
            "memory)" +
            (options.rmap_unavailable.empty() ? std::string() : ": no reverse map, " + options.rmap_unavailable));
    }
    bool walk = scan.method == OwnerMethod::PagemapWalk;

    if (::access(proc.c_str(), R_OK | X_OK) != 0) {
        scan.notes.push_back(proc + ": cannot list processes");
        return scan;
    }
    std::map<uint32_t, ProcessFinds> finds;
    for (uint32_t pid : list_pids(proc)) {
        if (pid == self) continue;
        ProcessDir p{pid, proc + "/" + std::to_string(pid)};
        Fd pm(::open((p.dir + "/pagemap").c_str(), O_RDONLY | O_CLOEXEC));
        if (pm.get() < 0) {
            if (errno != ESRCH) ++scan.processes_unreadable;  // ESRCH: a kernel thread, no memory of its own
            continue;
        }
        p.pagemap = pm.get();
        ++scan.processes;
        ProcessFinds found;
        scan_holder_fds(p, q, scan, found);
        if (walk) scan_mappings(p, q, scan, found);
        if (auto it = rmap_hits.find(pid); it != rmap_hits.end()) {
            add_mapped_by_rmap(p, std::move(it->second), found);
            rmap_hits.erase(it);
        }
        bool any =
            std::any_of(found.runs.begin(), found.runs.end(), [](const MappedRun& r) { return !r.hits.empty(); });
        if (any || !found.held.empty()) finds.emplace(pid, std::move(found));
    }

    RdmaRegions rdma = list_rdma_regions(finds, options, scan);
    for (const auto& [pid, found] : finds) {
        std::string dir = proc + "/" + std::to_string(pid);
        auto comm_text = read_text_file(dir + "/comm");
        std::string comm = comm_text ? trim(comm_text.value()) : "?";
        auto c = candidate_of(pid, comm, found, rdma, !pfns.empty(), scan);
        if (!c) continue;
        c->exe = read_link(dir + "/exe");
        scan.candidates.push_back(std::move(*c));
    }
    if (!rmap_hits.empty())
        scan.notes.push_back(std::to_string(rmap_hits.size()) +
                             " process(es) the reverse map named exited before their /proc could be read");
    if (::geteuid() != 0)
        scan.notes.push_back("not root: the kernel hides pfns in /proc/PID/pagemap, so no process can be matched");
    std::stable_sort(scan.candidates.begin(), scan.candidates.end(), [](const Candidate& a, const Candidate& b) {
        if (a.confidence != b.confidence) return a.confidence == Confidence::Likely;
        return a.pfns.size() > b.pfns.size();
    });
    std::set<uint64_t> owned;
    for (const auto& c : scan.candidates) owned.insert(c.pfns.begin(), c.pfns.end());
    for (uint64_t p : pfns)
        if (!owned.count(p)) scan.unowned.push_back(p);
    scan.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return scan;
}

OwnerScan find_owners(const std::set<uint64_t>& pfns, uint64_t range_start, uint64_t range_end,
                      std::optional<uint64_t> vmemmap_base)
{
    OwnerOptions options;
    std::unique_ptr<BpfRmap> rmap;
    if (!pfns.empty()) {
        auto t0 = std::chrono::steady_clock::now();
        auto opened = BpfRmap::open(vmemmap_base);
        if (opened) {
            rmap = std::move(opened.value());
            options.rmap = rmap->lookup();
        } else {
            options.rmap_unavailable = opened.error().message;
        }
        auto scan = find_owners(pfns, range_start, range_end, options);
        // Loading the program and calibrating are part of the cost.
        scan.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        return scan;
    }
    return find_owners(pfns, range_start, range_end, options);
}

OwnerScan find_owners_as(const std::set<uint64_t>& pfns, uint64_t range_start, uint64_t range_end,
                         const BpfRefcounts* bpf, const std::string& why_not)
{
    if (bpf) return find_owners(pfns, range_start, range_end, bpf->vmemmap_base());
    OwnerOptions options;
    options.rmap_unavailable = why_not.empty() ? "no BPF (--source proc)" : why_not;
    return find_owners(pfns, range_start, range_end, options);
}

}  // namespace pintrace::snapshot
