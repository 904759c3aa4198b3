#include "render/format.hpp"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <ctime>
#include <map>
#include <set>
#include <tuple>

#include "pintrace.h"

namespace pintrace {

std::string format_duration(uint64_t ns)
{
    char buf[64];
    double s = ns / 1e9;
    if (ns < 1000000) std::snprintf(buf, sizeof buf, "%.0f us", ns / 1e3);
    else if (ns < 1000000000) std::snprintf(buf, sizeof buf, "%.0f ms", ns / 1e6);
    else if (s < 120) std::snprintf(buf, sizeof buf, "%.1f s", s);
    else if (s < 7200) std::snprintf(buf, sizeof buf, "%dm%02ds", int(s) / 60, int(s) % 60);
    else std::snprintf(buf, sizeof buf, "%dh%02dm", int(s) / 3600, (int(s) / 60) % 60);
    return buf;
}

std::string format_wall_time(const Report& r, uint64_t monotonic_ns)
{
    auto mono = r.info.get_u64("start_monotonic_ns");
    auto real = r.info.get_u64("start_realtime_ns");
    if (!mono || !real) return "";
    int64_t wall = static_cast<int64_t>(*real) + (static_cast<int64_t>(monotonic_ns) - static_cast<int64_t>(*mono));
    time_t secs = wall / 1000000000;
    tm t{};
    gmtime_r(&secs, &t);
    char buf[64];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02d %02d:%02d:%02d.%03d UTC", t.tm_year + 1900, t.tm_mon + 1,
                  t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec, int((wall / 1000000) % 1000));
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
    }
    return "unknown";
}

std::string format_pfn(uint64_t pfn)
{
    char buf[32];
    std::snprintf(buf, sizeof buf, "0x%" PRIx64, pfn);
    return buf;
}

std::string next_step(Cause cause, const TaskRef& task, Origin origin)
{
    std::string who = "pid " + std::to_string(task.tgid) + " (" + std::string(comm_view(task.comm)) + ")";
    switch (origin) {
    case Origin::IoUringBuffers:
        return "io_uring fixed buffers stay pinned until unregistered: have " + who +
               " call IORING_UNREGISTER_BUFFERS (or close its ring), or restart it";
    case Origin::DirectIo:
        return "direct I/O in flight holds its buffer until the I/O completes: retry the migration; if it keeps "
               "failing, look for I/O stuck on a slow or hung device in " + who;
    case Origin::Vmsplice:
        return "pages vmspliced into a pipe stay referenced until the pipe is read or closed: find the pipe " + who +
               " fills and nobody drains";
    case Origin::Vfio:
        return "a VFIO DMA mapping pins guest or device memory for as long as it exists: unmap it "
               "(VFIO_IOMMU_UNMAP_DMA), detach the device, or stop " + who;
    case Origin::Rdma:
        return "an RDMA memory region pins its pages until deregistered: have " + who +
               " deregister the MR (ibv_dereg_mr), or restart it";
    case Origin::Exec:
        return "execve holds argument pages only while it runs: transient; retry";
    default:
        break;
    }
    switch (cause) {
    case Cause::LongtermPin:
        return "long-term pins (io_uring fixed buffers, RDMA memory regions, VFIO DMA mappings) stay until released: "
               "have " + who + " unregister them, or restart it";
    case Cause::ShortPin:
        return "short-term pins of in-flight I/O (O_DIRECT, DMA) end with the I/O: retry the operation; if it keeps "
               "failing, look for I/O stuck in " + who;
    case Cause::Reference:
        return "extra page references (FOLL_GET: vmsplice into an unread pipe, KVM, drivers) last until the holder "
               "drops them: check " + who + " for pipes nobody reads, or restart it";
    case Cause::PinnedUnknown:
        return "the page carries a pin taken before the trace began: find the long-term pinner (io_uring, RDMA, "
               "VFIO users) among processes that map it, or record from before the pin";
    case Cause::ExtraRefUnknown:
        return "the page has references nobody in the trace took: often pages still in a per-CPU LRU batch "
               "(transient; retry), or a reference taken before the trace began";
    case Cause::NotAttempted:
        return "the migration gave up before trying this page (no free target memory, or interrupted): nothing "
               "holds it that pintrace saw; retry when memory is available";
    case Cause::NoHolderSeen:
        return "no pin or reference explains it: the page may be unmovable for another reason (locked, under "
               "writeback, or a transient race); retry";
    }
    return "";
}

Origin holder_origin(const Report& r, const Holder& h)
{
    auto frames = r.kernel_frames(h);
    return origin_of(frames);
}

std::vector<CulpritGroup> group_culprits(const Report& r, std::span<const StuckPage> pages)
{
    std::map<std::tuple<uint32_t, uint32_t, int32_t, int32_t>, CulpritGroup> groups;
    for (const auto& page : pages) {
        for (const auto& h : page.holders) {
            auto& g = groups[{h.task.tgid, h.flags, h.kstack, h.ustack}];
            if (g.pfns.empty()) {
                g.task = h.task;
                g.flags = h.flags;
                g.kstack = h.kstack;
                g.ustack = h.ustack;
                g.oldest_ns = h.first_ns;
                g.cause = holder_cause(h);
                g.origin = holder_origin(r, h);
                g.stack_sampled = h.stack_sampled;
            }
            g.oldest_ns = std::min(g.oldest_ns, h.first_ns);
            g.pfns.push_back(page.pfn);
        }
    }
    std::vector<CulpritGroup> out;
    for (auto& [k, g] : groups) out.push_back(std::move(g));
    std::stable_sort(out.begin(), out.end(),
                     [](const CulpritGroup& a, const CulpritGroup& b) { return a.pfns.size() > b.pfns.size(); });
    return out;
}

std::vector<const StuckPage*> unexplained_pages(const Failure& f)
{
    std::vector<const StuckPage*> out;
    for (const auto& p : f.pages)
        if (p.holders.empty()) out.push_back(&p);
    return out;
}

std::vector<std::string> next_steps(const Report& r, const Failure& f)
{
    std::vector<std::string> out;
    auto add = [&](const std::vector<CulpritGroup>& groups) {
        for (const auto& g : groups) {
            auto step = next_step(g.cause, g.task, g.origin);
            if (std::find(out.begin(), out.end(), step) == out.end()) out.push_back(std::move(step));
        }
    };
    add(group_culprits(r, f.pages));
    add(group_culprits(r, f.held_in_range));
    return out;
}

namespace {

std::string cma_sentence(const Report& r, const Failure& f)
{
    std::string s = "CMA allocation of " + std::to_string(f.requested_pages) + " page(s)";
    if (!f.cma_area.empty()) s += " from area \"" + f.cma_area + "\"";
    s += " by pid " + std::to_string(f.head.task.tgid) + " (" + std::string(comm_view(f.head.task.comm)) + ")";
    if (!f.outcome_seen) s += " was still retrying when recording stopped";
    else s += " failed" + (f.cma_error ? " (" + errno_name(*f.cma_error) + ")" : std::string());
    if (f.ranges.empty()) return s + "; no range was reported busy (the area may be full or unusable)";
    s += ": " + std::to_string(f.ranges.size()) + " range(s) busy";
    auto groups = group_culprits(r, f);
    if (!groups.empty())
        s += ", first busy pfn " + format_pfn(f.pages.front().pfn) + " held by pid " +
             std::to_string(groups.front().task.tgid) + " (" + std::string(comm_view(groups.front().task.comm)) +
             ") as " + flag_string(groups.front().flags);
    if (f.held_in_range_total) s += "; " + std::to_string(f.held_in_range_total) + " page(s) held in those ranges";
    else if (groups.empty()) s += "; no holder seen in them";
    return s;
}

}  // namespace

std::string failure_sentence(const Report& r, const Failure& f)
{
    if (f.kind == Failure::Kind::Cma) return cma_sentence(r, f);
    if (f.kind == Failure::Kind::Isolation) {
        std::string s = "pfns " + format_pfn(f.range_start) + "-" + format_pfn(f.range_end) +
                        " could not be isolated (contiguous allocation or memory offline, by pid " +
                        std::to_string(f.head.task.tgid) + " (" + std::string(comm_view(f.head.task.comm)) +
                        ")): first busy pfn " + format_pfn(f.pages.front().pfn);
        auto groups = group_culprits(r, f);
        if (groups.empty()) s += ", no holder seen in the trace";
        else
            s += ", held by pid " + std::to_string(groups.front().task.tgid) + " (" +
                 std::string(comm_view(groups.front().task.comm)) + ") as " + flag_string(groups.front().flags);
        if (f.held_in_range_total)
            s += "; " + std::to_string(f.held_in_range_total) + " more page(s) of the range are held";
        return s;
    }
    std::string s = "migration (" + f.reason + ") by pid " + std::to_string(f.head.task.tgid) + " (" +
                    std::string(comm_view(f.head.task.comm)) + ")";
    if (f.outcome) s += ": " + std::to_string(f.outcome->failed) + " failed, " + std::to_string(f.outcome->succeeded) +
                        " moved";
    if (!f.pfns_observed) return s + "; which pages failed is not observable on this kernel";
    if (f.aborted()) s += "; gave up with " + errno_name(f.ret) + ", so some listed pages were never tried";
    auto groups = group_culprits(r, f);
    if (groups.empty()) return s + "; " + std::to_string(f.pages.size()) + " stuck pages, no holder seen in the trace";
    const auto& g = groups.front();
    s += "; " + std::to_string(g.pfns.size()) + " of " + std::to_string(f.pages.size()) + " stuck pages held by pid " +
         std::to_string(g.task.tgid) + " (" + std::string(comm_view(g.task.comm)) + ") as " + flag_string(g.flags) +
         " (" + (g.origin != Origin::Unknown ? std::string(origin_description(g.origin))
                                               : std::string(cause_name(g.cause))) + ")";
    if (groups.size() > 1) s += ", and " + std::to_string(groups.size() - 1) + " more holder(s)";
    return s;
}

std::string report_summary(const Report& r)
{
    if (r.failures.empty()) {
        std::string s = "No migration failed during the trace";
        if (!r.info.hook_attached(PT_HOOK_MIGRATE_TP)) s = "Migrations were not observable (tracepoint missing)";
        return s + ".";
    }
    size_t pages = 0;
    std::map<uint32_t, std::pair<TaskRef, size_t>> by_pid;
    for (const auto& f : r.failures) {
        pages += f.pages.size();
        for (const auto& g : group_culprits(r, f)) {
            auto& e = by_pid[g.task.tgid];
            e.first = g.task;
            e.second += g.pfns.size();
        }
    }
    auto isolations = static_cast<size_t>(std::count_if(r.failures.begin(), r.failures.end(), [](const Failure& f) {
        return f.kind == Failure::Kind::Isolation;
    }));
    auto cma = static_cast<size_t>(std::count_if(r.failures.begin(), r.failures.end(), [](const Failure& f) {
        return f.kind == Failure::Kind::Cma;
    }));
    std::string s;
    if (r.failures.size() > isolations + cma)
        s = std::to_string(r.failures.size() - isolations - cma) + " migration(s) failed";
    if (isolations)
        s += (s.empty() ? "" : ", ") + std::to_string(isolations) + " range(s) could not be isolated";
    if (cma) s += (s.empty() ? "" : ", ") + std::to_string(cma) + " CMA allocation(s) failed";
    if (pages) s += ", " + std::to_string(pages) + " page(s) stuck";
    if (by_pid.empty()) return s + "; no holder was seen in the trace.";
    auto top = std::max_element(by_pid.begin(), by_pid.end(),
                                [](const auto& a, const auto& b) { return a.second.second < b.second.second; });
    s += "; top holder: pid " + std::to_string(top->first) + " (" + std::string(comm_view(top->second.first.comm)) +
         ") on " + std::to_string(top->second.second) + " page(s)";
    if (by_pid.size() > 1) s += ", " + std::to_string(by_pid.size() - 1) + " other process(es)";
    return s + ".";
}

int report_exit_code(const Report& r)
{
    if (r.failures.empty()) return kExitNoFailure;
    for (const auto& f : r.failures) {
        if (!f.pfns_observed) return kExitFailuresUnexplained;
        if (!unexplained_pages(f).empty()) return kExitFailuresUnexplained;
        // A CMA failure with no held page in its busy ranges is explained by nothing pintrace saw.
        if (f.kind == Failure::Kind::Cma && f.pages.empty() && f.held_in_range.empty()) return kExitFailuresUnexplained;
    }
    return kExitFailuresExplained;
}

}  // namespace pintrace
