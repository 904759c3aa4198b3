// The pin ledger: who holds which page right now, rebuilt from grab and
// release events. See docs/ledger.md for the matching rules.
//
// Memory is what limits it (a host can have millions of pinned pages), so a
// page costs one 24-byte slot: (owner id, count, since). Everything else
// about an owner (task, flags, stacks, running totals) is stored once per
// owner, not per page.
#pragma once

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
// (process, pin or reference, long-term or not, kernel and user stack).
struct Owner {
    TaskRef task;          // the task of the first grab
    uint32_t flags = 0;    // canonical GupFlag bits of that grab
    int32_t kstack = -1;
    int32_t ustack = -1;
    uint16_t hook = 0;     // the attach point that saw it
    bool stack_sampled = false;  // stacks are the thread's from an earlier grab
    uint32_t incarnation = 0;    // of task.tgid: a reused pid is another owner
    uint64_t first_ns = 0;       // first grab
    uint64_t exited_ns = 0;      // its process exited (0: not seen to)

    uint64_t pins_taken = 0;
    uint64_t pins_released = 0;  // closed by a release record
    uint64_t pins_freed = 0;     // closed because the page was freed
    uint64_t pins_held = 0;      // now
    uint64_t pages_held = 0;     // now
    DurationHistogram held_for;  // how long the closed ones were held
};

// One owner's outstanding pins on one page: the ledger's unit of memory.
struct PageHold {
    OwnerId owner = 0;
    uint32_t count = 0;     // outstanding pins or references
    uint64_t since_ns = 0;  // when the oldest outstanding one was taken
};

// A PageHold with its owner's details, as reports use it.
struct Holder {
    OwnerId owner = 0;
    TaskRef task;
    uint32_t flags = 0;
    uint32_t count = 0;
    uint64_t first_ns = 0;  // the oldest outstanding pin on this page
    int32_t kstack = -1;
    int32_t ustack = -1;
    uint16_t hook = 0;
    bool stack_sampled = false;
    uint64_t exited_ns = 0;  // the owner's process had exited
};

using Holders = boost::container::small_vector<Holder, 2>;

struct ReleaseOutcome {
    uint32_t matched = 0;    // pins/references closed in the ledger
    uint32_t unmatched = 0;  // taken before the trace began (or by an unseen path)
    bool other_owner = false;  // closed an owner other than the releasing process's
};

// Pins closed by a release or a free: what duration views and page
// histories are built from.
struct ClosedPins {
    uint64_t pfn = 0;
    OwnerId owner = 0;
    uint32_t count = 0;
    uint64_t since_ns = 0;
    uint64_t at_ns = 0;
    bool by_free = false;  // the page was freed: the release itself was not seen
};

class PinLedger {
public:
    void grab(const GrabEvent& e);
    ReleaseOutcome release(const ReleaseEvent& e);
    // A freed page has no holders, whatever the ledger saw: closes the
    // references whose put_page() was invisible (and anything a lost event
    // left open), so a reused pfn is not blamed on its previous owner.
    // Returns the pins and references it closed.
    uint32_t page_freed(uint64_t pfn, uint32_t nr_pages, uint64_t ts_ns = 0);
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
    Holder resolve(uint64_t pfn, const PageHold& h) const;
    size_t pages_held() const { return pages_.size(); }
    // Pages looked up or inserted by grabs, releases, frees, holders() and
    // for_each_hold() (every page held):
    // the ledger's work, which the reader bounds per record (at most
    // kMaxFolioPages, events/bounds.hpp; docs/ledger.md "Cost").
    uint64_t page_ops() const { return page_ops_; }
    const Owner& owner(OwnerId id) const { return owners_[id]; }
    std::span<const Owner> owners() const { return owners_; }

    // f(pfn, const PageHold&) for every owner's hold on every page, in no order.
    template <class F>
    void for_each_hold(F&& f) const
    {
        page_ops_ += pages_.size();
        pages_.for_each([&](uint64_t pfn, const PageHold& slot) {
            for (const PageHold& h : holds_of(slot)) f(pfn, h);
        });
    }

private:
    // A page held by several owners keeps them here; its slot then says
    // kShared and count is the index of its list.
    static constexpr OwnerId kShared = ~OwnerId{0};
    using SharedHolds = boost::container::small_vector<PageHold, 2>;

    // The owner a grab merges into. A process's keys leave owner_ids_ when
    // it exits, so its pid's next grab makes a new owner.
    struct OwnerKey {
        uint32_t tgid, kind;
        int32_t kstack, ustack;
        bool operator==(const OwnerKey&) const = default;
    };
    struct OwnerKeyHash {
        size_t operator()(const OwnerKey& k) const;
    };
    struct Process {
        uint32_t incarnation = 0;
        std::vector<OwnerId> owners;  // of the current incarnation
    };
    static OwnerKey key_of(const Owner& o);
    struct Candidate {
        uint64_t pfn;
        PageHold* hold;  // valid until drop_empty(): nothing is erased before
        uint64_t since_ns;
        bool same_process;
    };

    OwnerId owner_of(const GrabEvent& e);
    void add(uint64_t pfn, OwnerId owner, uint32_t count, uint64_t ts);
    void drop_empty(uint64_t pfn);
    void note_closed(uint64_t pfn, const PageHold& h, uint32_t n, uint64_t ts, bool by_free);
    std::span<const PageHold> holds_of(const PageHold& slot) const;
    std::span<PageHold> holds_of(PageHold& slot);
    bool same_process(const Owner& o, uint32_t tgid) const;

    PfnTable<PageHold> pages_;
    std::vector<SharedHolds> shared_;
    std::vector<uint32_t> free_shared_;
    std::vector<Owner> owners_;
    std::unordered_map<OwnerKey, OwnerId, OwnerKeyHash> owner_ids_;
    // pin_user_pages() of a buffer is one grab per page by one owner.
    std::optional<std::pair<OwnerKey, OwnerId>> last_owner_;
    std::unordered_map<uint32_t, Process> processes_;
    std::vector<Candidate> candidates_;  // scratch for release(), kept to avoid a malloc per release
    std::function<void(const ClosedPins&)> on_close_;
    mutable uint64_t page_ops_ = 0;
};

// Pins and references are released against their own kind only.
inline uint32_t hold_kind(uint32_t flags) { return flags & (kFlagPin | kFlagGet); }

}  // namespace pintrace
