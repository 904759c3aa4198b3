#include "snapshot/owners.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <sstream>

#include "snapshot/range.hpp"

namespace pintrace::snapshot {
namespace {

std::string hex(uint64_t v)
{
    char b[24];
    std::snprintf(b, sizeof b, "0x%" PRIx64, v);
    return b;
}

std::string trim(std::string s)
{
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
    return s;
}

std::string read_link(const std::string& path)
{
    char buf[512];
    ssize_t n = ::readlink(path.c_str(), buf, sizeof buf - 1);
    return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
}

constexpr uint64_t kPage = 4096;

// Reads pagemap entries for [start, end) and calls fn(vaddr, pfn) for present pages.
template <class Fn>
uint64_t walk_pagemap(int fd, uint64_t start, uint64_t end, Fn fn)
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

std::optional<IoUringInfo> parse_io_uring_fdinfo(std::string_view text)
{
    std::istringstream in{std::string(text)};
    std::string line;
    std::optional<IoUringInfo> info;
    bool in_bufs = false;
    while (std::getline(in, line)) {
        unsigned n;
        if (std::sscanf(line.c_str(), "UserBufs: %u", &n) == 1) {
            info = IoUringInfo{n, {}};
            in_bufs = true;
            continue;
        }
        if (!in_bufs) continue;
        unsigned idx, len;
        uint64_t addr;
        if (std::sscanf(line.c_str(), " %u: 0x%" SCNx64 "/%u", &idx, &addr, &len) == 3) {
            info->buffers.push_back({idx, addr, len});
            continue;
        }
        in_bufs = false;  // the next section
    }
    return info;
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
        if (run.io_uring) {
            const auto& [fd, buf] = *run.io_uring;
            c.confidence = Confidence::Likely;
            e.what = "io_uring fd " + std::to_string(fd) + " has registered buffer " + std::to_string(buf.index) +
                     " (" + hex(buf.addr) + ", " + std::to_string(buf.len) + " bytes; a long-term pin) on " + pages;
        } else {
            e.what = "maps " + pages + " at " + hex(run.hits.front().vaddr) + " (" + run.vma.perms + " " +
                     (run.vma.path.empty() ? "anonymous" : run.vma.path) + "): a mapping, not necessarily a pin";
        }
        c.evidence.push_back(std::move(e));
    }
    if (c.evidence.empty()) return std::nullopt;
    // The long-term pin evidence first.
    std::stable_sort(c.evidence.begin(), c.evidence.end(), [](const Evidence& a, const Evidence& b) {
        return a.what.rfind("io_uring", 0) == 0 && b.what.rfind("io_uring", 0) != 0;
    });
    return c;
}

std::map<uint64_t, std::string> registered_pins(const OwnerScan& scan)
{
    std::map<uint64_t, std::string> out;
    for (const auto& c : scan.candidates)
        for (const auto& e : c.evidence)
            if (e.what.rfind("io_uring", 0) == 0)
                for (uint64_t pfn : e.pfns)
                    out.emplace(pfn, "registered as an io_uring fixed buffer by pid " + std::to_string(c.pid) + " (" +
                                         c.comm + ")");
    return out;
}

OwnerScan find_owners(const std::set<uint64_t>& pfns, uint64_t range_start, uint64_t range_end, const std::string& root)
{
    auto t0 = std::chrono::steady_clock::now();
    OwnerScan scan;
    std::string proc = root + "/proc";
    DIR* d = ::opendir(proc.c_str());
    if (!d) {
        scan.notes.push_back(proc + ": cannot list processes");
        return scan;
    }
    std::vector<uint32_t> pids;
    while (dirent* e = ::readdir(d)) {
        char* end;
        unsigned long pid = std::strtoul(e->d_name, &end, 10);
        if (*end == '\0' && pid > 0) pids.push_back(static_cast<uint32_t>(pid));
    }
    ::closedir(d);
    std::sort(pids.begin(), pids.end());
    uint32_t self = static_cast<uint32_t>(::getpid());
    auto wanted = [&](uint64_t pfn) { return pfns.count(pfn) != 0; };
    auto in_range = [&](uint64_t pfn) { return wanted(pfn) || (pfn >= range_start && pfn < range_end); };

    for (uint32_t pid : pids) {
        if (pid == self) continue;
        std::string dir = proc + "/" + std::to_string(pid);
        int pm = ::open((dir + "/pagemap").c_str(), O_RDONLY | O_CLOEXEC);
        if (pm < 0) {
            if (errno != ESRCH) ++scan.processes_unreadable;  // ESRCH: a kernel thread, no memory of its own
            continue;
        }
        ++scan.processes;
        std::vector<MappedRun> runs;
        // Long-term pin holders that user space can see: io_uring rings.
        std::string fddir = dir + "/fd";
        if (DIR* fds = ::opendir(fddir.c_str())) {
            while (dirent* e = ::readdir(fds)) {
                if (e->d_name[0] == '.') continue;
                if (read_link(fddir + "/" + e->d_name) != "anon_inode:[io_uring]") continue;
                auto text = read_text_file(dir + "/fdinfo/" + e->d_name);
                if (!text) continue;
                auto info = parse_io_uring_fdinfo(text.value());
                if (!info) continue;
                uint32_t fd = static_cast<uint32_t>(std::atoi(e->d_name));
                if (info->user_bufs && info->buffers.empty())
                    scan.notes.push_back("pid " + std::to_string(pid) + " io_uring fd " + std::to_string(fd) + " has " +
                                         std::to_string(info->user_bufs) +
                                         " registered buffer(s) the kernel did not list (ring busy): retry");
                for (const auto& b : info->buffers) {
                    MappedRun run;
                    run.vma = Vma{b.addr, b.addr + b.len, "", ""};
                    run.io_uring = std::pair{fd, b};
                    scan.pages_walked += walk_pagemap(pm, b.addr, b.addr + b.len, [&](uint64_t va, uint64_t pfn) {
                        if (in_range(pfn)) run.hits.push_back({va, pfn});
                    });
                    runs.push_back(std::move(run));
                }
            }
            ::closedir(fds);
        }
        if (!pfns.empty()) {
            auto maps = read_text_file(dir + "/maps");
            if (maps) {
                for (const auto& v : parse_maps(maps.value())) {
                    if (v.path == "[vsyscall]") continue;
                    MappedRun run;
                    run.vma = v;
                    scan.pages_walked += walk_pagemap(pm, v.start, v.end, [&](uint64_t va, uint64_t pfn) {
                        if (wanted(pfn)) run.hits.push_back({va, pfn});
                    });
                    if (!run.hits.empty()) runs.push_back(std::move(run));
                }
            }
        }
        ::close(pm);
        bool any = std::any_of(runs.begin(), runs.end(), [](const MappedRun& r) { return !r.hits.empty(); });
        if (!any) {
            // A process with present pages but pfn 0: not root.
            continue;
        }
        auto comm = read_text_file(dir + "/comm");
        if (auto c = make_candidate(pid, comm ? trim(comm.value()) : "?", runs)) {
            c->exe = read_link(dir + "/exe");
            scan.candidates.push_back(std::move(*c));
        }
    }
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

}  // namespace pintrace::snapshot
