// The pin ledger: who holds which page right now, rebuilt from grab and
// release events. See docs/ledger.md for the matching rules.
#pragma once

#include <boost/container/small_vector.hpp>
#include <cstdint>
#include <span>
#include <unordered_map>

#include "events/event.hpp"
#include "events/gup_flags.hpp"

namespace pintrace {

// One owner's outstanding pins (or references) on one page.
struct Holder {
    TaskRef task;         // the task that took them
    uint32_t flags = 0;   // canonical GupFlag bits of the grab
    uint32_t count = 0;   // outstanding pins or references
    uint64_t first_ns = 0;  // when the oldest outstanding one was taken
    uint64_t last_ns = 0;
    int32_t kstack = -1;
    int32_t ustack = -1;
    uint16_t hook = 0;
    bool stack_sampled = false;  // stacks are the thread's from an earlier grab
};

struct ReleaseOutcome {
    uint32_t matched = 0;    // pins/references closed in the ledger
    uint32_t unmatched = 0;  // taken before the trace began (or by an unseen path)
    bool other_owner = false;  // closed an owner other than the releasing process
};

class PinLedger {
public:
    void grab(const GrabEvent& e);
    ReleaseOutcome release(const ReleaseEvent& e);
    // A freed page has no holders, whatever the ledger saw: closes the
    // references whose put_page() was invisible (and anything a lost event
    // left open), so a reused pfn is not blamed on its previous owner.
    // Returns the pins and references it closed.
    uint32_t page_freed(uint64_t pfn, uint32_t nr_pages);

    std::span<const Holder> holders(uint64_t pfn) const;
    size_t pages_held() const { return pages_.size(); }

    template <class F>
    void for_each_page(F&& f) const
    {
        for (const auto& [pfn, hs] : pages_) f(pfn, std::span<const Holder>(hs.data(), hs.size()));
    }

private:
    // Most pages have one owner; two is common with shared pages.
    using Holders = boost::container::small_vector<Holder, 1>;
    std::unordered_map<uint64_t, Holders> pages_;
};

// Pins and references are released against their own kind only.
inline uint32_t hold_kind(uint32_t flags) { return flags & (kFlagPin | kFlagGet); }

}  // namespace pintrace
