#include <algorithm>
#include <cstdio>

#include "render/attach_table.hpp"
#include "render/format.hpp"
#include "render/report_views.hpp"

namespace pintrace {
namespace {

std::string pfn_list(const std::vector<uint64_t>& pfns, size_t max = 6)
{
    std::string s;
    for (size_t i = 0; i < pfns.size() && i < max; ++i) s += (i ? " " : "") + format_pfn(pfns[i]);
    if (pfns.size() > max) s += " ... (+" + std::to_string(pfns.size() - max) + ")";
    return s;
}

// What the pages' own counts say about a group of FOLL_GET holders.
std::string references_evidence(std::span<const StuckPage> pages, const CulpritGroup& g)
{
    size_t confirmed = 0, known = 0;
    for (const auto& page : pages) {
        if (std::find(g.pfns.begin(), g.pfns.end(), page.pfn) == g.pfns.end()) continue;
        if (auto extra = page.extra_refs()) {
            ++known;
            confirmed += *extra > 0;
        }
    }
    if (!known) return "no page counts were read to confirm them";
    return "the refcount shows an extra reference on " + std::to_string(confirmed) + " of " + std::to_string(known) +
           " page(s)";
}

// One paragraph per holder group of @pages: who, how, which pfns, where
// from, and what to do.
void render_groups(std::string& out, const Report& r, const Failure& f, std::span<const StuckPage> pages,
                   bool show_stacks)
{
    for (const auto& g : group_culprits(r, pages)) {
        char line[512];
        std::snprintf(line, sizeof line, "    %zu page(s) held by pid %u (%s) cgroup %llu: %s, %s, for %s\n",
                      g.pfns.size(), g.task.tgid, std::string(comm_view(g.task.comm)).c_str(),
                      static_cast<unsigned long long>(g.task.cgroup_id), flag_string(g.flags, " ").c_str(),
                      std::string(origin_description(g.origin)).c_str(),
                      format_duration(f.head.ts_ns - std::min(f.head.ts_ns, g.oldest_ns)).c_str());
        out += line;
        out += "      pfns: " + pfn_list(g.pfns) + "\n";
        if ((g.flags & kFlagGet) && !(g.flags & kFlagPin))
            out += "      (references: their release is an inline put_page() pintrace cannot see; " +
                   references_evidence(pages, g) + ")\n";
        if (show_stacks) {
            Holder h;
            h.task = g.task;
            h.kstack = g.kstack;
            h.ustack = g.ustack;
            auto k = r.kernel_frames(h);
            auto u = r.user_frames(h);
            std::string path;
            for (size_t i = 0; i < k.size() && i < 8; ++i) path += (i ? " <- " : "") + k[i];
            if (!path.empty() && g.stack_sampled)
                out += "      (stacks sampled: this thread's from an earlier grab, not necessarily this one's)\n";
            if (!path.empty()) out += "      kernel: " + path + "\n";
            path.clear();
            for (size_t i = 0; i < u.size() && i < 6; ++i) path += (i ? " <- " : "") + u[i];
            if (!path.empty()) out += "      user:   " + path + "\n";
        }
        out += "      next: " + next_step(g.cause, g.task, g.origin) + "\n";
    }
}

void header(std::string& out, const Report& r)
{
    out += "pintrace report — kernel " + r.info.get("kernel_release", "?") + " on " + r.info.get("hostname", "?");
    if (auto start = r.info.get_u64("start_monotonic_ns")) {
        out += ", started " + format_wall_time(r, *start);
        if (r.finish && r.finish->end_ns > *start) out += ", " + format_duration(r.finish->end_ns - *start);
    }
    out += "\n";
    if (!r.finish) out += "WARNING: the trace was not closed (recorder killed?): events near its end are missing\n";
    else out += "stopped: " + std::string(stop_reason_name(r.finish->reason)) + "\n";

    if (r.capture_complete()) {
        out += "capture: complete (" + std::to_string(r.info.attach.size()) + " attach points)\n";
    } else {
        out += "capture: DEGRADED, " + std::to_string(missing_attach_points(r.info.attach)) +
               " attach point(s) missing; what this trace cannot show:\n" + render_attach_table(r.info.attach);
    }
    if (r.lost_total) {
        out += "LOST EVENTS: " + std::to_string(r.lost_total) + " records dropped in " + std::to_string(r.lost.size()) +
               " window(s); ownership in those windows is uncertain\n";
    } else {
        out += "lost events: none\n";
    }
    out += "\n";
}

}  // namespace

std::string render_report_text(const Report& r, bool show_stacks)
{
    std::string out;
    header(out, r);
    out += "SUMMARY: " + report_summary(r) + "\n";

    int n = 0;
    for (const auto& f : r.failures) {
        out += "\n[" + std::to_string(++n) + "] " + format_wall_time(r, f.head.ts_ns) + "  " + failure_sentence(r, f) +
               "\n";
        if (r.lost_between(r.first_ns, f.head.ts_ns))
            out += "    note: events were lost before this failure; a holder may be missing\n";
        if (!f.pfns_observed) continue;
        if (f.walk_truncated) out += "    note: only the first " + std::to_string(f.pages.size()) + " stuck pages were read\n";
        render_groups(out, r, f, f.pages, show_stacks);
        if (f.held_in_range_total) {
            out += "    " + std::to_string(f.held_in_range_total) +
                   (f.kind == Failure::Kind::Cma
                        ? " page(s) held in the busy ranges (each keeps its range from being allocated):\n"
                        : " more page(s) of the range are held (the kernel stops at the first busy one; these would "
                          "stop the next attempt):\n");
            render_groups(out, r, f, f.held_in_range, show_stacks);
        }
        auto unexplained = unexplained_pages(f);
        if (!unexplained.empty()) {
            std::vector<uint64_t> pfns;
            for (auto* p : unexplained) pfns.push_back(p->pfn);
            out += "    " + std::to_string(unexplained.size()) + " page(s) with no holder in the trace (" +
                   std::string(cause_name(unexplained.front()->cause)) + "): " + pfn_list(pfns) + "\n";
            out += "      next: " + next_step(unexplained.front()->cause, f.head.task) + "\n";
        }
    }
    out += "\n" + std::to_string(r.stats.grabs) + " grabs, " + std::to_string(r.stats.releases) + " releases, " +
           std::to_string(r.stats.migrations) + " migrations seen; " + std::to_string(r.stats.pages_held_at_end) +
           " pages still held at the end";
    if (r.stats.unmatched_releases)
        out += "; " + std::to_string(r.stats.unmatched_releases) + " releases of pins taken before the trace";
    out += "\n";
    return out;
}

}  // namespace pintrace
