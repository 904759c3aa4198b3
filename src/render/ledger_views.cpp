#include "render/ledger_views.hpp"

#include <algorithm>
#include <cstdio>
#include <map>
#include <set>

#include "render/format.hpp"

namespace pintrace {

std::string format_clock(const Report& r, uint64_t monotonic_ns)
{
    std::string wall = format_wall_time(r, monotonic_ns);  // "YYYY-MM-DD HH:MM:SS.mmm UTC"
    if (wall.size() > 11) return wall.substr(11, 12);
    return "+" + format_duration(monotonic_ns - std::min(monotonic_ns, r.first_ns));
}

std::string owner_label(const Report& r, OwnerId id)
{
    const Owner& o = r.owner(id);
    std::string s = pid_comm(o.task.tgid, comm_view(o.task.comm));
    if (o.exited_ns) s += ", exited " + format_clock(r, o.exited_ns);
    return s;
}

Table pinners_table(const Report& r, const std::vector<PinnerRow>& rows, GroupBy group_by, size_t limit)
{
    std::string first = group_by == GroupBy::Pid    ? "PID" :
                        group_by == GroupBy::Comm   ? "COMM" :
                        group_by == GroupBy::Cgroup ? "CGROUP" :
                                                      "CODE PATH";
    Table t;
    t.columns = {{first}, {"PAGES", true}, {"LONGTERM", true}, {"HELD FOR", true}, {"PINS/S", true}, {"WHO / HOW"}};
    for (size_t i = 0; i < rows.size() && (!limit || i < limit); ++i) {
        const PinnerRow& row = rows[i];
        char rate[32];
        std::snprintf(rate, sizeof rate, row.pins_per_s >= 10 ? "%.0f" : "%.1f", row.pins_per_s);
        std::string who;
        if (group_by != GroupBy::Pid)
            who = row.processes == 1 ? "pid " + std::to_string(row.task.tgid) + " " :
                                       std::to_string(row.processes) + " processes, ";
        if (group_by != GroupBy::Comm) who += std::string(comm_view(row.task.comm)) + " ";
        who += origin_description(row.origin) != "" && row.origin != Origin::Unknown ?
                   std::string(origin_description(row.origin)) :
                   flag_string(row.flags, "|");
        // An exited group that holds nothing let go of everything: nothing remains.
        if (row.all_exited && row.pages == 0)
            who += "; process exited";
        else if (row.all_exited && row.release_unseen)
            who +=
                "; process exited; released or not, unseen: a reference's release is invisible "
                "until its page is freed";
        else if (row.all_exited)
            who += "; process exited, pins remain";
        if (row.uncertain) who += "; events lost: may be fewer";
        t.add({row.key, std::to_string(row.pages), std::to_string(row.longterm_pages),
               row.oldest_ns ? format_duration(r.end_ns - std::min(r.end_ns, row.oldest_ns)) : "-", rate, who});
    }
    return t;
}

Table durations_table(const DurationHistogram& released, const DurationHistogram& held)
{
    Table t;
    t.columns = {{"HELD FOR", true}, {"RELEASED", true}, {"STILL HELD", true}, {""}};
    size_t lo = DurationHistogram::kBuckets, hi = 0;
    uint64_t peak = 0;
    for (size_t b = 0; b < DurationHistogram::kBuckets; ++b) {
        uint64_t n = released.buckets[b] + held.buckets[b];
        if (!n) continue;
        lo = std::min(lo, b);
        hi = b;
        peak = std::max(peak, n);
    }
    for (size_t b = lo; b <= hi && lo < DurationHistogram::kBuckets; ++b) {
        uint64_t n = released.buckets[b] + held.buckets[b];
        std::string bar(peak ? (n * 30 + peak - 1) / peak : 0, '*');
        std::string range = b == 0 ? "< 2 us" : ">= " + format_duration(DurationHistogram::bucket_floor_ns(b));
        t.add({range, std::to_string(released.buckets[b]), std::to_string(held.buckets[b]), bar});
    }
    return t;
}

std::string long_holds_headline(const Report& r, const HolderFilter& filter)
{
    uint64_t pins = 0, still = 0;
    for (const auto& h : r.long_holds)
        if (filter.matches(r, h.owner)) {
            pins += h.count;
            still += h.released ? 0 : h.count;
        }
    std::string s = "held longer than " + format_duration(r.options.threshold_ns) + ": " + std::to_string(pins) +
                    " pin(s), " + std::to_string(still) + " still held at the end";
    if (r.long_holds_total > r.long_holds.size())
        s += " (the longest " + std::to_string(r.long_holds.size()) + " of " + std::to_string(r.long_holds_total) +
             " kept)";
    return s;
}

// Grouped by owner: a million pages held too long are one line per holder,
// not a line per page (JSON keeps the pages).
Table long_holds_table(const Report& r, const HolderFilter& filter, size_t limit)
{
    struct Row {
        uint64_t pins = 0, still = 0, longest = 0, since = 0;
        std::set<uint64_t> pfns;
    };
    std::map<OwnerId, Row> by_owner;
    for (const auto& h : r.long_holds) {
        if (!filter.matches(r, h.owner)) continue;
        Row& row = by_owner[h.owner];
        row.pins += h.count;
        row.still += h.released ? 0 : h.count;
        row.longest = std::max(row.longest, h.until_ns - h.since_ns);
        row.since = row.since ? std::min(row.since, h.since_ns) : h.since_ns;
        row.pfns.insert(h.pfn);
    }
    std::vector<std::pair<OwnerId, Row>> rows(by_owner.begin(), by_owner.end());
    std::stable_sort(rows.begin(), rows.end(),
                     [](const auto& a, const auto& b) { return a.second.longest > b.second.longest; });
    Table t;
    t.columns = {{"LONGEST", true}, {"PINS", true}, {"PAGES", true}, {"STILL HELD", true}, {"FIRST SINCE"}, {"HOLDER"}};
    for (size_t i = 0; i < rows.size() && (!limit || i < limit); ++i) {
        const auto& [id, row] = rows[i];
        t.add({format_duration(row.longest), std::to_string(row.pins), std::to_string(row.pfns.size()),
               std::to_string(row.still), format_clock(r, row.since),
               owner_label(r, id) + " " + flag_string(r.owner(id).flags, "|")});
    }
    return t;
}

namespace {

std::string_view what_name(HistoryEntry::What w)
{
    switch (w) {
    case HistoryEntry::What::Grab: return "grab";
    case HistoryEntry::What::Release: return "release";
    case HistoryEntry::What::Closed: return "closed";
    case HistoryEntry::What::Freed: return "freed";
    case HistoryEntry::What::MigrationFailed: return "migration failed";
    case HistoryEntry::What::IsolationBusy: return "isolation busy";
    case HistoryEntry::What::Snapshot: return "snapshot";
    }
    return "?";
}

}  // namespace

void history_lines(Document& d, const Report& r, bool show_stacks)
{
    for (const auto& e : r.history) {
        if (e.what == HistoryEntry::What::Snapshot) {
            d.line(1, format_clock(r, e.ts_ns) + "  " + format_pfn(e.pfn) +
                          "  snapshot (inferred, not traced): " + e.detail);
            continue;
        }
        std::string line = format_clock(r, e.ts_ns) + "  " + format_pfn(e.pfn) + "  " + std::string(what_name(e.what)) +
                           " by " + pid_comm(e.task.tgid, comm_view(e.task.comm));
        std::string flags = flag_string(e.flags, "|");
        if (!flags.empty()) line += " " + flags;
        if (e.count > 1) line += " x" + std::to_string(e.count);
        if (e.nr_pages > 1) line += ", folio of " + std::to_string(e.nr_pages) + " pages";
        if (!e.detail.empty()) line += ", " + e.detail;
        if (e.pipe_ino) line += ", into " + pipe_name(e.pipe_ino);
        d.line(1, line);
        if (!show_stacks || e.kstack < 0) continue;
        std::string path;
        auto k = r.kernel_frames(e.kstack);
        for (size_t i = 0; i < k.size() && i < 8; ++i) path += (i ? " <- " : "") + k[i];
        if (!path.empty()) d.code(2, "kernel", path);
        path.clear();
        auto u = r.user_frames(e.ustack, e.task.tgid);
        for (size_t i = 0; i < u.size() && i < 6; ++i) path += (i ? " <- " : "") + u[i];
        if (!path.empty()) d.code(2, "user", path);
    }
}

}  // namespace pintrace
