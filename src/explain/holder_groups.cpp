#include "explain/holder_groups.hpp"

#include <algorithm>
#include <map>
#include <utility>

#include "util/exit_codes.hpp"

namespace pintrace {

Origin holder_origin(const Report& r, const Holder& h)
{
    auto frames = r.kernel_frames(h);
    return origin_of(h.hook, frames);
}

bool release_traced(const Report& r, const Taker& t)
{
    if (!(t.flags & kFlagGet) || (t.flags & kFlagPin)) return true;
    uint16_t hook = origin_info(origin_of_hook(t.hook)).release_hook;
    if (!hook) return false;
    for (const auto& point : r.info.attach)
        if (point.hook == hook) return point.state == AttachState::Attached;
    return false;
}

std::vector<CulpritGroup> group_culprits(const Report& r, std::span<const StuckPage> pages, uint64_t at_ns,
                                         const HolderFilter* filter)
{
    std::map<OwnerId, CulpritGroup> groups;
    for (const auto& page : pages) {
        for (const auto& h : page.holders) {
            if (filter && !filter->matches(r, h.owner)) continue;
            auto& g = groups[h.owner];
            if (g.pfns.empty()) {
                static_cast<Taker&>(g) = h;
                g.owner = h.owner;
                g.oldest_ns = h.first_ns;
                g.cause = holder_cause(h);
                g.origin = holder_origin(r, h);
            }
            g.oldest_ns = std::min(g.oldest_ns, h.first_ns);
            g.uncertain |= r.holder_uncertain(h, at_ns);
            g.exited_ns = h.exited_ns;
            g.pfns.push_back(page.pfn);
        }
    }
    std::vector<CulpritGroup> out;
    for (auto& [k, g] : groups) out.push_back(std::move(g));
    // The summary names the same first holder (report_summary: most pages, then held longest).
    std::stable_sort(out.begin(), out.end(), [](const CulpritGroup& a, const CulpritGroup& b) {
        if (a.cause != b.cause) return a.cause < b.cause;
        if (a.pfns.size() != b.pfns.size()) return a.pfns.size() > b.pfns.size();
        return a.oldest_ns < b.oldest_ns;
    });
    return out;
}

std::vector<const StuckPage*> unexplained_pages(const Failure& f)
{
    std::vector<const StuckPage*> out;
    for (const auto& p : f.pages)
        if (p.holders.empty() && p.inferred.empty()) out.push_back(&p);
    return out;
}

std::vector<InferredGroup> group_inferred(const Report& r, std::span<const StuckPage> pages)
{
    std::vector<InferredGroup> out;
    if (!r.snapshot) return out;
    const auto& holders = r.snapshot->holders;
    for (const auto& page : pages) {
        if (!page.holders.empty()) continue;
        // Per process, the page is likely its only where some evidence of
        // that process's is a long-term pin of this very page: a process
        // that registered one page and maps another is likely for the
        // first only.
        std::vector<std::pair<uint32_t, bool>> pids;
        for (uint32_t i : page.inferred) {
            if (i >= holders.size()) continue;
            auto p = std::find_if(pids.begin(), pids.end(), [&](const auto& x) { return x.first == holders[i].pid; });
            if (p == pids.end())
                pids.emplace_back(holders[i].pid, holders[i].likely);
            else
                p->second |= holders[i].likely;
        }
        for (const auto& pid_likely : pids) {
            // Not a structured binding: the lambda uses them (clang < 16).
            uint32_t pid = pid_likely.first;
            bool likely = pid_likely.second;
            auto g = std::find_if(out.begin(), out.end(),
                                  [&](const InferredGroup& x) { return x.pid == pid && x.likely == likely; });
            if (g == out.end()) {
                const SnapshotHolderEvent* first = nullptr;
                for (uint32_t i : page.inferred)
                    if (i < holders.size() && holders[i].pid == pid && (!first || holders[i].likely))
                        first = &holders[i];
                out.push_back({pid, first->comm, first->exe, likely, Origin::Unknown, page.cause, {}, {}});
                g = out.end() - 1;
            }
            for (uint32_t i : page.inferred) {
                if (i >= holders.size() || holders[i].pid != pid || holders[i].likely != likely) continue;
                if (g->origin == Origin::Unknown) g->origin = origin_from_name(holders[i].origin);
                if (std::find(g->evidence.begin(), g->evidence.end(), i) == g->evidence.end()) g->evidence.push_back(i);
            }
            g->pfns.push_back(page.pfn);
            g->cause = std::min(g->cause, page.cause);
        }
    }
    std::stable_sort(out.begin(), out.end(), [](const InferredGroup& a, const InferredGroup& b) {
        if (a.likely != b.likely) return a.likely;
        return a.pfns.size() > b.pfns.size();
    });
    return out;
}

std::vector<uint64_t> held_without_candidate(std::span<const StuckPage> pages)
{
    std::vector<uint64_t> out;
    for (const auto& p : pages)
        if (p.holders.empty() && p.inferred.empty() && p.at_snapshot) out.push_back(p.pfn);
    return out;
}

int report_exit_code(const Report& r, const FailureFilter* filter)
{
    bool any = false, inferred = false;
    for (const auto& f : r.failures) {
        if (filter && !filter->matches(r, f)) continue;
        any = true;
        // A contiguous allocation that tried ranges is explained by their
        // failures (each judged on its own); one that tried none, by nothing.
        if (f.kind == Failure::Kind::ContigAlloc) {
            if (!f.start_seen || !f.ranges_tried) return kExitFailuresUnexplained;
            continue;
        }
        if (!f.pfns_observed) return kExitFailuresUnexplained;
        if (!unexplained_pages(f).empty()) return kExitFailuresUnexplained;
        // A CMA failure with no held page in its busy ranges is explained by nothing pintrace saw.
        if (f.kind == Failure::Kind::Cma && f.pages.empty() && f.held_in_range.empty()) return kExitFailuresUnexplained;
        for (const auto& p : f.pages)
            if (p.holders.empty()) inferred = true;
        // A CMA failure with no busy page named, whose ranges hold pages
        // only the snapshot found held: their candidates explain it, or
        // nothing does.
        if (f.pages.empty())
            for (const auto& p : f.held_in_range) {
                if (!p.holders.empty()) continue;
                if (p.inferred.empty()) return kExitFailuresUnexplained;
                inferred = true;
            }
    }
    if (!any) return kExitOk;
    return inferred ? kExitFailuresInferred : kExitFailuresExplained;
}

}  // namespace pintrace
