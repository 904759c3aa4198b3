#include "snapshot/seed.hpp"

#include <algorithm>
#include <thread>

#include "snapshot/range.hpp"
#include "util/clock.hpp"

namespace pintrace::snapshot {
namespace {

std::optional<SeedClass> seed_class(PageClass c)
{
    switch (c) {
    case PageClass::Pinned: return SeedClass::Pinned;
    case PageClass::MaybePinned: return SeedClass::MaybePinned;
    case PageClass::ExtraRefs: return SeedClass::ExtraRefs;
    default: return std::nullopt;
    }
}

}  // namespace

SeedRecords seed_records(const SnapshotResult& snap, const OwnerScan& owners, uint64_t start_ns, uint64_t end_ns,
                         const std::string& range)
{
    SeedRecords out;
    out.pages.ts_ns = start_ns;
    for (const auto& p : snap.suspicious) {
        auto held_as = seed_class(p.verdict.cls);
        if (!held_as) continue;
        out.pages.pages.push_back(
            {p.state.pfn, p.state.refcount.value_or(-1), p.state.mapcount.value_or(-1), *held_as});
    }
    // Evidence is "likely" only where it is itself a long-term pin holder's
    // (a registered buffer, a VFIO or RDMA fd); a mapping says only that the
    // process could have pinned, even when it registered the pages too.
    for (const auto& c : owners.candidates)
        for (const auto& e : c.evidence) {
            if (e.pfns.empty()) continue;
            bool likely = c.confidence == Confidence::Likely && e.long_term;
            // A mapping's origin is stored empty, as the trace format says.
            std::string origin = e.origin == Origin::Unknown ? "" : std::string(origin_name(e.origin));
            out.holders.push_back({start_ns, c.pid, likely, c.comm, c.exe, e.what, origin, e.pfns});
        }
    out.end.start_ns = start_ns;
    out.end.end_ns = end_ns;
    out.end.pages = snap.pages();
    out.end.suspicious_total = snap.suspicious_total;
    out.end.suspicious_kept = out.pages.pages.size();
    out.end.processes = owners.processes;
    out.end.source = snap.source;
    out.end.range = range;
    out.end.notes = snap.blind;
    out.end.notes.insert(out.end.notes.end(), owners.notes.begin(), owners.notes.end());
    if (snap.suspicious_total > snap.suspicious.size())
        out.end.notes.push_back("held pages kept: " + std::to_string(snap.suspicious.size()) + " of " +
                                std::to_string(snap.suspicious_total) + "; the others have no inferred holder");
    return out;
}

Result<SeedRecords> take_seed(const RangeRequest& range, uint64_t start_ns, BpfRefcounts* bpf,
                              const std::string& bpf_note)
{
    auto spans = resolve(range);
    if (!spans) return spans.error();
    uint64_t lo = UINT64_MAX, hi = 0;
    for (const auto& s : spans.value()) {
        lo = std::min(lo, s.start);
        hi = std::max(hi, s.end);
    }
    // Registered long-term pins first: the page flags cannot show a pin,
    // and without BPF this is the only evidence of one.
    PinHints hints = registered_pins(find_owners({}, lo, hi));
    // One CPU fewer than there are: the recorder keeps draining meanwhile.
    unsigned threads = std::max(1u, std::thread::hardware_concurrency()) - 1;
    auto snap = take_snapshot(spans.value(), &hints, bpf, "", std::max(1u, threads));
    if (!snap) return snap.error();
    if (!bpf_note.empty()) snap->blind.insert(snap->blind.begin(), bpf_note);
    std::set<uint64_t> held;
    for (const auto& p : snap->suspicious) held.insert(p.state.pfn);
    OwnerScan owners = find_owners_as(held, lo, hi, bpf, bpf_note);
    return seed_records(snap.value(), owners, start_ns, monotonic_now_ns(), describe(range));
}

}  // namespace pintrace::snapshot
