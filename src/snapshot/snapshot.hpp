// A snapshot of a pfn range: every page read and classified, counted per
// class per span; the pages a user-space owner may hold (pinned, extra
// references) kept for owner discovery.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "snapshot/cma_area.hpp"
#include "snapshot/page_state.hpp"
#include "snapshot/range.hpp"
#include "util/result.hpp"

namespace pintrace::snapshot {

struct SpanResult {
    PfnSpan span;
    Summary summary;
};

struct SuspiciousPage {
    PageState state;  // state.zone is cleared: zone holds the name
    Classified verdict;
    std::string zone;
};
SuspiciousPage keep(const PageState& p, Classified c);

struct SnapshotResult {
    std::string source;  // "/proc/kpageflags + /proc/kpagecount"
    std::vector<std::string> blind;  // what that source cannot show
    std::vector<SpanResult> spans;
    // Pinned, maybe pinned or with extra references: pages a process may
    // hold. At most kMaxSuspicious (in pfn order); the total says how many.
    std::vector<SuspiciousPage> suspicious;
    uint64_t suspicious_total = 0;
    static constexpr size_t kMaxSuspicious = 4096;
    double seconds = 0;
    unsigned threads = 1;  // that read the range
    // Migratetypes: names and which are movable, when visible (BPF and
    // mem_section known); Summary::migratetypes counts by value.
    bool migratetype_visible = false;
    PageblockLayout pageblocks;
    std::string pincount_field;  // where this kernel keeps folio pin counts ("" unknown / no BPF)
    std::optional<CmaArea> cma;  // snapshot --cma: the area, its range's source and its counters
    uint64_t pages() const;
    uint64_t blocking() const;
};

// Pages a process may hold, whose owners are worth looking for.
bool owner_worth_finding(PageClass c);

// Pages user space says are pinned (io_uring registered buffers, from
// find_owners): pfn -> "registered as io_uring buffer by pid 107 (fio)".
// The page flags cannot show a pin; this evidence can.
using PinHints = std::map<uint64_t, std::string>;
// A page's verdict with the hints: a hinted page in use is Pinned.
Classified classify_with(const PageState& p, const PinHints* hints, bool explain = true);

// The work list of a snapshot: pieces of at most 64 Ki pfns, aligned so
// that no folio of up to 256 MiB and no pageblock is split. Nothing past
// the end of RAM (ram, when known) gets a piece: the list is bounded by the
// machine's memory, not by what a span claims.
struct PieceSpan {
    size_t span = 0;
    uint64_t start = 0;
    size_t n = 0;
};
std::vector<PieceSpan> plan_pieces(const std::vector<PfnSpan>& spans, const std::vector<PfnSpan>& ram);

class BpfRefcounts;
// Reads every span through /proc, adding what BPF reads when given
// (root prefixes /proc and /sys for tests), in pieces of 64 Ki pages
// spread over threads (0: one per CPU, at most as many as the BPF reader
// has slots; the kernel's /proc walk is the cost, and it runs per CPU).
Result<SnapshotResult> take_snapshot(const std::vector<PfnSpan>& spans, const PinHints* hints = nullptr,
                                     BpfRefcounts* bpf = nullptr, const std::string& root = "", unsigned threads = 0);
// One page: state now.
Result<SuspiciousPage> page_now(uint64_t pfn, const PinHints* hints = nullptr, BpfRefcounts* bpf = nullptr,
                                const std::string& root = "");
// The source's name for the output: "/proc/kpageflags + /proc/kpagecount (+ BPF refcounts)".
std::string source_name(bool with_bpf);

}  // namespace pintrace::snapshot
