// The /proc fallback: /proc/kpageflags (flags) and /proc/kpagecount (the
// page's mapcount, not its refcount) for a pfn range. Works without BPF,
// as root (CAP_SYS_ADMIN). What it cannot see: the refcount (so neither
// the 1024 pin bias nor extra references), folio pin counts, migratetype:
// with a BpfRefcounts, the walk adds those.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "snapshot/bpf_source.hpp"
#include "snapshot/page_state.hpp"
#include "snapshot/range.hpp"
#include "util/result.hpp"

namespace pintrace::snapshot {

class ProcPageSource {
public:
    // root prefixes /proc (tests give fixture files).
    static Result<ProcPageSource> open(const std::string& root = "");
    ProcPageSource(ProcPageSource&& o) noexcept;
    ProcPageSource& operator=(ProcPageSource&&) = delete;
    ~ProcPageSource();

    // Calls fn for every pfn of span, in order. Pages past the end of
    // memory end the walk early (the kernel returns nothing for them).
    // Pages outside ram (when it is not empty) are holes: the kernel
    // reports them with no flags at all, like many kernel pages.
    // With bpf, pages also carry what only BPF reads: refcounts (head
    // and small pages; a tail page's own is always 0), large folios' pin
    // counts (heads and tails), and their pageblock's migratetype.
    Result<void> scan(const PfnSpan& span, const std::vector<ZoneSpan>& zones, const std::vector<PfnSpan>& ram,
                      const std::function<void(const PageState&)>& fn, BpfRefcounts* bpf = nullptr) const;
    // The same for [start, start + n) alone, with BPF slot `slot`: what
    // one of several threads reads. Returns the pages read (fewer than
    // n: memory ended). Callable from several threads at once.
    Result<size_t> scan_piece(uint64_t start, size_t n, const std::vector<ZoneSpan>& zones,
                              const std::vector<PfnSpan>& ram, const std::function<void(const PageState&)>& fn,
                              BpfRefcounts* bpf, unsigned slot) const;
    static constexpr size_t kPiece = size_t{1} << 16;

    // What this source cannot show, one line each (with_bpf: with the BPF
    // reader; bpf: the reader as opened, which knows whether this kernel
    // shows the migratetype).
    static std::vector<std::string> blind_spots(bool with_bpf = false);
    static std::vector<std::string> blind_spots(const BpfRefcounts* bpf);

private:
    ProcPageSource(int flags_fd, int count_fd) : flags_fd_(flags_fd), count_fd_(count_fd) {}
    int flags_fd_ = -1, count_fd_ = -1;
};

}  // namespace pintrace::snapshot
