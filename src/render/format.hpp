// Wording and numbers shared by every view of a report.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "explain/origin.hpp"
#include "explain/pinners.hpp"
#include "explain/report.hpp"
#include "util/exit_codes.hpp"

namespace pintrace {

std::string format_duration(uint64_t ns);       // "412 ms", "3.2 s", "2h14m"; past INT64_MAX "(out of range)"
// "2026-11-22 02:30:01.123 UTC"; "" without the trace's clocks or outside years 1970..9999.
std::string format_wall_time(const Report& r, uint64_t monotonic_ns);
std::string format_pfn(uint64_t pfn);           // "0x12345"
std::string pid_comm(uint32_t pid, std::string_view comm);  // "pid 7 (fio)": how a process is named in prose
std::string_view failure_kind_name(Failure::Kind kind);  // "migration", "isolation", "cma"
std::string errno_name(int64_t negative_errno);  // -12 -> "ENOMEM"

// One holder group's advice: what to do about it, from the cause and,
// where the kernel stack tells it, the origin.
std::string next_step(Cause cause, const TaskRef& task, Origin origin = Origin::Unknown, bool exited = false);
// One sentence per failure, and the headline of the whole report.
std::string failure_sentence(const Report& r, const Failure& f);
std::string report_summary(const Report& r);

struct CulpritGroup {
    OwnerId owner = 0;
    TaskRef task;
    uint32_t flags = 0;
    Cause cause = Cause::NoHolderSeen;
    Origin origin = Origin::Unknown;
    int32_t kstack = -1;
    int32_t ustack = -1;
    bool stack_sampled = false;
    std::vector<uint64_t> pfns;
    uint64_t oldest_ns = 0;
    bool uncertain = false;  // events were lost while it held them: it may have released some
    uint64_t exited_ns = 0;  // its process had exited by the failure: the pins outlived it
};
// Holders of pages grouped by owner (process, flags, code path), the
// longest-lasting cause first, then the most pages: a failure's stuck
// pages, or the pages held elsewhere in an isolation range. at_ns is the
// failure's time; filter keeps only matching owners.
std::vector<CulpritGroup> group_culprits(const Report& r, std::span<const StuckPage> pages, uint64_t at_ns,
                                         const HolderFilter* filter = nullptr);
inline std::vector<CulpritGroup> group_culprits(const Report& r, const Failure& f)
{
    return group_culprits(r, f.pages, f.head.ts_ns);
}
Origin holder_origin(const Report& r, const Holder& h);

// Stuck pages no traced holder explains whose holder the snapshot at the
// start of the recording inferred (record --snapshot), by process: the
// likely first, then the most pages. Never certain: the pin was taken
// before the trace, and the evidence is what user space showed then.
struct InferredGroup {
    uint32_t pid = 0;
    std::string comm;
    std::string exe;
    bool likely = false;            // some evidence is a registered long-term pin of these pages
    Origin origin = Origin::Unknown;  // what the evidence says took the pin
    Cause cause = Cause::PinnedUnknown;
    std::vector<uint32_t> evidence;  // indices into Report::snapshot->holders
    std::vector<uint64_t> pfns;
};
std::vector<InferredGroup> group_inferred(const Report& r, std::span<const StuckPage> pages);
// Pages the snapshot found held for which it found no candidate either.
std::vector<uint64_t> held_without_candidate(std::span<const StuckPage> pages);
std::string_view confidence_word(const InferredGroup& g);  // "likely", "possible"
// "pid 107 (fio) /usr/bin/fio": who, as the snapshot saw it.
std::string inferred_who(const InferredGroup& g);
std::string inferred_next_step(const InferredGroup& g);

// Pages neither a traced holder nor the snapshot explains.
std::vector<const StuckPage*> unexplained_pages(const Failure& f);

// Stuck pages no holder explains, grouped by cause and by what their flags
// say keeps them (locked, under writeback, reserved, slab), each group with
// its next step.
struct UnexplainedGroup {
    Cause cause = Cause::NoHolderSeen;
    std::string why;  // "locked (PG_locked)", ... or "" when the flags say nothing
    std::vector<const StuckPage*> pages;
    std::string next;
};
std::vector<UnexplainedGroup> group_unexplained(const Report& r, const Failure& f);
// What to do about a failure: one step per holder group, the stuck pages'
// first, then those of the other held pages of an isolation range.
std::vector<std::string> next_steps(const Report& r, const Failure& f);

// Exit codes of `report`: rows of the table in util/exit_codes.hpp.
// Over the failures filter selects (all of them without one).
int report_exit_code(const Report& r, const FailureFilter* filter = nullptr);

}  // namespace pintrace
