// Wording and numbers shared by every view of a report.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "explain/holder_groups.hpp"
#include "explain/origin.hpp"
#include "explain/pinners.hpp"
#include "explain/report.hpp"
#include "util/exit_codes.hpp"

namespace pintrace {

std::string format_duration(uint64_t ns);  // "412 ms", "3.2 s", "2h14m"; past INT64_MAX "(out of range)"
// "2026-11-22 02:30:01.123 UTC"; "" without the trace's clocks or outside years 1970..9999.
std::string format_wall_time(const Report& r, uint64_t monotonic_ns);
std::string format_pfn(uint64_t pfn);  // "0x12345"
std::string pid_comm(uint32_t pid, std::string_view comm);  // "pid 7 (fio)": how a process is named in prose
std::string_view failure_kind_name(Failure::Kind kind);  // "migration", "isolation", "cma"
std::string errno_name(int64_t negative_errno);  // -12 -> "ENOMEM"

// One holder group's advice: what to do about it, from the cause and,
// where the kernel stack tells it, the origin.
std::string next_step(Cause cause, const TaskRef& task, Origin origin = Origin::Unknown, bool exited = false);
// One sentence per failure, and the headline of the whole report.
std::string failure_sentence(const Report& r, const Failure& f);
std::string report_summary(const Report& r);

std::string_view confidence_word(const InferredGroup& g);  // "likely", "possible"
// "pid 107 (fio) /usr/bin/fio": who, as the snapshot saw it.
std::string inferred_who(const InferredGroup& g);
std::string inferred_next_step(const InferredGroup& g);

// Stuck pages no holder explains, grouped by cause and by what their flags
// say keeps them (locked, under writeback, reserved, slab), each group with
// its next step.
struct UnexplainedGroup {
    Cause cause = Cause::NoHolderSeen;
    std::string why;  // "locked (PG_locked)", ... or "" when the flags say nothing
    // What the pages were at the failure: "page cache of tmpfs 0:26 inode 14
    // /data/x (file pages 0-3)"; "" where the trace does not say.
    std::string what;
    bool persistent = false;  // a page of it was stuck with no holder in an earlier failure too
    std::vector<const StuckPage*> pages;
    std::string next;
};
std::vector<UnexplainedGroup> group_unexplained(const Report& r, const Failure& f);
// What a page was, in words, without its offset: "page cache of tmpfs 0:26
// inode 14 /data/x", "a slab page (cache kmalloc-64)"; "" when unread.
std::string page_what(const PageIdentity& id);
// The same with a file page's offset: "..., page 3 of the file".
std::string page_what_at(const PageIdentity& id);
// The files whose page cache the given pfns of pages are, with the pages'
// offsets: "page cache of tmpfs 0:28 inode 2 /data (file pages 0-3)";
// "" when none of them is known to be a file's.
std::string files_of(std::span<const StuckPage> pages, std::span<const uint64_t> pfns);
// A pipe as /proc/PID/fd shows it: "pipe:[12345]".
std::string pipe_name(uint64_t ino);
// Who had the pipe open at the recorder's look nearest the failure at
// at_ns: "open in pid 7 (fio) fds 3, 4, seen 120 ms after the failure";
// "" when the trace has no look at it.
std::string pipe_openers_text(const Report& r, uint64_t ino, uint64_t at_ns);
// What to do about a failure: one step per holder group, the stuck pages'
// first, then those of the other held pages of an isolation range.
std::vector<std::string> next_steps(const Report& r, const Failure& f);

}  // namespace pintrace
