// Views over the ledger, in the spirit of page_owner_sort: who holds pages
// (grouped, filtered, sorted), and which failures a filter selects. Every
// renderer (report's text, JSON, markdown; top) builds on these, so a
// number means the same thing everywhere.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "explain/origin.hpp"
#include "explain/report.hpp"
#include "util/result.hpp"

namespace pintrace {

// Selects owners: by process, command name, or cgroup (a path prefix such
// as "/machine.slice", or the numeric cgroup id).
struct HolderFilter {
    std::optional<uint32_t> pid;
    std::string comm;
    std::string cgroup;

    bool empty() const { return !pid && comm.empty() && cgroup.empty(); }
    bool matches(const Report& r, OwnerId id) const;
};

enum class GroupBy { Pid, Comm, Cgroup, Stack };
enum class SortKey { Pages, Longterm, Oldest, Pins, Rate, Pid, Comm, Cgroup };

struct PinnerRow;

// A row's value under one sort key: its number, or for a text key its text.
struct SortValue {
    uint64_t number = 0;
    std::string_view text;
};

// Everything about one sort key, one row each (pinners.cpp's table): its
// word in --sort, top's menu and the JSON, what it means, and the value
// rows are ordered by. A new key is an enum value and a row.
struct SortKeyInfo {
    SortKey key;
    std::string_view name;  // "pages"
    std::string_view description;  // "pages held"
    bool descending;  // the largest first
    bool text;  // compares the value's text, not its number
    SortValue (*value)(const PinnerRow& row);
};

// In the order --help and top's sort menu list them.
std::span<const SortKeyInfo> sort_keys();
const SortKeyInfo& sort_key_info(SortKey k);
std::string sort_key_names();  // "pages, longterm, ..., comm, cgroup": every row, in order

Result<GroupBy> parse_group_by(std::string_view text);  // "pid", "comm", "cgroup", "stack"
Result<std::vector<SortKey>> parse_sort_keys(std::string_view text);  // "longterm,oldest"
std::string_view group_by_name(GroupBy g);
std::string_view sort_key_name(SortKey k);

struct PinnerQuery {
    HolderFilter filter;
    GroupBy group_by = GroupBy::Pid;
    std::vector<SortKey> sort{SortKey::Pages, SortKey::Longterm};
};

// One group of owners: what it held when the replay stopped, and what it
// did during the trace.
struct PinnerRow {
    std::string key;  // the group: a pid, a comm, a cgroup path, or the stack's innermost caller
    TaskRef task;  // its largest holder's task
    std::string exe;  // its largest holder's executable, "" if not recorded
    std::string cgroup;  // cgroup path, or "cgroup N" when only the id is known
    size_t processes = 0;  // distinct process incarnations in the group
    uint64_t pages = 0;  // pages held (a page two owners of the group hold counts twice)
    uint64_t longterm_pages = 0;
    uint64_t pins = 0;  // pins and references held
    uint64_t oldest_ns = 0;  // the oldest of them (0: holds nothing)
    uint64_t pins_taken = 0;  // during the trace
    double pins_per_s = 0;  // pins_taken over the replayed time
    uint64_t pages_over_threshold = 0;
    uint32_t flags = 0;  // union of its owners' FOLL_* bits
    Origin origin = Origin::Unknown;  // of its largest holder
    bool all_exited = false;  // every process of the group had exited (with pages > 0: the pins outlive them)
    // What it holds now is FOLL_GET references only: their release (an
    // inline put_page) is invisible, and only the page's free shows them
    // gone. "Held" then means "not seen freed", not "seen held".
    bool release_unseen = false;
    bool uncertain = false;  // events were lost while it held pages
    int32_t kstack = -1;  // its largest holder's stacks
    int32_t ustack = -1;
    OwnerId top_owner = 0;
    std::vector<OwnerId> owners;  // its histograms: released_durations / held_ages over these
};

std::vector<PinnerRow> pinner_rows(const Report& r, const PinnerQuery& q);

// Failures a report selects: by reason (the kernel's migrate reason, or
// "isolation", "cma"), by time, and by holder (a failure one of whose
// holders matches).
struct FailureFilter {
    HolderFilter holders;
    std::string reason;
    std::optional<uint64_t> since_ns, until_ns;

    bool matches(const Report& r, const Failure& f) const;
};

// How long pins were held: those released during the trace, and the ages
// of those still held, over the owners a filter selects or a row has.
DurationHistogram released_durations(const Report& r, const HolderFilter& filter);
DurationHistogram held_ages(const Report& r, const HolderFilter& filter);
DurationHistogram released_durations(const Report& r, std::span<const OwnerId> owners);
DurationHistogram held_ages(const Report& r, std::span<const OwnerId> owners);

}  // namespace pintrace
