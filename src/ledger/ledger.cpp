#include "ledger/ledger.hpp"

#include <algorithm>
#include <vector>

namespace pintrace {
namespace {

// Grabs merge into one holder per (process, pin or reference, long-term
// or not, code path): the unit an SRE acts on.
bool same_owner(const Holder& h, const GrabEvent& e)
{
    return h.task.tgid == e.head.task.tgid && (h.flags & (kFlagPin | kFlagGet | kFlagLongterm)) ==
                                                  (e.flags & (kFlagPin | kFlagGet | kFlagLongterm)) &&
           h.kstack == e.kstack && h.ustack == e.ustack;
}

}  // namespace

void PinLedger::grab(const GrabEvent& e)
{
    if (!hold_kind(e.flags)) return;
    for (uint32_t i = 0; i < e.nr_pages; ++i) {
        auto& hs = pages_[e.pfn + i];
        auto it = std::find_if(hs.begin(), hs.end(), [&](const Holder& h) { return same_owner(h, e); });
        if (it != hs.end()) {
            it->count += e.count;
            it->last_ns = e.head.ts_ns;
            continue;
        }
        hs.push_back(Holder{e.head.task, e.flags, e.count, e.head.ts_ns, e.head.ts_ns, e.kstack, e.ustack, e.head.hook,
                            e.stack_sampled});
    }
}

// A release names a folio and a count, not an owner: the kernel keeps no
// owner. It closes, in order: holders of the same kind in the releasing
// process, then the oldest holders of that kind (io_uring and AIO release
// from kworkers or interrupts, not from the pinner).
ReleaseOutcome PinLedger::release(const ReleaseEvent& e)
{
    ReleaseOutcome out;
    uint32_t kind = hold_kind(e.flags);
    uint32_t left = e.refs;
    if (!kind) return out;

    struct Candidate {
        uint64_t pfn;
        size_t index;
        bool same_process;
        uint64_t first_ns;
    };
    std::vector<Candidate> candidates;
    for (uint32_t i = 0; i < e.nr_pages; ++i) {
        auto it = pages_.find(e.pfn + i);
        if (it == pages_.end()) continue;
        for (size_t j = 0; j < it->second.size(); ++j) {
            const Holder& h = it->second[j];
            if (hold_kind(h.flags) == kind)
                candidates.push_back({e.pfn + i, j, h.task.tgid == e.head.task.tgid, h.first_ns});
        }
    }
    std::stable_sort(candidates.begin(), candidates.end(), [](const Candidate& a, const Candidate& b) {
        if (a.same_process != b.same_process) return a.same_process;
        return a.first_ns < b.first_ns;
    });

    for (const auto& c : candidates) {
        if (!left) break;
        Holder& h = pages_[c.pfn][c.index];
        uint32_t n = std::min(left, h.count);
        h.count -= n;
        left -= n;
        out.matched += n;
        if (!c.same_process) out.other_owner = true;
    }
    out.unmatched = left;

    // Drop emptied holders and pages only now: indices above stay valid.
    for (uint32_t i = 0; i < e.nr_pages && !candidates.empty(); ++i) {
        auto it = pages_.find(e.pfn + i);
        if (it == pages_.end()) continue;
        auto& hs = it->second;
        hs.erase(std::remove_if(hs.begin(), hs.end(), [](const Holder& h) { return h.count == 0; }), hs.end());
        if (hs.empty()) pages_.erase(it);
    }
    return out;
}

uint32_t PinLedger::page_freed(uint64_t pfn, uint32_t nr_pages)
{
    uint32_t closed = 0;
    for (uint32_t i = 0; i < nr_pages; ++i) {
        auto it = pages_.find(pfn + i);
        if (it == pages_.end()) continue;
        for (const auto& h : it->second) closed += h.count;
        pages_.erase(it);
    }
    return closed;
}

std::span<const Holder> PinLedger::holders(uint64_t pfn) const
{
    auto it = pages_.find(pfn);
    if (it == pages_.end()) return {};
    return {it->second.data(), it->second.size()};
}

}  // namespace pintrace
