// The holders a snapshot inferred, for pages pinned before the trace
// (record --snapshot), kept as the replay goes: a release of a pin the
// trace never saw taken, or the page's free, after the snapshot ends the
// inference for that page. The explainer turns to it only for stuck pages
// no traced holder explains.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <vector>

#include "events/event.hpp"

namespace pintrace {

// What the snapshot at the start of the recording said, as the report shows it.
struct SnapshotSeed {
    uint64_t ts_ns = 0;
    std::optional<SnapshotEndEvent> end;  // none: the snapshot record was cut short
    // One entry per holder and piece of evidence, in the order recorded;
    // a page's inferred holders are indices into it.
    std::vector<SnapshotHolderEvent> holders;
    // When the replay stopped (SeedTable::summarize): the pages the snapshot
    // found held, those released (or freed) during the recording, those
    // still held, and per candidate pid how many of them it may hold.
    uint64_t pages_seeded = 0;
    uint64_t released_in_trace = 0;
    uint64_t held_at_end = 0;
    std::map<uint32_t, uint64_t> held_at_end_by_pid;
};

struct SeedState {
    SeedPage page;
    uint32_t pins_left = 1;  // pins or references the counts showed, less releases seen since
    uint64_t released_ns = 0;  // when the last of them went (0: still held)
    std::vector<uint32_t> holders;  // indices into SnapshotSeed::holders
};

class SeedTable {
public:
    void add(const SnapshotPagesEvent& e, SnapshotSeed& seed);
    void add(const SnapshotHolderEvent& e, SnapshotSeed& seed);
    bool empty() const { return pages_.empty(); }
    // When the snapshot read the pages: from its start to its end (its
    // end record); a page's own moment within is not recorded.
    void taken(uint64_t start_ns, uint64_t end_ns)
    {
        ts_ns_ = start_ns;
        end_ns_ = end_ns;
    }
    uint64_t taken_until() const { return end_ns_ ? end_ns_ : ts_ns_; }

    // A pin taken before the trace was released (the ledger matched no
    // grab), or the pages were freed: the snapshot's pins on them end.
    // Events older than the snapshot are already in its counts.
    void released(uint64_t pfn, uint32_t nr_pages, uint32_t refs, uint64_t ts_ns);
    void freed(uint64_t pfn, uint32_t nr_pages, uint64_t ts_ns);

    // The first page in [pfn, pfn + nr_pages) the snapshot still holds
    // held, if any (a large folio fails whole: its pins may be on any page).
    const SeedState* held(uint64_t pfn, uint32_t nr_pages) const;
    // The page as the snapshot left it, released or not.
    const SeedState* state(uint64_t pfn) const
    {
        auto it = pages_.find(pfn);
        return it == pages_.end() ? nullptr : &it->second;
    }
    // The counts of SnapshotSeed, from the pages as the replay left them.
    void summarize(SnapshotSeed& seed) const;
    // Every page in [start, end) still held.
    template <typename F>
    void for_each_held(uint64_t start, uint64_t end, F&& f) const
    {
        for (auto it = pages_.lower_bound(start); it != pages_.end() && it->first < end; ++it)
            if (it->second.pins_left) f(it->second);
    }

private:
    SeedState& at(uint64_t pfn);
    std::map<uint64_t, SeedState> pages_;
    uint64_t ts_ns_ = 0;
    uint64_t end_ns_ = 0;
};

// Pins or references a page's counts at the snapshot show: refcount less
// its mappings, in units of the pin bias for pins.
uint32_t seeded_pins(const SeedPage& page);

}  // namespace pintrace
