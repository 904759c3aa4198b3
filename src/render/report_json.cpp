#include "render/format.hpp"
#include "render/json_writer.hpp"
#include "render/report_views.hpp"

namespace pintrace {
namespace {

void write_trace(JsonWriter& j, const Report& r)
{
    j.key("trace").begin_object();
    for (const char* k : {"kernel_release", "boot_id", "hostname", "command", "pintrace_version"})
        j.field(k, r.info.get(k));
    j.field("start_realtime_ns", r.info.get_u64("start_realtime_ns").value_or(0));
    j.field("start_monotonic_ns", r.info.get_u64("start_monotonic_ns").value_or(0));
    j.field("complete", r.finish.has_value());
    if (r.finish) {
        j.field("end_monotonic_ns", r.finish->end_ns);
        j.field("stop_reason", stop_reason_name(r.finish->reason));
        if (r.finish->command_status >= 0) j.field("command_exit_status", r.finish->command_status);
    }
    j.end_object();

    j.key("capture").begin_object().field("complete", r.capture_complete());
    j.key("attach").begin_array();
    for (const auto& a : r.info.attach) {
        j.begin_object().field("target", a.target).field("mode", a.mode);
        if (!a.attached()) j.field("detail", a.detail).field("hides", a.hides);
        j.end_object();
    }
    j.end_array().end_object();

    j.key("lost_events").begin_object().field("total", r.lost_total).key("windows").begin_array();
    for (const auto& l : r.lost)
        j.begin_object().field("from_ns", l.from_ns).field("to_ns", l.to_ns).field("count", l.count).end_object();
    j.end_array().end_object();
}

void write_culprit(JsonWriter& j, const Report& r, const Failure& f, const StuckPage& page, const Holder& h)
{
    uint64_t pfn = page.pfn;
    auto kernel = r.kernel_frames(h);
    auto user = r.user_frames(h);
    std::vector<std::string> all = kernel;
    all.insert(all.end(), user.begin(), user.end());
    j.begin_object()
        .field("pfn", pfn)
        .field("folio_pages", page.nr_pages)
        .field("pid", h.task.tgid)
        .field("tid", h.task.tid)
        .field("comm", comm_view(h.task.comm))
        .field("cgroup_id", h.task.cgroup_id)
        .string_array("flags", flag_names(h.flags))
        .field("cause", cause_name(holder_cause(h)))
        .field("origin", origin_name(origin_of(kernel)))
        .field("count", h.count)
        .field("pinned_at_ns", h.first_ns)
        .field("held_ns", f.head.ts_ns >= h.first_ns ? f.head.ts_ns - h.first_ns : 0)
        .field("seen_by", hook_name(h.hook));
    // A FOLL_GET reference is dropped by an inline put_page() no probe sees:
    // say so, and whether the page's own counts still show a reference.
    bool reference = (h.flags & kFlagGet) && !(h.flags & kFlagPin);
    j.field("release_observable", !reference);
    if (reference) {
        if (auto extra = page.extra_refs()) j.field("refcount_confirms", *extra > 0);
        else j.key("refcount_confirms").null();
    }
    j
        .field("stack_sampled", h.stack_sampled)
        .string_array("stack", all)
        .string_array("kernel_stack", kernel)
        .string_array("user_stack", user)
        .end_object();
}

void write_failure(JsonWriter& j, const Report& r, const Failure& f)
{
    j.begin_object()
        .field("time_ns", f.head.ts_ns)
        .field("wall_time", format_wall_time(r, f.head.ts_ns))
        .field("kind", failure_kind_name(f.kind))
        .field("reason", f.reason)
        .field("mode", f.mode)
        .field("pid", f.head.task.tgid)
        .field("tid", f.head.task.tid)
        .field("comm", comm_view(f.head.task.comm));
    if (f.outcome) j.field("succeeded", f.outcome->succeeded).field("failed", f.outcome->failed);
    if (f.kind == Failure::Kind::Isolation) j.field("range_start_pfn", f.range_start).field("range_end_pfn", f.range_end);
    if (f.kind == Failure::Kind::Cma) {
        j.field("cma_area", f.cma_area).field("requested_pages", f.requested_pages).field("outcome_seen", f.outcome_seen);
        if (f.cma_error) j.field("errno", errno_name(*f.cma_error));
        else j.key("errno").null();
        j.key("busy_ranges").begin_array();
        for (const auto& range : f.ranges) j.begin_array().value(range.start).value(range.end).end_array();
        j.end_array();
    }
    j.field("pfns_observed", f.pfns_observed).field("pfn_list_truncated", f.walk_truncated);
    // ret < 0: migrate_pages() gave up; failed_pfns then include pages it never tried.
    j.field("aborted", f.aborted());
    if (f.walk_complete) j.field("ret", f.ret);
    j.field("summary", failure_sentence(r, f));
    j.field("events_lost_nearby", r.lost_between(r.first_ns, f.head.ts_ns));

    j.key("failed_pfns").begin_array();
    for (const auto& p : f.pages) j.value(p.pfn);
    j.end_array();
    // Large folios fail whole: failed_pfns holds their heads; this gives spans.
    j.key("failed_folios").begin_array();
    for (const auto& p : f.pages) j.begin_object().field("pfn", p.pfn).field("nr_pages", p.nr_pages).end_object();
    j.end_array();

    j.key("culprits").begin_array();
    for (const auto& p : f.pages)
        for (const auto& h : p.holders) write_culprit(j, r, f, p, h);
    j.end_array();
    if (f.kind != Failure::Kind::Migration) {
        j.field("held_in_range_total", f.held_in_range_total);
        j.key("held_in_range").begin_array();
        for (const auto& p : f.held_in_range)
            for (const auto& h : p.holders) write_culprit(j, r, f, p, h);
        j.end_array();
    }

    j.key("unexplained").begin_array();
    for (const StuckPage* p : unexplained_pages(f))
        j.begin_object()
            .field("pfn", p->pfn)
            .field("refcount", p->refcount)
            .field("mapcount", p->mapcount)
            .field("cause", cause_name(p->cause))
            .field("next_step", next_step(p->cause, f.head.task))
            .end_object();
    j.end_array();

    j.key("next_steps").begin_array();
    for (const auto& step : next_steps(r, f)) j.value(step);
    j.end_array();
    j.end_object();
}

}  // namespace

std::string render_report_json(const Report& r)
{
    JsonWriter j;
    j.begin_object().field("schema", kReportSchema).field("summary", report_summary(r));
    write_trace(j, r);
    j.key("stats")
        .begin_object()
        .field("grabs", r.stats.grabs)
        .field("releases", r.stats.releases)
        .field("releases_of_pins_before_trace", r.stats.unmatched_releases)
        .field("releases_by_other_task", r.stats.cross_task_releases)
        .field("migrations", r.stats.migrations)
        .field("closed_by_page_free", r.stats.closed_by_page_free)
        .field("pages_held_at_end", r.stats.pages_held_at_end)
        .end_object();
    j.key("failures").begin_array();
    for (const auto& f : r.failures) write_failure(j, r, f);
    j.end_array();
    j.field("exit_code", report_exit_code(r));
    j.end_object();
    return j.str() + "\n";
}

}  // namespace pintrace
