#include "render/format.hpp"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <ctime>
#include <map>
#include <set>
#include <tuple>

#include "pintrace.h"
#include "util/duration.hpp"

namespace pintrace {

// Whole minutes and hours in integers: int(seconds) overflowed past 68
// years ("596523h14m" for any larger value). A value past INT64_MAX ns (292
// years) is a negative difference wrapped, or a corrupt file: said so.
std::string format_duration(uint64_t ns)
{
    if (ns > kMaxDurationNs) return "(out of range)";
    char buf[64];
    uint64_t s = ns / 1000000000ull;
    if (ns < 1000000)
        std::snprintf(buf, sizeof buf, "%.0f us", ns / 1e3);
    else if (ns < 1000000000)
        std::snprintf(buf, sizeof buf, "%.0f ms", ns / 1e6);
    else if (s < 120)
        std::snprintf(buf, sizeof buf, "%.1f s", ns / 1e9);
    else if (s < 7200)
        std::snprintf(buf, sizeof buf, "%" PRIu64 "m%02" PRIu64 "s", s / 60, s % 60);
    else
        std::snprintf(buf, sizeof buf, "%" PRIu64 "h%02" PRIu64 "m", s / 3600, (s / 60) % 60);
    return buf;
}

// In 128 bits: the trace's clocks are whatever its header says, and a
// monotonic time before the recording start is a negative offset. Outside
// years 1970..9999 there is no wall time to print ("", as when the trace
// has no clocks): "11:19:24.-85" came from a negative remainder.
std::string format_wall_time(const Report& r, uint64_t monotonic_ns)
{
    auto mono = r.info.get_u64("start_monotonic_ns");
    auto real = r.info.get_u64("start_realtime_ns");
    if (!mono || !real) return "";
    __int128 wall = static_cast<__int128>(*real) + (static_cast<__int128>(monotonic_ns) - *mono);
    constexpr __int128 kEndOf9999 = static_cast<__int128>(253402300800ll) * 1000000000;
    if (wall < 0 || wall >= kEndOf9999) return "";
    time_t secs = static_cast<time_t>(wall / 1000000000);
    int ms = static_cast<int>((wall / 1000000) % 1000);
    tm t{};
    gmtime_r(&secs, &t);
    char buf[64];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02d %02d:%02d:%02d.%03d UTC", t.tm_year + 1900, t.tm_mon + 1, t.tm_mday,
                  t.tm_hour, t.tm_min, t.tm_sec, ms);
    return buf;
}

std::string errno_name(int64_t ret)
{
    switch (-ret) {
    case 12: return "ENOMEM";
    case 11: return "EAGAIN";
    case 16: return "EBUSY";
    case 4: return "EINTR";
    case 28: return "ENOSPC";
    default: return "error " + std::to_string(ret);
    }
}

std::string_view failure_kind_name(Failure::Kind kind)
{
    switch (kind) {
    case Failure::Kind::Migration: return "migration";
    case Failure::Kind::Isolation: return "isolation";
    case Failure::Kind::Cma: return "cma";
    case Failure::Kind::ContigAlloc: return "contig_alloc";
    }
    return "unknown";
}

std::string format_pfn(uint64_t pfn)
{
    char buf[32];
    std::snprintf(buf, sizeof buf, "0x%" PRIx64, pfn);
    return buf;
}

std::string pid_comm(uint32_t pid, std::string_view comm)
{
    return "pid " + std::to_string(pid) + " (" + std::string(comm) + ")";
}

namespace {

// An origin's next step with "{who}" replaced by the holder.
std::string with_holder(std::string_view step, const std::string& who)
{
    std::string out(step);
    if (size_t at = out.find("{who}"); at != std::string::npos) out.replace(at, 5, who);
    return out;
}

}  // namespace

std::string next_step(Cause cause, const TaskRef& task, Origin origin, bool exited)
{
    std::string who = pid_comm(task.tgid, comm_view(task.comm));
    // The owner is gone but its pins are not: the kernel still holds them on
    // its behalf (io_uring ring teardown runs later, in a kworker) or leaked them.
    if (exited && (cause == Cause::LongtermPin || cause == Cause::ShortPin || cause == Cause::Reference))
        return who + " has exited but its " +
               std::string(origin != Origin::Unknown ? origin_description(origin) : cause_heading(cause)) +
               " are still held: a teardown still pending (io_uring rings are freed by a kworker, possibly after "
               "in-flight I/O ends) or a leak in the driver that took them; retry later, and if the pages stay "
               "held, check dmesg and the driver";
    std::string_view step = origin_info(origin).next_step;
    return with_holder(step.empty() ? cause_info(cause).next_step : step, who);
}

std::string_view confidence_word(const InferredGroup& g) { return g.likely ? "likely" : "possible"; }

std::string inferred_who(const InferredGroup& g)
{
    return pid_comm(g.pid, g.comm) + (g.exe.empty() ? "" : " " + g.exe);
}

std::string inferred_next_step(const InferredGroup& g)
{
    TaskRef task = task_ref(g.pid, g.comm);
    if (g.origin != Origin::Unknown) return next_step(Cause::LongtermPin, task, g.origin);
    if (g.likely) return next_step(Cause::LongtermPin, task);
    return pid_comm(g.pid, g.comm) +
           " maps these pages, which is not proof it pinned them: look at what it does with devices, io_uring or "
           "RDMA (its /proc/PID/fd), and compare with `pintrace snapshot` of the pages now";
}

namespace {

// What in a page's flags keeps it from moving (page_states()), named by the
// recording kernel's bit layout (the trace's page-flags section).
struct UnmovableState {
    std::string why;  // "locked (PG_locked), under writeback (PG_writeback)"; "" when the flags say nothing
    bool kernel_memory = false;
};

UnmovableState unmovable_because(const Report& r, const StuckPage& p)
{
    UnmovableState state;
    for (const auto& name : r.info.page_flag_names(p.page_flags)) {
        const PageStateInfo* s = page_state_of(name);
        if (!s) continue;
        state.why += (state.why.empty() ? "" : ", ") + std::string(s->what) + " (" + name + ")";
        state.kernel_memory = state.kernel_memory || s->kernel_memory;
    }
    return state;
}

// A state that survived an earlier failure is no transient one: its
// cause's persistent step replaces advice to retry.
std::string unmovable_step(const UnmovableState& state, Cause cause, const TaskRef& mover, bool persistent)
{
    if (std::string_view step = cause_info(cause).persistent_step; persistent && !step.empty())
        return std::string(step);
    if (cause != Cause::NoHolderSeen || state.why.empty()) return next_step(cause, mover);
    if (state.kernel_memory) return std::string(cause_info(Cause::KernelMemory).next_step);
    return "the page was " + state.why + " when the migration tried it, usually I/O in flight: transient; retry";
}

// "0-3, 7": sorted numbers as runs.
std::string number_runs(std::vector<uint64_t> v)
{
    std::sort(v.begin(), v.end());
    v.erase(std::unique(v.begin(), v.end()), v.end());
    std::string out;
    for (size_t i = 0; i < v.size();) {
        size_t j = i;
        while (j + 1 < v.size() && v[j + 1] == v[j] + 1) ++j;
        out += (out.empty() ? "" : ", ") + std::to_string(v[i]) + (j > i ? "-" + std::to_string(v[j]) : "");
        i = j + 1;
    }
    return out;
}

// Pages group by what they are: a file's pages together (their offsets
// listed), any other identity by its words.
std::string identity_key(const StuckPage& p)
{
    if (!p.identity) return "";
    if (p.identity->file)
        return "file " + std::to_string(p.identity->file->dev) + ":" + std::to_string(p.identity->file->ino);
    return page_what(*p.identity);
}

}  // namespace

std::string page_what(const PageIdentity& id)
{
    if (id.file) {
        const auto& f = id.file;
        std::string out = "page cache of " + (f->fs.empty() ? std::string("a file") : f->fs) + " " +
                          std::to_string(f->major()) + ":" + std::to_string(f->minor()) + " inode " +
                          std::to_string(f->ino);
        return f->path.empty() ? out : out + " " + f->path;
    }
    if (const PageTypeInfo* t = page_type_info(id.type)) {
        std::string out(t->what);
        return id.slab_cache.empty() ? out : out + " (cache " + id.slab_cache + ")";
    }
    return std::string(page_kind_what(id.kind));
}

std::string page_what_at(const PageIdentity& id)
{
    std::string what = page_what(id);
    return id.file ? what + ", page " + std::to_string(id.file->index) + " of the file" : what;
}

std::string pipe_name(uint64_t ino) { return "pipe:[" + std::to_string(ino) + "]"; }

std::string pipe_openers_text(const Report& r, uint64_t ino, uint64_t at_ns)
{
    const PipeOpenersEvent* look = r.pipe_look(ino, at_ns);
    if (!look) return "";
    std::string when = look->ts_ns <= at_ns ? "seen " + format_duration(at_ns - look->ts_ns) + " before the failure"
                                            : "seen " + format_duration(look->ts_ns - at_ns) + " after the failure";
    if (look->openers.empty())
        return "in no process's /proc/PID/fd (closed, or passed on where /proc does not show it), " + when;
    std::string s = "open in ";
    for (size_t i = 0; i < look->openers.size();) {
        const PipeOpener& o = look->openers[i];
        std::string fds;
        for (; i < look->openers.size() && look->openers[i].pid == o.pid; ++i)
            fds += (fds.empty() ? "" : ", ") + std::to_string(look->openers[i].fd);
        s += (s.size() > 8 ? "; " : "") + pid_comm(o.pid, o.comm) +
             (fds.find(',') == std::string::npos ? " fd " : " fds ") + fds;
    }
    return s + ", " + when;
}

std::string files_of(std::span<const StuckPage> pages, std::span<const uint64_t> pfns)
{
    std::vector<std::pair<std::string, std::vector<uint64_t>>> files;  // what, offsets: in order of first page
    for (const auto& p : pages) {
        if (!p.identity || !p.identity->file) continue;
        if (std::find(pfns.begin(), pfns.end(), p.pfn) == pfns.end()) continue;
        std::string what = page_what(*p.identity);
        auto it = std::find_if(files.begin(), files.end(), [&](const auto& f) { return f.first == what; });
        if (it == files.end()) it = files.insert(files.end(), {std::move(what), {}});
        it->second.push_back(p.identity->file->index);
    }
    std::string out;
    for (auto& [what, offsets] : files) {
        bool one = offsets.size() == 1;
        out += (out.empty() ? "" : "; ") + what + (one ? " (file page " : " (file pages ") +
               number_runs(std::move(offsets)) + ")";
    }
    return out;
}

std::vector<UnexplainedGroup> group_unexplained(const Report& r, const Failure& f)
{
    std::vector<UnexplainedGroup> out;
    std::vector<std::string> keys;  // identity_key of each group
    for (const StuckPage* p : unexplained_pages(f)) {
        UnmovableState state = unmovable_because(r, *p);
        std::string key = identity_key(*p);
        bool persistent = p->earlier_failures > 0;
        size_t i = 0;
        while (i < out.size() && !(out[i].cause == p->cause && out[i].why == state.why && keys[i] == key &&
                                   out[i].persistent == persistent))
            ++i;
        if (i == out.size()) {
            out.push_back({p->cause,
                           state.why,
                           p->identity ? page_what(*p->identity) : "",
                           persistent,
                           {},
                           unmovable_step(state, p->cause, f.head.task, persistent)});
            keys.push_back(std::move(key));
        }
        out[i].pages.push_back(p);
    }
    for (auto& g : out) {
        std::vector<uint64_t> offsets;
        for (const StuckPage* p : g.pages)
            if (p->identity && p->identity->file) offsets.push_back(p->identity->file->index);
        if (offsets.empty()) continue;
        bool one = std::all_of(offsets.begin(), offsets.end(), [&](uint64_t o) { return o == offsets[0]; });
        g.what += (one ? " (file page " : " (file pages ") + number_runs(std::move(offsets)) + ")";
    }
    return out;
}

std::vector<std::string> next_steps(const Report& r, const Failure& f)
{
    std::vector<std::string> out;
    auto add = [&](const std::vector<CulpritGroup>& groups) {
        for (const auto& g : groups) {
            auto step = next_step(g.cause, g.task, g.origin, g.exited_ns != 0);
            if (std::find(out.begin(), out.end(), step) == out.end()) out.push_back(std::move(step));
        }
    };
    add(group_culprits(r, f.pages, f.head.ts_ns));
    add(group_culprits(r, f.held_in_range, f.head.ts_ns));
    for (const auto& pages : {std::span<const StuckPage>(f.pages), std::span<const StuckPage>(f.held_in_range)})
        for (const auto& g : group_inferred(r, pages)) {
            auto step = "(inferred, " + std::string(confidence_word(g)) + ") " + inferred_next_step(g);
            if (std::find(out.begin(), out.end(), step) == out.end()) out.push_back(std::move(step));
        }
    return out;
}

namespace {

std::string cma_sentence(const Report& r, const Failure& f)
{
    std::string s = "CMA allocation of " + std::to_string(f.requested_pages) + " page(s)";
    if (!f.cma_area.empty()) s += " from area \"" + f.cma_area + "\"";
    s += " by " + pid_comm(f.head.task.tgid, comm_view(f.head.task.comm));
    if (!f.outcome_seen)
        s += " was still retrying when recording stopped";
    else
        s += " failed" + (f.cma_error ? " (" + errno_name(*f.cma_error) + ")" : std::string());
    if (f.busy_retries)
        s += " after " + std::to_string(f.busy_retries) + " busy retr" + (f.busy_retries == 1 ? "y" : "ies");
    if (f.ranges.empty()) return s + "; no range was reported busy (the area may be full or unusable)";
    s += ": " + std::to_string(f.ranges.size()) + " range(s) busy";
    auto groups = group_culprits(r, f);
    if (!groups.empty())
        s += ", first busy pfn " + format_pfn(f.pages.front().pfn) + " held by " +
             pid_comm(groups.front().task.tgid, comm_view(groups.front().task.comm)) + " as " +
             flag_string(groups.front().flags);
    if (f.held_in_range_total)
        s += "; " + std::to_string(f.held_in_range_total) + " page(s) held in those ranges";
    else if (groups.empty())
        s += "; no holder seen in them";
    return s;
}

}  // namespace

namespace {

// "; the snapshot at the start infers pid 107 (fio) holds 8 (likely)"
std::string inferred_clause(const Report& r, std::span<const StuckPage> pages)
{
    auto groups = group_inferred(r, pages);
    if (groups.empty()) return "";
    const auto& g = groups.front();
    std::string s = "; the snapshot at the start infers " + pid_comm(g.pid, g.comm) + " holds " +
                    std::to_string(g.pfns.size()) + " (" + std::string(confidence_word(g)) +
                    (g.origin != Origin::Unknown ? ", " + std::string(origin_description(g.origin)) : "") + ")";
    if (groups.size() > 1) s += ", and " + std::to_string(groups.size() - 1) + " more candidate(s)";
    return s;
}

}  // namespace

std::string failure_sentence(const Report& r, const Failure& f)
{
    if (f.kind == Failure::Kind::Cma) return cma_sentence(r, f);
    if (f.kind == Failure::Kind::ContigAlloc) {
        std::string s = "contiguous allocation of " + std::to_string(f.requested_pages) + " pages (" +
                        (f.requested_pages >= 256 ? std::to_string(f.requested_pages / 256) + " MiB" :
                                                    std::to_string(f.requested_pages * 4) + " KiB") +
                        ")" + (f.nid >= 0 ? " on node " + std::to_string(f.nid) : std::string()) + " by " +
                        pid_comm(f.head.task.tgid, comm_view(f.head.task.comm)) + " failed";
        if (!f.start_seen) return s + "; it began before the trace, so which ranges it tried is unknown";
        if (f.ranges_tried)
            return s + " after trying " + std::to_string(f.ranges_tried) +
                   " range(s): their isolation failures are listed on their own";
        return s +
               " without trying a range: the kernel skipped every candidate range for a page it would not "
               "try to move (in use, on 5.x; unmovable or not yet on an LRU list, on 7.x), and does not say which";
    }
    if (f.kind == Failure::Kind::Isolation && f.refused_at_isolation) {
        std::string s = "pfns " + format_pfn(f.range_start) + "-" + format_pfn(f.range_end) +
                        " refused at isolation (" + errno_name(f.ret) +
                        ", contiguous allocation or memory offline, "
                        "by pid " +
                        std::to_string(f.head.task.tgid) + " (" + std::string(comm_view(f.head.task.comm)) +
                        ")): the range holds a page the kernel will not move";
        if (f.pages.empty()) return s + "; the kernel does not say which page on this kernel";
        s += ", pfn " + format_pfn(f.pages.front().pfn);
        auto groups = group_culprits(r, f);
        if (!groups.empty())
            s += ", held by pid " + std::to_string(groups.front().task.tgid) + " (" +
                 std::string(comm_view(groups.front().task.comm)) + ") as " + flag_string(groups.front().flags);
        return s;
    }
    if (f.kind == Failure::Kind::Isolation) {
        std::string s = "pfns " + format_pfn(f.range_start) + "-" + format_pfn(f.range_end) +
                        " could not be isolated (contiguous allocation or memory offline, by " +
                        pid_comm(f.head.task.tgid, comm_view(f.head.task.comm)) + "): first busy pfn " +
                        format_pfn(f.pages.front().pfn);
        auto groups = group_culprits(r, f);
        if (groups.empty())
            s += ", no holder seen in the trace" + inferred_clause(r, f.pages);
        else
            s += ", held by pid " + std::to_string(groups.front().task.tgid) + " (" +
                 std::string(comm_view(groups.front().task.comm)) + ") as " + flag_string(groups.front().flags);
        if (f.held_in_range_total)
            s += "; " + std::to_string(f.held_in_range_total) + " more page(s) of the range are held";
        return s;
    }
    std::string s = "migration (" + f.reason + ") by pid " + std::to_string(f.head.task.tgid) + " (" +
                    std::string(comm_view(f.head.task.comm)) + ")";
    if (f.outcome)
        s += ": " + std::to_string(f.outcome->failed) + " failed, " + std::to_string(f.outcome->succeeded) + " moved";
    if (!f.pfns_observed) return s + "; which pages failed is not observable on this kernel";
    if (f.aborted()) s += "; gave up with " + errno_name(f.ret) + ", so some listed pages were never tried";
    auto groups = group_culprits(r, f);
    if (groups.empty())
        return s + "; " + std::to_string(f.pages.size()) + " stuck pages, no holder seen in the trace" +
               inferred_clause(r, f.pages);
    const auto& g = groups.front();
    s += "; " + std::to_string(g.pfns.size()) + " of " + std::to_string(f.pages.size()) + " stuck pages held by " +
         pid_comm(g.task.tgid, comm_view(g.task.comm)) + " as " + flag_string(g.flags) + " (" +
         (g.origin != Origin::Unknown ? std::string(origin_description(g.origin)) : std::string(cause_name(g.cause))) +
         ")";
    if (groups.size() > 1) s += ", and " + std::to_string(groups.size() - 1) + " more holder(s)";
    return s;
}

namespace {

// The few words of next_step() that fit in the summary line.
std::string short_action(Cause cause, Origin origin, bool exited)
{
    if (exited) return "its process has exited but the pins remain: retry later, then check the driver";
    if (std::string_view action = origin_info(origin).short_action; !action.empty()) return std::string(action);
    std::string_view action = cause_info(cause).short_action;
    return action.empty() ? "see below" : std::string(action);
}

// The snapshot's top candidate for the stuck pages the trace does not
// explain, worded as an inference.
std::string inferred_summary(const Report& r)
{
    std::map<std::pair<uint32_t, bool>, InferredGroup> by_pid;  // (pid, likely)
    for (const auto& f : r.failures)
        for (const auto& pages : {std::span<const StuckPage>(f.pages), std::span<const StuckPage>(f.held_in_range)})
            for (auto& g : group_inferred(r, pages)) {
                auto [it, fresh] = by_pid.try_emplace({g.pid, g.likely}, g);
                if (!fresh) it->second.pfns.insert(it->second.pfns.end(), g.pfns.begin(), g.pfns.end());
            }
    if (by_pid.empty()) return "";
    auto top = std::max_element(by_pid.begin(), by_pid.end(), [](const auto& a, const auto& b) {
        if (a.second.likely != b.second.likely) return b.second.likely;
        return a.second.pfns.size() < b.second.pfns.size();
    });
    const InferredGroup& g = top->second;
    std::string as = g.origin != Origin::Unknown ? std::string(origin_description(g.origin)) : "pins";
    std::string action = g.likely ? short_action(Cause::LongtermPin, g.origin, false) :
                                    "it only maps them, which is not proof: look at its devices, io_uring rings and "
                                    "RDMA (its /proc/PID/fd)";
    std::string s = "; pinned before the trace: the snapshot at its start makes pid " + std::to_string(g.pid) + " (" +
                    g.comm + ") the " + std::string(confidence_word(g)) + " holder of " +
                    std::to_string(g.pfns.size()) + " page(s) (" + (g.likely ? as : "it maps them") +
                    "; inferred, not traced): " + action;
    if (by_pid.size() > 1) s += " (and " + std::to_string(by_pid.size() - 1) + " other candidate(s))";
    return s;
}

}  // namespace

std::string report_summary(const Report& r)
{
    if (r.failures.empty()) {
        std::string s = "No migration failed during the trace";
        if (!r.info.hook_attached(PT_HOOK_MIGRATE_TP)) s = "Migrations were not observable (tracepoint missing)";
        return s + ".";
    }
    size_t pages = 0;
    struct ByPid {
        size_t pages = 0;
        CulpritGroup largest;  // its group on the most stuck pages: what it holds them as
        uint64_t oldest_ns = 0;
    };
    std::map<uint32_t, ByPid> by_pid;
    for (const auto& f : r.failures) {
        pages += f.pages.size();
        for (const auto& g : group_culprits(r, f)) {
            auto& e = by_pid[g.task.tgid];
            if (g.pfns.size() > e.largest.pfns.size()) e.largest = g;
            e.oldest_ns = e.pages ? std::min(e.oldest_ns, g.oldest_ns) : g.oldest_ns;
            e.pages += g.pfns.size();
        }
    }
    auto isolations = static_cast<size_t>(std::count_if(
        r.failures.begin(), r.failures.end(), [](const Failure& f) { return f.kind == Failure::Kind::Isolation; }));
    auto refused = static_cast<size_t>(std::count_if(r.failures.begin(), r.failures.end(), [](const Failure& f) {
        return f.kind == Failure::Kind::Isolation && f.refused_at_isolation;
    }));
    auto cma = static_cast<size_t>(std::count_if(r.failures.begin(), r.failures.end(),
                                                 [](const Failure& f) { return f.kind == Failure::Kind::Cma; }));
    auto contig = static_cast<size_t>(std::count_if(
        r.failures.begin(), r.failures.end(), [](const Failure& f) { return f.kind == Failure::Kind::ContigAlloc; }));
    std::string s;
    if (r.failures.size() > isolations + cma + contig)
        s = std::to_string(r.failures.size() - isolations - cma - contig) + " migration(s) failed";
    if (contig) s += (s.empty() ? "" : ", ") + std::to_string(contig) + " contiguous allocation(s) failed";
    if (isolations > refused)
        s += (s.empty() ? "" : ", ") + std::to_string(isolations - refused) + " range(s) could not be isolated";
    if (refused)
        s += (s.empty() ? "" : ", ") + std::to_string(refused) + " range(s) refused at isolation (unmovable pages)";
    if (cma) s += (s.empty() ? "" : ", ") + std::to_string(cma) + " CMA allocation(s) failed";
    if (pages) s += ", " + std::to_string(pages) + " page(s) stuck";
    if (by_pid.empty()) return s + "; no holder was seen in the trace" + inferred_summary(r) + ".";
    // Most pages, then held longest: the failure lines' first holder (group_culprits).
    auto top = std::min_element(by_pid.begin(), by_pid.end(), [](const auto& a, const auto& b) {
        if (a.second.pages != b.second.pages) return a.second.pages > b.second.pages;
        return a.second.oldest_ns < b.second.oldest_ns;
    });
    const CulpritGroup& g = top->second.largest;
    std::string as =
        g.origin != Origin::Unknown ? std::string(origin_description(g.origin)) : std::string(cause_heading(g.cause));
    s += "; " + pid_comm(top->first, comm_view(g.task.comm)) + " holds " + std::to_string(top->second.pages) +
         " of them as " + as;
    std::string wall = format_wall_time(r, top->second.oldest_ns);
    if (wall.size() > 11) s += " since " + wall.substr(11, 8);
    s += ": " + short_action(g.cause, g.origin, g.exited_ns != 0);
    if (by_pid.size() > 1) s += " (and " + std::to_string(by_pid.size() - 1) + " other process(es))";
    return s + inferred_summary(r) + ".";
}

}  // namespace pintrace
