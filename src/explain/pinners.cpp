#include "explain/pinners.hpp"

#include "explain/holder_groups.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <map>
#include <set>
#include <tuple>
#include <unordered_map>

namespace pintrace {

namespace {

// Holding nothing sorts last by age; otherwise the longest held first.
SortValue oldest_value(const PinnerRow& r) { return {r.oldest_ns ? r.oldest_ns : ~uint64_t{0}, {}}; }
// A non-negative double's bits order as the double does.
SortValue rate_value(const PinnerRow& r) { return {std::bit_cast<uint64_t>(std::max(r.pins_per_s, 0.0)), {}}; }

// One row per key, as written.
// clang-format off
constexpr SortKeyInfo kSortKeys[] = {
    {SortKey::Pages, "pages", "pages held", true, false, [](const PinnerRow& r) { return SortValue{r.pages, {}}; }},
    {SortKey::Longterm, "longterm", "pages held by long-term pins", true, false,
     [](const PinnerRow& r) { return SortValue{r.longterm_pages, {}}; }},
    {SortKey::Oldest, "oldest", "the oldest hold first", false, false, oldest_value},
    {SortKey::Pins, "pins", "pins and references held", true, false,
     [](const PinnerRow& r) { return SortValue{r.pins, {}}; }},
    {SortKey::Rate, "rate", "pins taken per second during the trace", true, false, rate_value},
    {SortKey::Pid, "pid", "process id", false, false, [](const PinnerRow& r) { return SortValue{r.task.tgid, {}}; }},
    {SortKey::Comm, "comm", "command name", false, true,
     [](const PinnerRow& r) { return SortValue{0, comm_view(r.task.comm)}; }},
    {SortKey::Cgroup, "cgroup", "cgroup path", false, true, [](const PinnerRow& r) { return SortValue{0, r.cgroup}; }},
};
// clang-format on

}  // namespace

std::span<const SortKeyInfo> sort_keys() { return kSortKeys; }

const SortKeyInfo& sort_key_info(SortKey k)
{
    for (const auto& row : kSortKeys)
        if (row.key == k) return row;
    return kSortKeys[0];  // every SortKey has a row (tests/unit: SortKeys.EveryKeyHasARow)
}

std::string sort_key_names()
{
    std::string out;
    for (const auto& row : kSortKeys) out += (out.empty() ? "" : ", ") + std::string(row.name);
    return out;
}

namespace {

std::string cgroup_of(const Report& r, OwnerId id)
{
    if (const auto* p = r.process(id); p && !p->cgroup.empty()) return p->cgroup;
    return "cgroup " + std::to_string(r.owner(id).task.cgroup_id);
}

std::string group_key(const Report& r, OwnerId id, GroupBy g)
{
    const Owner& o = r.owner(id);
    switch (g) {
    case GroupBy::Pid: return std::to_string(o.task.tgid);
    case GroupBy::Comm: return std::string(comm_view(o.task.comm));
    case GroupBy::Cgroup: return cgroup_of(r, id);
    case GroupBy::Stack: break;
    }
    // The code path, whoever ran it: the innermost frame that is not GUP's
    // own machinery names it best; the full stacks are in the row.
    auto frames = r.kernel_frames(o.kstack);
    for (const auto& f : frames)
        if (!f.starts_with("try_grab") && !f.starts_with("follow_") && !f.starts_with("__get_user_pages") &&
            !f.starts_with("__gup") && !f.starts_with("gup_") && !f.starts_with("internal_get_user") &&
            !f.starts_with("pin_user_pages") && !f.starts_with("get_user_pages") && !f.starts_with("__pin_user") &&
            !f.starts_with("__get_user"))
            return f.substr(0, f.find('+'));
    return frames.empty() ? "stack " + std::to_string(o.kstack) : frames.front().substr(0, frames.front().find('+'));
}

}  // namespace

bool HolderFilter::matches(const Report& r, OwnerId id) const
{
    const Owner& o = r.owner(id);
    if (pid && o.task.tgid != *pid) return false;
    if (!comm.empty() && comm_view(o.task.comm) != comm) return false;
    if (!cgroup.empty()) {
        bool by_id = std::all_of(cgroup.begin(), cgroup.end(), [](char c) { return c >= '0' && c <= '9'; });
        if (by_id) return std::to_string(o.task.cgroup_id) == cgroup;
        const auto* p = r.process(id);
        if (!p || !p->cgroup.starts_with(cgroup)) return false;
        // "/a" selects "/a" and "/a/b", not "/ab".
        if (p->cgroup.size() > cgroup.size() && cgroup.back() != '/' && p->cgroup[cgroup.size()] != '/') return false;
    }
    return true;
}

Result<GroupBy> parse_group_by(std::string_view text)
{
    for (GroupBy g : {GroupBy::Pid, GroupBy::Comm, GroupBy::Cgroup, GroupBy::Stack})
        if (text == group_by_name(g)) return g;
    return make_error("unknown --group-by '" + std::string(text) + "' (use pid, comm, cgroup or stack)");
}

Result<std::vector<SortKey>> parse_sort_keys(std::string_view text)
{
    std::vector<SortKey> keys;
    while (!text.empty()) {
        size_t comma = text.find(',');
        std::string_view word = text.substr(0, comma);
        text = comma == std::string_view::npos ? std::string_view() : text.substr(comma + 1);
        auto row =
            std::find_if(sort_keys().begin(), sort_keys().end(), [&](const SortKeyInfo& k) { return k.name == word; });
        if (row == sort_keys().end())
            return make_error("unknown --sort key '" + std::string(word) + "' (use " + sort_key_names() + ")");
        keys.push_back(row->key);
    }
    if (keys.empty()) return make_error("--sort needs at least one key");
    return keys;
}

std::string_view group_by_name(GroupBy g)
{
    switch (g) {
    case GroupBy::Pid: return "pid";
    case GroupBy::Comm: return "comm";
    case GroupBy::Cgroup: return "cgroup";
    case GroupBy::Stack: return "stack";
    }
    return "?";
}

std::string_view sort_key_name(SortKey k) { return sort_key_info(k).name; }

std::vector<PinnerRow> pinner_rows(const Report& r, const PinnerQuery& q)
{
    // top asks for 100 000 rows on every redraw: they are grouped through a
    // hash and sorted through a compact copy of their sort keys, so each
    // row moves once, not once per comparison.
    std::vector<PinnerRow> groups;
    // At most a row per owner: no reallocation copies rows around.
    groups.reserve(r.owners.size());
    // The row of an owner's group. By pid (the default, and top's) the key
    // is a number: no string is made or hashed per owner.
    std::unordered_map<std::string, size_t> by_name;
    std::unordered_map<uint32_t, size_t> by_pid;
    if (q.group_by == GroupBy::Pid)
        by_pid.reserve(r.owners.size());
    else
        by_name.reserve(r.owners.size());
    auto row_of = [&](OwnerId id) -> PinnerRow& {
        if (q.group_by == GroupBy::Pid) {
            auto [at, fresh] = by_pid.try_emplace(r.owner(id).task.tgid, groups.size());
            if (fresh) groups.emplace_back().key = std::to_string(at->first);
            return groups[at->second];
        }
        auto [at, fresh] = by_name.try_emplace(group_key(r, id, q.group_by), groups.size());
        if (fresh) groups.emplace_back().key = at->first;
        return groups[at->second];
    };
    std::unordered_map<int32_t, Origin> origins;  // by kernel stack: its frames are read once
    auto origin_of_stack = [&](int32_t kstack) {
        auto [origin, fresh] = origins.try_emplace(kstack, Origin::Unknown);
        if (fresh) origin->second = origin_of(r.kernel_frames(kstack));
        return origin->second;
    };
    auto origin_of_owner = [&](const Owner& x) {
        Origin by_hook = origin_of_hook(x.hook);
        return by_hook != Origin::Unknown ? by_hook : origin_of_stack(x.kstack);
    };
    for (OwnerId id = 0; id < r.owners.size(); ++id) {
        if (!q.filter.matches(r, id)) continue;
        const OwnerState& s = r.owners[id];
        const Owner& o = s.owner;
        PinnerRow& row = row_of(id);
        // Its largest holder names the row: most pages held now, then the
        // longest-lasting kind (long-term pin, pin, reference), then one whose
        // origin is not incidental (an execve's own grabs), then most pins taken.
        const Owner& top = r.owner(row.top_owner);
        auto rank = [](const Owner& x) { return std::tuple(x.pages_held, -static_cast<int>(cause_of_flags(x.flags))); };
        auto incidental = [&](const Owner& x) { return origin_info(origin_of_owner(x)).incidental; };
        bool largest = row.owners.empty() || rank(o) > rank(top);
        if (!largest && rank(o) == rank(top)) {
            bool oi = incidental(o), ti = incidental(top);
            largest = oi != ti ? ti : o.pins_taken > top.pins_taken;
        }
        if (largest) {
            row.top_owner = id;
            row.task = o.task;
            row.kstack = o.kstack;
            row.ustack = o.ustack;
        }
        row.owners.push_back(id);
        row.pages += o.pages_held;
        if (o.flags & kFlagLongterm) row.longterm_pages += o.pages_held;
        row.pins += o.pins_held;
        row.pins_taken += o.pins_taken;
        row.pages_over_threshold += s.pages_over_threshold;
        row.flags |= o.flags;
        if (s.oldest_ns && (!row.oldest_ns || s.oldest_ns < row.oldest_ns)) row.oldest_ns = s.oldest_ns;
        row.uncertain |= s.uncertain;
    }
    // A process is named as it is now: the comm of its newest owner. Its
    // largest holder may predate an exec (the traced command's own execve
    // grabs carry the comm of the pintrace child it was forked as).
    for (PinnerRow& row : groups) {
        const Owner* newest = nullptr;
        for (OwnerId id : row.owners) {
            const Owner& o = r.owner(id);
            if (o.task.tgid == row.task.tgid && o.incarnation == r.owner(row.top_owner).incarnation &&
                (!newest || o.first_ns > newest->first_ns))
                newest = &o;
        }
        if (newest) row.task.comm = newest->task.comm;
    }

    double seconds = r.end_ns > r.first_ns ? (r.end_ns - r.first_ns) / 1e9 : 0;
    std::vector<std::pair<uint32_t, uint32_t>> procs;
    for (size_t i = 0; i < groups.size(); ++i) {
        PinnerRow& row = groups[i];
        procs.clear();
        for (OwnerId id : row.owners) procs.emplace_back(r.owner(id).task.tgid, r.owner(id).incarnation);
        std::sort(procs.begin(), procs.end());
        row.processes = size_t(std::unique(procs.begin(), procs.end()) - procs.begin());
        row.all_exited =
            std::all_of(row.owners.begin(), row.owners.end(), [&](OwnerId id) { return r.owner(id).exited_ns != 0; });
        uint32_t held_kinds = 0;
        bool release_seen = false;
        for (OwnerId id : row.owners)
            if (r.owner(id).pages_held) {
                held_kinds |= hold_kind(r.owner(id).flags);
                release_seen |= release_traced(r, r.owner(id));
            }
        row.release_unseen = held_kinds == kFlagGet && !release_seen;
        if (const auto* p = r.process(row.top_owner)) row.exe = p->exe;
        row.cgroup = cgroup_of(r, row.top_owner);
        row.origin = origin_of_owner(r.owner(row.top_owner));
        row.pins_per_s = seconds > 0 ? row.pins_taken / seconds : 0;
    }
    // The keys compared, side by side: sorting 100 000 indices touches
    // this small array (each row's values and tie-breakers in one place),
    // not the rows. A key given twice decides nothing the second time.
    std::vector<const SortKeyInfo*> by;
    for (SortKey k : q.sort)
        if (std::none_of(by.begin(), by.end(), [&](const SortKeyInfo* b) { return b->key == k; }))
            by.push_back(&sort_key_info(k));
    struct Sortable {
        // Smaller sorts first: a descending key's value is complemented.
        std::array<uint64_t, std::size(kSortKeys)> number;
        uint32_t pid;
        std::string_view key;
    };
    bool any_text = std::any_of(by.begin(), by.end(), [](const SortKeyInfo* k) { return k->text; });
    std::vector<Sortable> sortable(groups.size());
    std::vector<std::string_view> texts(any_text ? groups.size() * by.size() : 0);
    for (size_t i = 0; i < groups.size(); ++i) {
        sortable[i].pid = groups[i].task.tgid;
        sortable[i].key = groups[i].key;
        for (size_t j = 0; j < by.size(); ++j) {
            SortValue v = by[j]->value(groups[i]);
            sortable[i].number[j] = by[j]->descending ? ~v.number : v.number;
            if (any_text) texts[i * by.size() + j] = v.text;
        }
    }
    const size_t nkeys = by.size();
    auto before = [&](size_t x, size_t y) {
        const Sortable& a = sortable[x];
        const Sortable& b = sortable[y];
        for (size_t j = 0; j < nkeys; ++j) {
            if (a.number[j] != b.number[j]) return a.number[j] < b.number[j];
            if (any_text && by[j]->text) {
                std::string_view ta = texts[x * nkeys + j], tb = texts[y * nkeys + j];
                if (ta != tb) return by[j]->descending ? ta > tb : ta < tb;
            }
        }
        // A pid's row before a larger pid's, then the key (unique) settles it.
        if (a.pid != b.pid) return a.pid < b.pid;
        return a.key < b.key;
    };
    std::vector<size_t> order(groups.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    // Keys are unique, so the order is total whatever the grouping's order was.
    std::sort(order.begin(), order.end(), before);
    // Rows into that order in place, cycle by cycle: no second array of
    // rows (at 100 000 rows, tens of MiB of fresh pages to fault in).
    for (size_t i = 0; i < order.size(); ++i) {
        if (order[i] == i) continue;
        PinnerRow held = std::move(groups[i]);
        size_t at = i;
        while (order[at] != i) {
            size_t from = order[at];
            groups[at] = std::move(groups[from]);
            order[at] = at;
            at = from;
        }
        groups[at] = std::move(held);
        order[at] = at;
    }
    return groups;
}

bool FailureFilter::matches(const Report& r, const Failure& f) const
{
    if (!reason.empty() && f.reason != reason) return false;
    if (since_ns && f.head.ts_ns < *since_ns) return false;
    if (until_ns && f.head.ts_ns > *until_ns) return false;
    if (holders.empty()) return true;
    auto any = [&](const std::vector<StuckPage>& pages) {
        for (const auto& p : pages)
            for (const auto& h : p.holders)
                if (holders.matches(r, h.owner)) return true;
        return false;
    };
    return any(f.pages) || any(f.held_in_range);
}

DurationHistogram released_durations(const Report& r, std::span<const OwnerId> owners)
{
    DurationHistogram h;
    for (OwnerId id : owners) h += r.owner(id).held_for;
    return h;
}

DurationHistogram held_ages(const Report& r, std::span<const OwnerId> owners)
{
    DurationHistogram h;
    for (OwnerId id : owners) h += r.owners[id].held_now;
    return h;
}

DurationHistogram released_durations(const Report& r, const HolderFilter& filter)
{
    DurationHistogram h;
    for (OwnerId id = 0; id < r.owners.size(); ++id)
        if (filter.matches(r, id)) h += r.owner(id).held_for;
    return h;
}

DurationHistogram held_ages(const Report& r, const HolderFilter& filter)
{
    DurationHistogram h;
    for (OwnerId id = 0; id < r.owners.size(); ++id)
        if (filter.matches(r, id)) h += r.owners[id].held_now;
    return h;
}

}  // namespace pintrace
