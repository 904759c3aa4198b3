#include "explain/seeds.hpp"

#include <algorithm>

#include "events/gup_flags.hpp"

namespace pintrace {

uint32_t seeded_pins(const SeedPage& page)
{
    if (page.refcount < 0) return 1;  // not read: at least the one the evidence shows
    int32_t extra = page.refcount - std::max(page.mapcount, 0);
    if (page.held_as == SeedClass::ExtraRefs) return static_cast<uint32_t>(std::max(extra - 1, 1));
    return static_cast<uint32_t>(std::max(extra / kGupPinCountingBias, 1));
}

SeedState& SeedTable::at(uint64_t pfn)
{
    auto [it, fresh] = pages_.try_emplace(pfn);
    if (fresh) it->second.page.pfn = pfn;
    return it->second;
}

void SeedTable::add(const SnapshotPagesEvent& e, SnapshotSeed& seed)
{
    ts_ns_ = seed.ts_ns = e.ts_ns;
    for (const auto& p : e.pages) {
        SeedState& s = at(p.pfn);
        s.page = p;
        s.pins_left = seeded_pins(p);
    }
}

void SeedTable::add(const SnapshotHolderEvent& e, SnapshotSeed& seed)
{
    if (!seed.ts_ns) ts_ns_ = seed.ts_ns = e.ts_ns;
    // The writer splits a long pfn list over records: join them.
    uint32_t index;
    if (!seed.holders.empty() && seed.holders.back().pid == e.pid && seed.holders.back().evidence == e.evidence &&
        seed.holders.back().likely == e.likely) {
        index = static_cast<uint32_t>(seed.holders.size() - 1);
        auto& pfns = seed.holders.back().pfns;
        pfns.insert(pfns.end(), e.pfns.begin(), e.pfns.end());
    } else {
        index = static_cast<uint32_t>(seed.holders.size());
        seed.holders.push_back(e);
    }
    for (uint64_t pfn : e.pfns) {
        // A registered buffer's page the page walk did not keep (past its
        // cap, or not counted as held): the registration is the evidence.
        SeedState& s = at(pfn);
        if (std::find(s.holders.begin(), s.holders.end(), index) == s.holders.end()) s.holders.push_back(index);
    }
}

void SeedTable::released(uint64_t pfn, uint32_t nr_pages, uint32_t refs, uint64_t ts_ns)
{
    if (ts_ns <= ts_ns_) return;
    for (auto it = pages_.lower_bound(pfn); it != pages_.end() && it->first < pfn + nr_pages; ++it) {
        SeedState& s = it->second;
        if (!s.pins_left) continue;
        s.pins_left -= std::min(s.pins_left, std::max(refs, 1u));
        if (!s.pins_left) s.released_ns = ts_ns;
    }
}

void SeedTable::freed(uint64_t pfn, uint32_t nr_pages, uint64_t ts_ns)
{
    if (ts_ns <= ts_ns_) return;
    for (auto it = pages_.lower_bound(pfn); it != pages_.end() && it->first < pfn + nr_pages; ++it) {
        if (!it->second.pins_left) continue;
        it->second.pins_left = 0;
        it->second.released_ns = ts_ns;
    }
}

void SeedTable::summarize(SnapshotSeed& seed) const
{
    seed.pages_seeded = pages_.size();
    seed.released_in_trace = seed.held_at_end = 0;
    seed.held_at_end_by_pid.clear();
    for (const auto& [pfn, s] : pages_) {
        if (s.released_ns) ++seed.released_in_trace;
        if (!s.pins_left) continue;
        ++seed.held_at_end;
        std::vector<uint32_t> pids;
        for (uint32_t i : s.holders)
            if (std::find(pids.begin(), pids.end(), seed.holders[i].pid) == pids.end())
                pids.push_back(seed.holders[i].pid);
        for (uint32_t pid : pids) ++seed.held_at_end_by_pid[pid];
    }
}

const SeedState* SeedTable::held(uint64_t pfn, uint32_t nr_pages) const
{
    for (auto it = pages_.lower_bound(pfn); it != pages_.end() && it->first < pfn + nr_pages; ++it)
        if (it->second.pins_left) return &it->second;
    return nullptr;
}

}  // namespace pintrace
