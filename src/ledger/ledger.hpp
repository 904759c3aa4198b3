// The pin ledger: who holds which page right now, rebuilt from grab and
// release events. See docs/ledger.md for the matching rules.
//
// Memory is what limits it (a host can have millions of pinned pages), so a
// page costs one 24-byte slot: (owner id, count, since). A grab of several
// pages at once (a THP, a 1 GiB hugetlb folio) is one run entry for all of
// them until a release or a free touches part of it: its cost is per
// record, not per page. Everything else about an owner (task, flags,
// stacks, running totals) is stored once per owner, not per page.
#pragma once

#include <algorithm>
#include <boost/container/small_vector.hpp>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <unordered_map>
#include <vector>

#include "events/event.hpp"
#include "events/gup_flags.hpp"
#include "ledger/histogram.hpp"
#include "ledger/pfn_table.hpp"

namespace pintrace {

using OwnerId = uint32_t;

// One process incarnation's pins (or references) of one kind, taken through
// one code path: the unit an SRE acts on. Grabs merge into an owner by
// (process, pin or reference, long-term or not, kernel and user stack, and
// for a splice's references the pipe they went into).
// Its Taker is that of its first grab.
struct Owner : Taker {
    uint32_t incarnation = 0;  // of task.tgid: a reused pid is another owner
    uint64_t first_ns = 0;  // first grab
    uint64_t exited_ns = 0;  // its process exited (0: not seen to)

    uint64_t pins_taken = 0;
    uint64_t pins_released = 0;  // closed by a release record
    uint64_t pins_freed = 0;  // closed because the page was freed
    uint64_t pins_held = 0;  // now
    uint64_t pages_held = 0;  // now
    DurationHistogram held_for;  // how long the closed ones were held

    // Where its holds are kept: that many page slots and runs (each page it
    // holds is in exactly one of them).
    uint64_t page_slots = 0;
    uint32_t runs = 0;
};

// One owner's outstanding pins on one page: the ledger's unit of memory.
struct PageHold {
    OwnerId owner = 0;
    uint32_t count = 0;  // outstanding pins or references
    uint64_t since_ns = 0;  // when the oldest outstanding one was taken
};

// One owner's pins on consecutive pages, the same count on each, dated
// alike: a multi-page grab until something touches part of it.
struct HoldRun {
    uint64_t first = 0;
    uint32_t nr_pages = 0;  // 0: a free entry
    PageHold hold;
    uint64_t end() const { return first + nr_pages; }
};

// A PageHold with its owner's details, as reports use it.
struct Holder : Taker {
    OwnerId owner = 0;
    uint32_t count = 0;
    uint64_t first_ns = 0;  // the oldest outstanding pin on this page
    uint64_t exited_ns = 0;  // the owner's process had exited
};

using Holders = boost::container::small_vector<Holder, 2>;

struct ReleaseOutcome {
    uint32_t matched = 0;  // pins/references closed in the ledger
    uint32_t unmatched = 0;  // taken before the trace began (or by an unseen path)
    bool other_owner = false;  // closed an owner other than the releasing process's
};

// Pins closed by a release or a free: what duration views and page
// histories are built from. count pins on each of nr_pages pages from pfn.
struct ClosedPins {
    uint64_t pfn = 0;
    OwnerId owner = 0;
    uint32_t count = 0;
    uint64_t since_ns = 0;
    uint64_t at_ns = 0;
    bool by_free = false;  // the page was freed: the release itself was not seen
    uint32_t nr_pages = 1;
};

class PinLedger {
public:
    void grab(const GrabEvent& e);
    ReleaseOutcome release(const ReleaseEvent& e);
    // A freed page has no holders, whatever the ledger saw: closes the
    // references whose put_page() was invisible (and anything a lost event
    // left open), so a reused pfn is not blamed on its previous owner.
    // Returns the pins and references it closed.
    uint64_t page_freed(uint64_t pfn, uint32_t nr_pages, uint64_t ts_ns = 0);
    // The process's owners are marked exited (their pins stay: the kernel
    // releases io_uring and driver pins later, or never), and its pid's
    // next grab starts a new owner.
    void process_exited(uint32_t tgid, uint64_t ts_ns);

    // Called for every close; set only when a view needs each one.
    void on_close(std::function<void(const ClosedPins&)> observer) { on_close_ = std::move(observer); }

    void prefetch(uint64_t pfn) const { pages_.prefetch(pfn); }
    // How many times this pid's process was seen to exit: tells a reused
    // pid's process from the one before it.
    uint32_t incarnation(uint32_t tgid) const;

    Holders holders(uint64_t pfn) const;
    // The holders of any of nr_pages pages from pfn, one entry per owner:
    // its pins summed over those pages, dated by the oldest (a large
    // folio fails as a whole, whichever of its pages is pinned).
    Holders holders_in(uint64_t pfn, uint64_t nr_pages) const;
    Holder resolve(uint64_t pfn, const PageHold& h) const;
    // Pages with at least one holder.
    size_t pages_held() const;
    // Table operations (page slots, regions, runs) done by grabs, releases,
    // frees and the queries: the ledger's work, which the reader bounds per
    // record (events/bounds.hpp; docs/ledger.md "Cost").
    uint64_t page_ops() const { return page_ops_; }
    const Owner& owner(OwnerId id) const { return owners_[id]; }
    std::span<const Owner> owners() const { return owners_; }

    // f(first pfn, nr_pages, const PageHold&) for every owner's holds, a
    // run at a time (a page slot is a run of one), in no order: the same
    // count on each of the pages.
    template <class F>
    void for_each_run(F&& f) const
    {
        page_ops_ += pages_.size() + runs_.size();
        pages_.for_each([&](uint64_t pfn, const PageHold& slot) {
            for (const PageHold& h : holds_of(slot)) f(pfn, uint32_t{1}, h);
        });
        for (const HoldRun& r : runs_)
            if (r.nr_pages) f(r.first, r.nr_pages, r.hold);
    }
    // f(pfn, const PageHold&) for every owner's hold on each page from
    // first to end (exclusive): a look at the pages held there, not at
    // every page of the range.
    template <class F>
    void for_each_hold_in(uint64_t first, uint64_t end, F&& f) const
    {
        if (first >= end) return;
        for_each_slot_in(first, end - first, [&](uint64_t pfn, const PageHold& slot) {
            for (const PageHold& h : holds_of(slot)) f(pfn, h);
        });
        std::vector<uint32_t> runs = runs_in(first, end - first);  // a copy: f may query the ledger
        for (uint32_t i : runs) {
            const HoldRun& r = runs_[i];
            for (uint64_t pfn = std::max(first, r.first); pfn < std::min(end, r.end()); ++pfn) f(pfn, r.hold);
        }
    }

private:
    // A page held by several owners keeps them here; its slot then says
    // kShared and count is the index of its list.
    static constexpr OwnerId kShared = ~OwnerId{0};
    using SharedHolds = boost::container::small_vector<PageHold, 2>;

    // The owner a grab merges into. A process's keys leave owner_ids_ when
    // it exits, so its pid's next grab makes a new owner.
    // A splice's references into two pipes are two holders: each pipe is
    // drained or closed on its own.
    struct OwnerKey {
        uint32_t tgid, kind;
        int32_t kstack, ustack;
        uint64_t pipe_ino;
        bool operator==(const OwnerKey&) const = default;
    };
    struct OwnerKeyHash {
        size_t operator()(const OwnerKey& k) const;
    };
    struct Process {
        uint32_t incarnation = 0;
        std::vector<OwnerId> owners;  // of the current incarnation
        uint64_t exited_ns = 0;  // when the previous incarnation exited (0: none seen)
        std::vector<OwnerId> exited_owners;  // the previous incarnation's
    };
    // A grab stamped before its process's exit but read after it: pairing
    // in the kernel sends a pin parked past its threshold late, with its
    // own time (docs/pairing.md). It belongs to the process that exited.
    OwnerId exited_owner_of(const GrabEvent& e, const OwnerKey& key, Process& proc);
    uint64_t newest_exit_ns_ = 0;  // of any process: a grab stamped after it needs no exit lookup
    static OwnerKey key_of(const Owner& o);
    struct Candidate {
        uint64_t pfn;
        PageHold* hold;  // a page slot's hold, valid until drop_empty(): nothing is erased before
        uint32_t run;  // or, when hold is null, the run covering nr_pages from pfn
        uint32_t nr_pages;
        uint64_t since_ns;
        bool same_process;
    };

    OwnerId owner_of(const GrabEvent& e);
    uint32_t add(uint64_t pfn, OwnerId owner, uint32_t count, uint64_t ts);
    uint32_t place(uint64_t pfn, const PageHold& h, bool& new_hold);
    void erase_page(uint64_t pfn, PageHold* slot);
    void drop_empty(uint64_t pfn);
    void note_closed(uint64_t pfn, const PageHold& h, uint32_t n, uint64_t ts, bool by_free, uint32_t nr_pages = 1);

    // Runs, and the index that finds them by region (kRegionShift pages).
    // A region's entry also counts the page slots in it, so that a range
    // looks only at the regions where something is held.
    struct Region {
        uint32_t slots = 0;  // pages_ entries in the region
        uint32_t runs = 0;  // 1 + index into region_runs_; 0: none
    };
    static constexpr unsigned kRegionShift = 9;
    static uint64_t region_of(uint64_t pfn) { return pfn >> kRegionShift; }
    Region& region(uint64_t pfn);
    void forget_region_if_empty(uint64_t index, Region* r);
    uint32_t add_run(const HoldRun& run);
    void remove_run(uint32_t index);
    void compact_runs();
    void replace_run(uint32_t index, std::initializer_list<HoldRun> pieces);
    uint64_t hold_new(OwnerId id, uint64_t from, uint64_t to, uint32_t count, uint64_t ts);
    uint64_t grab_uncovered(OwnerId id, uint64_t from, uint64_t to, uint32_t count, uint64_t ts);
    // Indices of the runs overlapping [pfn, pfn + n), each once.
    const std::vector<uint32_t>& runs_in(uint64_t pfn, uint64_t n) const;
    // Takes pins from a run's pages in pfn order from `from`: whole pages,
    // then part of one. What is left of the run stays as runs.
    void take_from_run(uint32_t index, uint64_t from, uint64_t pins);
    template <class F>
    void for_each_slot_in(uint64_t pfn, uint64_t n, F&& f) const
    {
        slots_in(*this, pfn, n, f);
    }
    template <class F>
    void for_each_slot_in(uint64_t pfn, uint64_t n, F&& f)
    {
        slots_in(*this, pfn, n, f);
    }
    template <class Self, class F>
    static void slots_in(Self& self, uint64_t pfn, uint64_t n, F& f);
    std::span<const PageHold> holds_of(const PageHold& slot) const;
    std::span<PageHold> holds_of(PageHold& slot);
    bool same_process(const Owner& o, uint32_t tgid) const;

    PfnTable<PageHold> pages_;
    std::vector<HoldRun> runs_;
    std::vector<uint32_t> free_runs_;
    size_t live_runs_ = 0;
    PfnTable<Region> regions_;
    std::vector<boost::container::small_vector<uint32_t, 2>> region_runs_;
    std::vector<uint32_t> free_region_runs_;
    mutable std::vector<uint32_t> found_runs_;  // runs_in()'s answer, kept to avoid a malloc per call
    std::vector<SharedHolds> shared_;
    std::vector<uint32_t> free_shared_;
    std::vector<Owner> owners_;
    std::unordered_map<OwnerKey, OwnerId, OwnerKeyHash> owner_ids_;
    // pin_user_pages() of a buffer is one grab per page by one owner.
    std::optional<std::pair<OwnerKey, OwnerId>> last_owner_;
    std::unordered_map<uint32_t, Process> processes_;
    std::vector<Candidate> candidates_;  // scratch for release(), kept to avoid a malloc per release
    std::vector<uint64_t> freed_pfns_;  // scratch for page_freed()
    std::function<void(const ClosedPins&)> on_close_;
    mutable uint64_t page_ops_ = 0;
    // pages_held() counts when there are runs: kept until the holds change
    // (top asks at every redraw).
    uint64_t changes_ = 0;
    mutable uint64_t counted_at_ = UINT64_MAX;
    mutable size_t counted_pages_ = 0;
};

// f(pfn, const PageHold& slot) for each page slot from pfn to pfn + n: a
// short range page by page, a long one only in the regions holding a slot.
// f must not add or erase slots.
template <class Self, class F>
void PinLedger::slots_in(Self& self, uint64_t pfn, uint64_t n, F& f)
{
    constexpr uint64_t kRegion = uint64_t{1} << kRegionShift;
    auto visit = [&](uint64_t from, uint64_t to) {
        self.page_ops_ += to - from;
        for (uint64_t p = from; p < to; ++p)
            if (auto* slot = self.pages_.find(p)) f(p, *slot);
    };
    uint64_t end = pfn + n;
    if (n <= kRegion / 8) return visit(pfn, end);
    uint64_t first = region_of(pfn), last = region_of(end - 1);
    auto visit_region = [&](uint64_t r) {
        visit(std::max(pfn, r << kRegionShift), std::min(end, (r + 1) << kRegionShift));
    };
    // Whichever costs less: the range's regions, or every region held.
    if (last - first < self.regions_.capacity()) {
        for (uint64_t r = first; r <= last; ++r) {
            ++self.page_ops_;
            const Region* reg = self.regions_.find(r);
            if (reg && reg->slots) visit_region(r);
        }
        return;
    }
    // The range spans more regions than hold anything (an isolation range
    // can span the machine): look at those, in pfn order.
    std::vector<uint64_t> held;
    self.page_ops_ += self.regions_.capacity();
    self.regions_.for_each([&](uint64_t r, const Region& reg) {
        if (reg.slots && r >= first && r <= last) held.push_back(r);
    });
    std::sort(held.begin(), held.end());
    for (uint64_t r : held) visit_region(r);
}

// Pins and references are released against their own kind only.
inline uint32_t hold_kind(uint32_t flags) { return flags & (kFlagPin | kFlagGet); }

}  // namespace pintrace
