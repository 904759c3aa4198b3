#include "ledger/ledger.hpp"

#include <algorithm>

namespace pintrace {

namespace {

// A hold's count stops at the most a uint32_t says rather than wrap to a
// few pins (or none) on a hostile trace; no kernel count gets near it.
uint32_t saturating_add(uint32_t a, uint32_t b) { return b > UINT32_MAX - a ? UINT32_MAX : a + b; }

// Pages [from, to) of run, count pins on each.
HoldRun piece_of(const HoldRun& run, uint64_t from, uint64_t to, uint32_t count)
{
    HoldRun piece{from, static_cast<uint32_t>(to > from ? to - from : 0), run.hold};
    piece.hold.count = count;
    return piece;
}

}  // namespace

size_t PinLedger::OwnerKeyHash::operator()(const OwnerKey& k) const
{
    uint64_t h = (uint64_t{k.tgid} << 32 | k.kind) * 0x9E3779B97F4A7C15ull;
    h ^= uint64_t{static_cast<uint32_t>(k.kstack)} << 32 | static_cast<uint32_t>(k.ustack);
    h = (h ^ k.pipe_ino) * 0xC2B2AE3D27D4EB4Full;
    return h ^ (h >> 29);
}

PinLedger::OwnerKey PinLedger::key_of(const Owner& o)
{
    return {o.task.tgid, o.flags & (kFlagPin | kFlagGet | kFlagLongterm), o.kstack, o.ustack, o.pipe_ino};
}

OwnerId PinLedger::owner_of(const GrabEvent& e)
{
    OwnerKey key{e.head.task.tgid, e.flags & (kFlagPin | kFlagGet | kFlagLongterm), e.kstack, e.ustack, e.pipe_ino};
    if (e.head.ts_ns < newest_exit_ns_)  // rare: only then is the pid's exit looked up
        if (auto p = processes_.find(key.tgid); p != processes_.end() && e.head.ts_ns < p->second.exited_ns)
            return exited_owner_of(e, key, p->second);
    if (last_owner_ && last_owner_->first == key) return last_owner_->second;
    auto [it, fresh] = owner_ids_.try_emplace(key, static_cast<OwnerId>(owners_.size()));
    if (fresh) {
        Process& proc = processes_[e.head.task.tgid];
        Owner o;
        static_cast<Taker&>(o) = taker_of(e);
        o.incarnation = proc.incarnation;
        o.first_ns = e.head.ts_ns;
        owners_.push_back(o);
        proc.owners.push_back(it->second);
    }
    last_owner_.emplace(key, it->second);
    return it->second;
}

OwnerId PinLedger::exited_owner_of(const GrabEvent& e, const OwnerKey& key, Process& proc)
{
    for (OwnerId id : proc.exited_owners)
        if (key_of(owners_[id]) == key) return id;
    Owner o;
    static_cast<Taker&>(o) = taker_of(e);
    o.incarnation = proc.incarnation - 1;
    o.first_ns = e.head.ts_ns;
    o.exited_ns = proc.exited_ns;
    auto id = static_cast<OwnerId>(owners_.size());
    owners_.push_back(o);
    proc.exited_owners.push_back(id);
    return id;
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

// Stores h on pfn's page: a hold of the same owner there takes the count
// (and the older date). Returns the pins added, fewer than h.count only
// where a count stops at its maximum; new_hold says whether the owner had
// no hold on the page before.
uint32_t PinLedger::place(uint64_t pfn, const PageHold& h, bool& new_hold)
{
    new_hold = true;
    auto [slot, fresh] = pages_.insert(pfn);
    if (fresh) {
        *slot = h;
        ++region(pfn).slots;
        return h.count;
    }
    for (PageHold& mine : holds_of(*slot)) {
        if (mine.owner != h.owner) continue;
        new_hold = false;
        uint32_t before = mine.count;
        mine.count = saturating_add(mine.count, h.count);
        mine.since_ns = std::min(mine.since_ns, h.since_ns);
        return mine.count - before;
    }
    if (slot->owner == kShared) {
        shared_[slot->count].push_back(h);
        return h.count;
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
    shared_[index] = {*slot, h};
    *slot = PageHold{kShared, index, 0};
    return h.count;
}

// Pins of the owner's on a page, in a page slot; returns those added (the
// caller counts them as the owner's).
uint32_t PinLedger::add(uint64_t pfn, OwnerId id, uint32_t count, uint64_t ts)
{
    bool new_hold;
    uint32_t added = place(pfn, PageHold{id, count, ts}, new_hold);
    if (new_hold) {
        Owner& o = owners_[id];
        ++o.pages_held;
        ++o.page_slots;
    }
    return added;
}

void PinLedger::erase_page(uint64_t pfn, PageHold* slot)
{
    pages_.erase(slot);
    Region* r = regions_.find(region_of(pfn));
    --r->slots;
    forget_region_if_empty(region_of(pfn), r);
}

PinLedger::Region& PinLedger::region(uint64_t pfn)
{
    ++page_ops_;
    return *regions_.insert(region_of(pfn)).first;
}

void PinLedger::forget_region_if_empty(uint64_t index, Region* r)
{
    if (!r->slots && !r->runs) regions_.erase(index);
}

uint32_t PinLedger::add_run(const HoldRun& run)
{
    uint32_t index;
    if (!free_runs_.empty()) {
        index = free_runs_.back();
        free_runs_.pop_back();
        runs_[index] = run;
    } else {
        index = static_cast<uint32_t>(runs_.size());
        runs_.push_back(run);
    }
    ++live_runs_;
    ++owners_[run.hold.owner].runs;
    for (uint64_t r = region_of(run.first); r <= region_of(run.end() - 1); ++r) {
        Region& reg = region(r << kRegionShift);
        if (!reg.runs) {
            uint32_t list;
            if (!free_region_runs_.empty()) {
                list = free_region_runs_.back();
                free_region_runs_.pop_back();
            } else {
                list = static_cast<uint32_t>(region_runs_.size());
                region_runs_.emplace_back();
            }
            reg.runs = list + 1;
        }
        region_runs_[reg.runs - 1].push_back(index);
    }
    return index;
}

void PinLedger::remove_run(uint32_t index)
{
    HoldRun& run = runs_[index];
    for (uint64_t r = region_of(run.first); r <= region_of(run.end() - 1); ++r) {
        ++page_ops_;
        Region* reg = regions_.find(r);
        auto& list = region_runs_[reg->runs - 1];
        *std::find(list.begin(), list.end(), index) = list.back();
        list.pop_back();
        if (list.empty()) {
            free_region_runs_.push_back(reg->runs - 1);
            reg->runs = 0;
            forget_region_if_empty(r, reg);
        }
    }
    --owners_[run.hold.owner].runs;
    --live_runs_;
    run.nr_pages = 0;
    free_runs_.push_back(index);
}

// Drops the free entries of runs_ once they are most of it, so that a walk
// of every run costs the runs held now. Called where no run index is held.
void PinLedger::compact_runs()
{
    if (runs_.size() <= 64 || live_runs_ * 4 >= runs_.size()) return;
    std::vector<uint32_t> moved_to(runs_.size());
    std::vector<HoldRun> live;
    live.reserve(live_runs_ * 2);
    for (uint32_t i = 0; i < runs_.size(); ++i) {
        if (!runs_[i].nr_pages) continue;
        moved_to[i] = static_cast<uint32_t>(live.size());
        live.push_back(runs_[i]);
    }
    page_ops_ += runs_.size();
    for (auto& listed : region_runs_)
        for (uint32_t& i : listed) i = moved_to[i];
    runs_ = std::move(live);
    free_runs_.clear();
}

const std::vector<uint32_t>& PinLedger::runs_in(uint64_t pfn, uint64_t n) const
{
    found_runs_.clear();
    if (!live_runs_ || !n) return found_runs_;
    uint64_t end = pfn + n;
    auto overlaps = [&](const HoldRun& run) { return run.first < end && run.end() > pfn; };
    uint64_t first = region_of(pfn), last = region_of(end - 1);
    // Whichever costs less: the range's regions, or every run.
    if (last - first < runs_.size()) {
        for (uint64_t r = first; r <= last; ++r) {
            ++page_ops_;
            const Region* reg = regions_.find(r);
            if (!reg || !reg->runs) continue;
            const auto& listed = region_runs_[reg->runs - 1];
            page_ops_ += listed.size();
            // A run listed in several regions is taken from the first of them in the range.
            for (uint32_t i : listed)
                if (overlaps(runs_[i]) && region_of(std::max(runs_[i].first, pfn)) == r) found_runs_.push_back(i);
        }
    } else {
        // Fewer runs than regions in the range: look at each run.
        page_ops_ += runs_.size();
        for (uint32_t i = 0; i < runs_.size(); ++i)
            if (runs_[i].nr_pages && overlaps(runs_[i])) found_runs_.push_back(i);
    }
    // In pfn order, then owner: the same answer whichever way it was found.
    std::sort(found_runs_.begin(), found_runs_.end(), [&](uint32_t a, uint32_t b) {
        return std::pair(runs_[a].first, runs_[a].hold.owner) < std::pair(runs_[b].first, runs_[b].hold.owner);
    });
    return found_runs_;
}

// Run `index` gives way to the pieces given (those of no pages or no pins
// are dropped): what is left of it after part of it changed.
void PinLedger::replace_run(uint32_t index, std::initializer_list<HoldRun> pieces)
{
    remove_run(index);
    for (const HoldRun& piece : pieces)
        if (piece.nr_pages && piece.hold.count) add_run(piece);
}

void PinLedger::take_from_run(uint32_t index, uint64_t from, uint64_t pins)
{
    HoldRun run = runs_[index];
    uint64_t whole = pins / run.hold.count;
    auto rest = static_cast<uint32_t>(pins % run.hold.count);
    uint64_t untouched = from + whole + (rest ? 1 : 0);
    owners_[run.hold.owner].pages_held -= whole;
    replace_run(index, {piece_of(run, run.first, from, run.hold.count),
                        piece_of(run, from + whole, untouched, run.hold.count - rest),
                        piece_of(run, untouched, run.end(), run.hold.count)});
}

// New holds of the owner's on pages it held nothing on: a run, or a page
// slot for a single page. Returns the pins added.
uint64_t PinLedger::hold_new(OwnerId id, uint64_t from, uint64_t to, uint32_t count, uint64_t ts)
{
    if (from >= to) return 0;
    if (to - from == 1) return add(from, id, count, ts);
    add_run(HoldRun{from, static_cast<uint32_t>(to - from), PageHold{id, count, ts}});
    owners_[id].pages_held += to - from;
    return uint64_t{count} * (to - from);
}

// The owner's pages in [from, to) that no run of its covers: its page slots
// there take the pins, the pages between them become new holds.
uint64_t PinLedger::grab_uncovered(OwnerId id, uint64_t from, uint64_t to, uint32_t count, uint64_t ts)
{
    if (from >= to) return 0;
    // One page: a slot of the owner's there takes the pins (place()).
    if (to - from == 1) return add(from, id, count, ts);
    uint64_t added = 0;
    std::vector<uint64_t> mine;
    if (owners_[id].page_slots)
        for_each_slot_in(from, to - from, [&](uint64_t pfn, const PageHold& slot) {
            for (const PageHold& h : holds_of(slot))
                if (h.owner == id) mine.push_back(pfn);
        });
    for (uint64_t pfn : mine) {
        added += hold_new(id, from, pfn, count, ts);
        added += add(pfn, id, count, ts);
        from = pfn + 1;
    }
    return added + hold_new(id, from, to, count, ts);
}

// Each page of the grab gets count more pins of its owner's: on the
// owner's runs there (the part they cover, split off, counts more), on its
// page slots there, or as new holds on the pages between them.
void PinLedger::grab(const GrabEvent& e)
{
    if (!hold_kind(e.flags) || !e.nr_pages || !e.count) return;
    ++changes_;
    compact_runs();
    OwnerId id = owner_of(e);
    uint64_t end = e.pfn + e.nr_pages, ts = e.head.ts_ns, added = 0;
    std::vector<uint32_t> mine;
    if (owners_[id].runs)
        for (uint32_t i : runs_in(e.pfn, e.nr_pages))
            if (runs_[i].hold.owner == id) mine.push_back(i);  // in pfn order, none overlapping another
    uint64_t at = e.pfn;
    for (uint32_t i : mine) {
        HoldRun run = runs_[i];
        uint64_t from = std::max(run.first, e.pfn), to = std::min(run.end(), end);
        added += grab_uncovered(id, at, from, e.count, ts);
        HoldRun more = piece_of(run, from, to, saturating_add(run.hold.count, e.count));
        more.hold.since_ns = std::min(run.hold.since_ns, ts);  // as a page slot does, for a grab out of order
        added += uint64_t{more.hold.count - run.hold.count} * (to - from);
        replace_run(
            i, {piece_of(run, run.first, from, run.hold.count), more, piece_of(run, to, run.end(), run.hold.count)});
        at = to;
    }
    added += grab_uncovered(id, at, end, e.count, ts);
    Owner& o = owners_[id];
    o.pins_taken += added;
    o.pins_held += added;
}

void PinLedger::note_closed(uint64_t pfn, const PageHold& h, uint32_t n, uint64_t ts, bool by_free, uint32_t nr_pages)
{
    Owner& o = owners_[h.owner];
    uint64_t pins = uint64_t{n} * nr_pages;
    o.pins_held -= pins;
    (by_free ? o.pins_freed : o.pins_released) += pins;
    o.held_for.add(ts > h.since_ns ? ts - h.since_ns : 0, pins);
    if (on_close_) on_close_(ClosedPins{pfn, h.owner, n, h.since_ns, ts, by_free, nr_pages});
}

// Drops the holds on pfn whose count reached zero, and the page once none
// is left. Releases empty holds first and drop them after, so the pointers
// they collected stay valid (erasing moves other slots of the table).
void PinLedger::drop_empty(uint64_t pfn)
{
    PageHold* slot = pages_.find(pfn);
    if (!slot) return;
    auto gone = [&](const PageHold& h) {
        Owner& o = owners_[h.owner];
        --o.pages_held;
        --o.page_slots;
    };
    if (slot->owner != kShared) {
        if (slot->count) return;
        gone(*slot);
        erase_page(pfn, slot);
        return;
    }
    uint32_t index = slot->count;
    auto& list = shared_[index];
    for (const PageHold& h : list)
        if (!h.count) gone(h);
    list.erase(std::remove_if(list.begin(), list.end(), [](const PageHold& h) { return !h.count; }), list.end());
    if (list.size() > 1) return;
    // One owner left (no list needed), or none.
    if (list.empty())
        erase_page(pfn, slot);
    else
        *slot = list.front();
    list.clear();
    free_shared_.push_back(index);
}

bool PinLedger::same_process(const Owner& o, uint32_t tgid) const { return o.task.tgid == tgid && !o.exited_ns; }

// A release names a folio and a count, not an owner: the kernel keeps no
// owner. It closes, in order: holders of the same kind in the releasing
// process, then the oldest holders of that kind (io_uring and AIO release
// from kworkers or interrupts, not from the pinner); among equals, the
// lowest pfn first.
ReleaseOutcome PinLedger::release(const ReleaseEvent& e)
{
    ReleaseOutcome out;
    uint32_t kind = hold_kind(e.flags);
    if (!kind || !e.nr_pages) return out;
    ++changes_;
    compact_runs();
    uint64_t ts = e.head.ts_ns;
    uint32_t tgid = e.head.task.tgid;
    std::vector<uint32_t> runs = runs_in(e.pfn, e.nr_pages);

    // The common case, one page with one owner, needs no candidate list.
    if (e.nr_pages == 1 && runs.empty()) {
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
    for_each_slot_in(e.pfn, e.nr_pages, [&](uint64_t pfn, PageHold& slot) {
        for (PageHold& h : holds_of(slot)) {
            const Owner& o = owners_[h.owner];
            if (hold_kind(o.flags) == kind) candidates_.push_back({pfn, &h, 0, 1, h.since_ns, same_process(o, tgid)});
        }
    });
    for (uint32_t i : runs) {
        const HoldRun& run = runs_[i];
        const Owner& o = owners_[run.hold.owner];
        if (hold_kind(o.flags) != kind) continue;
        uint64_t from = std::max(run.first, e.pfn), to = std::min(run.end(), e.pfn + e.nr_pages);
        candidates_.push_back(
            {from, nullptr, i, static_cast<uint32_t>(to - from), run.hold.since_ns, same_process(o, tgid)});
    }
    auto owner = [&](const Candidate& c) { return c.hold ? c.hold->owner : runs_[c.run].hold.owner; };
    auto before = [&](const Candidate& a, const Candidate& b) {
        if (a.same_process != b.same_process) return a.same_process;
        if (a.since_ns != b.since_ns) return a.since_ns < b.since_ns;
        if (a.pfn != b.pfn) return a.pfn < b.pfn;
        return owner(a) < owner(b);
    };
    // A folio released whole is one grab's pages, already in order.
    if (!std::is_sorted(candidates_.begin(), candidates_.end(), before))
        std::sort(candidates_.begin(), candidates_.end(), before);

    uint64_t left = e.refs;
    for (const auto& c : candidates_) {
        if (!left) break;
        uint64_t n;
        if (c.hold) {
            n = std::min<uint64_t>(left, c.hold->count);
            note_closed(c.pfn, *c.hold, static_cast<uint32_t>(n), ts, false);
            c.hold->count -= static_cast<uint32_t>(n);
        } else {
            // Whole pages of the run first, in pfn order, then part of one.
            PageHold hold = runs_[c.run].hold;
            n = std::min<uint64_t>(left, uint64_t{hold.count} * c.nr_pages);
            uint64_t whole = n / hold.count, rest = n % hold.count;
            if (whole) note_closed(c.pfn, hold, hold.count, ts, false, static_cast<uint32_t>(whole));
            if (rest) note_closed(c.pfn + whole, hold, static_cast<uint32_t>(rest), ts, false);
            take_from_run(c.run, c.pfn, n);
        }
        left -= n;
        out.matched += static_cast<uint32_t>(n);
        if (n && !c.same_process) out.other_owner = true;
    }
    out.unmatched = static_cast<uint32_t>(left);
    if (out.matched)
        for (const auto& c : candidates_)
            if (c.hold) drop_empty(c.pfn);
    return out;
}

uint64_t PinLedger::page_freed(uint64_t pfn, uint32_t nr_pages, uint64_t ts)
{
    uint64_t closed = 0;
    ++changes_;
    compact_runs();
    freed_pfns_.clear();
    for_each_slot_in(pfn, nr_pages, [&](uint64_t p, const PageHold&) { freed_pfns_.push_back(p); });
    for (uint64_t p : freed_pfns_) {
        PageHold* slot = pages_.find(p);
        for (const PageHold& h : holds_of(*slot)) {
            note_closed(p, h, h.count, ts, true);
            Owner& o = owners_[h.owner];
            --o.pages_held;
            --o.page_slots;
            closed += h.count;
        }
        if (slot->owner == kShared) {
            shared_[slot->count].clear();
            free_shared_.push_back(slot->count);
        }
        erase_page(p, slot);
    }
    for (uint32_t i : std::vector<uint32_t>(runs_in(pfn, nr_pages))) {
        PageHold hold = runs_[i].hold;
        uint64_t from = std::max(runs_[i].first, pfn), to = std::min(runs_[i].end(), pfn + nr_pages);
        note_closed(from, hold, hold.count, ts, true, static_cast<uint32_t>(to - from));
        closed += uint64_t{hold.count} * (to - from);
        take_from_run(i, from, uint64_t{hold.count} * (to - from));
    }
    return closed;
}

void PinLedger::process_exited(uint32_t tgid, uint64_t ts)
{
    // Kept even for a process that took nothing we saw yet: a pin of it
    // parked in the kernel may still arrive, stamped before this exit.
    auto it = processes_.try_emplace(tgid).first;
    for (OwnerId id : it->second.owners) {
        owners_[id].exited_ns = ts ? ts : 1;
        owner_ids_.erase(key_of(owners_[id]));
    }
    it->second.exited_owners = std::move(it->second.owners);
    it->second.owners.clear();
    it->second.exited_ns = ts ? ts : 1;
    newest_exit_ns_ = std::max(newest_exit_ns_, it->second.exited_ns);
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
    return Holder{{static_cast<const Taker&>(o)}, h.owner, h.count, h.since_ns, o.exited_ns};
}

Holders PinLedger::holders(uint64_t pfn) const
{
    Holders out;
    ++page_ops_;
    if (const PageHold* slot = pages_.find(pfn))
        for (const PageHold& h : holds_of(*slot)) out.push_back(resolve(pfn, h));
    size_t slots = out.size();
    for (uint32_t i : runs_in(pfn, 1)) out.push_back(resolve(pfn, runs_[i].hold));
    // In the order they took the page, as page slots keep them.
    if (slots && out.size() > slots)
        std::stable_sort(out.begin(), out.end(),
                         [](const Holder& a, const Holder& b) { return a.first_ns < b.first_ns; });
    return out;
}

Holders PinLedger::holders_in(uint64_t pfn, uint64_t nr_pages) const
{
    struct Entry {
        uint64_t first_pfn;  // where the owner's holds begin: the order of the answer
        Holder holder;
    };
    std::vector<Entry> found;
    std::unordered_map<OwnerId, size_t> index;  // owner -> its entry in found
    auto add = [&](uint64_t at, const PageHold& h, uint64_t pages) {
        uint64_t pins = uint64_t{h.count} * pages;
        auto [it, fresh] = index.try_emplace(h.owner, found.size());
        if (fresh) {
            found.push_back({at, resolve(at, h)});
            found.back().holder.count = static_cast<uint32_t>(std::min<uint64_t>(pins, UINT32_MAX));
            return;
        }
        Entry& same = found[it->second];
        same.first_pfn = std::min(same.first_pfn, at);
        same.holder.count = static_cast<uint32_t>(std::min<uint64_t>(same.holder.count + pins, UINT32_MAX));
        same.holder.first_ns = std::min(same.holder.first_ns, h.since_ns);
    };
    for_each_slot_in(pfn, nr_pages, [&](uint64_t at, const PageHold& slot) {
        for (const PageHold& h : holds_of(slot)) add(at, h, 1);
    });
    for (uint32_t i : runs_in(pfn, nr_pages)) {
        const HoldRun& run = runs_[i];
        uint64_t from = std::max(run.first, pfn);
        add(from, run.hold, std::min(run.end(), pfn + nr_pages) - from);
    }
    // By where each owner's holds begin; on one page, in the order they took it.
    std::stable_sort(found.begin(), found.end(), [](const Entry& a, const Entry& b) {
        return std::pair(a.first_pfn, a.holder.first_ns) < std::pair(b.first_pfn, b.holder.first_ns);
    });
    Holders out;
    for (const Entry& e : found) out.push_back(e.holder);
    return out;
}

size_t PinLedger::pages_held() const
{
    if (!live_runs_) return pages_.size();
    if (counted_at_ == changes_) return counted_pages_;
    // Runs of different owners may cover the same pages, and page slots
    // the pages of runs: count each page once.
    std::vector<std::pair<uint64_t, uint64_t>> covered;
    for (const HoldRun& r : runs_)
        if (r.nr_pages) covered.emplace_back(r.first, r.end());
    std::sort(covered.begin(), covered.end());
    std::vector<std::pair<uint64_t, uint64_t>> merged;
    for (const auto& c : covered) {
        if (!merged.empty() && c.first <= merged.back().second)
            merged.back().second = std::max(merged.back().second, c.second);
        else
            merged.push_back(c);
    }
    size_t pages = 0;
    for (const auto& m : merged) pages += m.second - m.first;
    page_ops_ += pages_.size() + runs_.size();
    pages_.for_each([&](uint64_t pfn, const PageHold&) {
        auto it = std::upper_bound(merged.begin(), merged.end(), std::pair{pfn, UINT64_MAX});
        if (it == merged.begin() || pfn >= std::prev(it)->second) ++pages;
    });
    counted_at_ = changes_;
    counted_pages_ = pages;
    return pages;
}

}  // namespace pintrace
