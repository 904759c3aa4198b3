#include "ledger/ledger.hpp"

#include <algorithm>

namespace pintrace {

size_t PinLedger::OwnerKeyHash::operator()(const OwnerKey& k) const
{
    uint64_t h = (uint64_t{k.tgid} << 32 | k.kind) * 0x9E3779B97F4A7C15ull;
    h ^= uint64_t{static_cast<uint32_t>(k.kstack)} << 32 | static_cast<uint32_t>(k.ustack);
    return h * 0xC2B2AE3D27D4EB4Full;
}

PinLedger::OwnerKey PinLedger::key_of(const Owner& o)
{
    return {o.task.tgid, o.flags & (kFlagPin | kFlagGet | kFlagLongterm), o.kstack, o.ustack};
}

OwnerId PinLedger::owner_of(const GrabEvent& e)
{
    OwnerKey key{e.head.task.tgid, e.flags & (kFlagPin | kFlagGet | kFlagLongterm), e.kstack, e.ustack};
    if (last_owner_ && last_owner_->first == key) return last_owner_->second;
    auto [it, fresh] = owner_ids_.try_emplace(key, static_cast<OwnerId>(owners_.size()));
    if (fresh) {
        Process& proc = processes_[e.head.task.tgid];
        Owner o;
        o.task = e.head.task;
        o.flags = e.flags;
        o.kstack = e.kstack;
        o.ustack = e.ustack;
        o.hook = e.head.hook;
        o.stack_sampled = e.stack_sampled;
        o.incarnation = proc.incarnation;
        o.first_ns = e.head.ts_ns;
        owners_.push_back(o);
        proc.owners.push_back(it->second);
    }
    last_owner_.emplace(key, it->second);
    return it->second;
}

std::span<const PageHold> PinLedger::holds_of(const PageHold& slot) const
{
    if (slot.owner != kShared) return {&slot, 1};
    const auto& list = shared_[slot.count];
    return {list.data(), list.size()};
}

std::span<PageHold> PinLedger::holds_of(PageHold& slot)
{
    if (slot.owner != kShared) return {&slot, 1};
    auto& list = shared_[slot.count];
    return {list.data(), list.size()};
}

void PinLedger::add(uint64_t pfn, OwnerId id, uint32_t count, uint64_t ts)
{
    Owner& o = owners_[id];
    o.pins_taken += count;
    o.pins_held += count;
    auto [slot, fresh] = pages_.insert(pfn);
    if (fresh) {
        *slot = PageHold{id, count, ts};
        ++o.pages_held;
        return;
    }
    for (PageHold& h : holds_of(*slot)) {
        if (h.owner != id) continue;
        h.count += count;
        return;
    }
    ++o.pages_held;
    if (slot->owner == kShared) {
        shared_[slot->count].push_back(PageHold{id, count, ts});
        return;
    }
    // A second owner on this page: the slot turns into a reference to a list.
    uint32_t index;
    if (!free_shared_.empty()) {
        index = free_shared_.back();
        free_shared_.pop_back();
    } else {
        index = static_cast<uint32_t>(shared_.size());
        shared_.emplace_back();
    }
    shared_[index] = {*slot, PageHold{id, count, ts}};
    *slot = PageHold{kShared, index, 0};
}

void PinLedger::grab(const GrabEvent& e)
{
    if (!hold_kind(e.flags)) return;
    OwnerId id = owner_of(e);
    page_ops_ += e.nr_pages;
    for (uint32_t i = 0; i < e.nr_pages; ++i) add(e.pfn + i, id, e.count, e.head.ts_ns);
}

void PinLedger::note_closed(uint64_t pfn, const PageHold& h, uint32_t n, uint64_t ts, bool by_free)
{
    Owner& o = owners_[h.owner];
    o.pins_held -= n;
    (by_free ? o.pins_freed : o.pins_released) += n;
    o.held_for.add(ts > h.since_ns ? ts - h.since_ns : 0, n);
    if (on_close_) on_close_(ClosedPins{pfn, h.owner, n, h.since_ns, ts, by_free});
}

// Drops the holds on pfn whose count reached zero, and the page once none
// is left. Releases empty holds first and drop them after, so the pointers
// they collected stay valid (erasing moves other slots of the table).
void PinLedger::drop_empty(uint64_t pfn)
{
    PageHold* slot = pages_.find(pfn);
    if (!slot) return;
    if (slot->owner != kShared) {
        if (slot->count) return;
        --owners_[slot->owner].pages_held;
        pages_.erase(slot);
        return;
    }
    uint32_t index = slot->count;
    auto& list = shared_[index];
    for (const PageHold& h : list)
        if (!h.count) --owners_[h.owner].pages_held;
    list.erase(std::remove_if(list.begin(), list.end(), [](const PageHold& h) { return !h.count; }), list.end());
    if (list.size() > 1) return;
    // One owner left (no list needed), or none.
    if (list.empty()) pages_.erase(slot);
    else *slot = list.front();
    list.clear();
    free_shared_.push_back(index);
}

bool PinLedger::same_process(const Owner& o, uint32_t tgid) const
{
    return o.task.tgid == tgid && !o.exited_ns;
}

// A release names a folio and a count, not an owner: the kernel keeps no
// owner. It closes, in order: holders of the same kind in the releasing
// process, then the oldest holders of that kind (io_uring and AIO release
// from kworkers or interrupts, not from the pinner).
ReleaseOutcome PinLedger::release(const ReleaseEvent& e)
{
    ReleaseOutcome out;
    uint32_t kind = hold_kind(e.flags);
    if (!kind) return out;
    uint64_t ts = e.head.ts_ns;
    uint32_t tgid = e.head.task.tgid;

    // The common case, one page with one owner, needs no candidate list.
    if (e.nr_pages == 1) {
        ++page_ops_;
        PageHold* slot = pages_.find(e.pfn);
        if (slot && slot->owner != kShared) {
            const Owner& o = owners_[slot->owner];
            if (hold_kind(o.flags) == kind) {
                out.other_owner = !same_process(o, tgid);
                out.matched = std::min(e.refs, slot->count);
                note_closed(e.pfn, *slot, out.matched, ts, false);
                slot->count -= out.matched;
                drop_empty(e.pfn);
            }
            out.unmatched = e.refs - out.matched;
            return out;
        }
    }

    candidates_.clear();
    page_ops_ += e.nr_pages;
    for (uint32_t i = 0; i < e.nr_pages; ++i) {
        PageHold* slot = pages_.find(e.pfn + i);
        if (!slot) continue;
        for (PageHold& h : holds_of(*slot)) {
            const Owner& o = owners_[h.owner];
            if (hold_kind(o.flags) == kind) candidates_.push_back({e.pfn + i, &h, h.since_ns, same_process(o, tgid)});
        }
    }
    auto before = [](const Candidate& a, const Candidate& b) {
        if (a.same_process != b.same_process) return a.same_process;
        return a.since_ns < b.since_ns;
    };
    // A folio released whole is one grab's pages, already in order.
    if (!std::is_sorted(candidates_.begin(), candidates_.end(), before))
        std::stable_sort(candidates_.begin(), candidates_.end(), before);

    uint32_t left = e.refs;
    for (const auto& c : candidates_) {
        if (!left) break;
        uint32_t n = std::min(left, c.hold->count);
        note_closed(c.pfn, *c.hold, n, ts, false);
        c.hold->count -= n;
        left -= n;
        out.matched += n;
        if (n && !c.same_process) out.other_owner = true;
    }
    out.unmatched = left;
    if (out.matched) {
        page_ops_ += e.nr_pages;
        for (uint32_t i = 0; i < e.nr_pages; ++i) drop_empty(e.pfn + i);
    }
    return out;
}

uint32_t PinLedger::page_freed(uint64_t pfn, uint32_t nr_pages, uint64_t ts)
{
    uint32_t closed = 0;
    page_ops_ += nr_pages;
    for (uint32_t i = 0; i < nr_pages; ++i) {
        PageHold* slot = pages_.find(pfn + i);
        if (!slot) continue;
        for (const PageHold& h : holds_of(*slot)) {
            note_closed(pfn + i, h, h.count, ts, true);
            --owners_[h.owner].pages_held;
            closed += h.count;
        }
        if (slot->owner == kShared) {
            shared_[slot->count].clear();
            free_shared_.push_back(slot->count);
        }
        pages_.erase(slot);
    }
    return closed;
}

void PinLedger::process_exited(uint32_t tgid, uint64_t ts)
{
    auto it = processes_.find(tgid);
    if (it == processes_.end()) return;  // took nothing we saw
    for (OwnerId id : it->second.owners) {
        owners_[id].exited_ns = ts ? ts : 1;
        owner_ids_.erase(key_of(owners_[id]));
    }
    it->second.owners.clear();
    ++it->second.incarnation;
    last_owner_.reset();
}

uint32_t PinLedger::incarnation(uint32_t tgid) const
{
    auto it = processes_.find(tgid);
    return it == processes_.end() ? 0 : it->second.incarnation;
}

Holder PinLedger::resolve(uint64_t, const PageHold& h) const
{
    const Owner& o = owners_[h.owner];
    return Holder{h.owner, o.task, o.flags, h.count, h.since_ns, o.kstack, o.ustack, o.hook, o.stack_sampled,
                  o.exited_ns};
}

Holders PinLedger::holders(uint64_t pfn) const
{
    Holders out;
    ++page_ops_;
    if (const PageHold* slot = pages_.find(pfn))
        for (const PageHold& h : holds_of(*slot)) out.push_back(resolve(pfn, h));
    return out;
}

}  // namespace pintrace
