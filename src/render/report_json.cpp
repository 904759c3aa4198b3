#include <cstring>

#include "render/format.hpp"
#include "render/json_sections.hpp"
#include "render/json_writer.hpp"
#include "render/ledger_views.hpp"
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
        if (r.finish->error) j.field("stop_error", std::strerror(r.finish->error));
        j.field("skipped_runs", r.finish->skipped_runs);
    }
    if (const auto& f = r.file) {
        j.key("file").begin_object();
        j.field("bytes", f->file_bytes).field("checksummed", f->sealed).field("blocks_verified", f->blocks);
        if (f->blocks) j.field("last_block_monotonic_ns", f->last_block_ns);
        j.field("records", f->records).field("unverified_records", f->unverified_records);
        j.field("end_offset", f->end_offset).field("torn_bytes", f->torn_bytes);
        j.field("being_written", f->being_written).field("records_outside_ram", f->outside_ram_records);
        j.end_object();
    }
    j.end_object();

    j.key("capture").begin_object().field("complete", r.capture_complete());
    j.key("attach").begin_array();
    for (const auto& a : r.info.attach) {
        j.begin_object().field("target", a.target).field("mode", a.mode());
        if (!a.attached()) j.field("detail", a.detail).field("hides", a.hides);
        j.end_object();
    }
    j.end_array();
    if (const PairingMode* m = pairing_mode(r)) {
        j.key("pairing").begin_object().field("mode", m->meta).field("every_pin_recorded", m->complete);
        if (auto t = r.info.get_u64("pairing_threshold_ns")) j.field("threshold_ns", *t);
        if (!m->complete) {
            j.key("paired_pins");
            if (r.finish)
                j.value(r.finish->paired_pins);
            else
                j.null();
        }
        j.end_object();
    }
    j.end_object();

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
        .string_array("page_flags", r.info.page_flag_names(page.page_flags))
        .field("pid", h.task.tgid)
        .field("tid", h.task.tid)
        .field("comm", comm_view(h.task.comm))
        .field("cgroup_id", h.task.cgroup_id);
    const auto* proc = r.process(h.owner);
    j.field("exe", proc ? proc->exe : std::string()).field("cgroup", proc ? proc->cgroup : std::string());
    // What the page is, as the capture read it at the failure: for a page
    // cache page held by a pipe, the file.
    if (page.identity) write_identity(j.key("page"), *page.identity);
    // Where a splice put the reference: the pipe, as /proc/PID/fd names it.
    if (h.pipe_ino) {
        j.key("pipe").begin_object().field("inode", h.pipe_ino).field("name", pipe_name(h.pipe_ino));
        if (const PipeOpenersEvent* look = r.pipe_look(h.pipe_ino, f.head.ts_ns)) {
            j.field("openers_seen_ns", look->ts_ns).key("openers").begin_array();
            for (const auto& o : look->openers)
                j.begin_object().field("pid", o.pid).field("comm", o.comm).field("fd", o.fd).end_object();
            j.end_array();
        } else {
            j.key("openers_seen_ns").null().key("openers").null();
        }
        j.end_object();
    } else {
        j.key("pipe").null();
    }
    j.field("owner_exited", h.exited_ns != 0);
    if (h.exited_ns) j.field("owner_exited_ns", h.exited_ns);
    // Events lost while it was held: it may have been released unseen.
    bool certain = !r.holder_uncertain(h, f.head.ts_ns);
    j.field("source", "trace").field("confidence", certain ? "certain" : "uncertain").field("certain", certain);
    j.string_array("flags", flag_names(h.flags))
        .field("cause", cause_name(holder_cause(h)))
        .field("origin", origin_name(origin_of(h.hook, kernel)))
        .field("count", h.count)
        .field("pinned_at_ns", h.first_ns)
        .field("pinned_at", format_wall_time(r, h.first_ns))
        .field("held_ns", f.head.ts_ns >= h.first_ns ? f.head.ts_ns - h.first_ns : 0)
        .field("seen_by", hook_name(h.hook));
    // A FOLL_GET reference is mostly dropped by an inline put_page() no
    // probe sees: say so, and whether the page's own counts still show a
    // reference.
    bool reference = (h.flags & kFlagGet) && !(h.flags & kFlagPin);
    j.field("release_observable", release_traced(r, h));
    if (reference) {
        if (auto extra = page.extra_refs())
            j.field("refcount_confirms", *extra > 0);
        else
            j.key("refcount_confirms").null();
    }
    j.field("stack_sampled", h.stack_sampled)
        .string_array("stack", all)
        .string_array("kernel_stack", kernel)
        .string_array("user_stack", user)
        .end_object();
}

// A holder of a page pinned before the trace, as the snapshot at its start
// inferred it (record --snapshot): its evidence, never certain.
void write_inferred_culprit(JsonWriter& j, const Report& r, const StuckPage& page, const SnapshotHolderEvent& h)
{
    j.begin_object()
        .field("pfn", page.pfn)
        .field("folio_pages", page.nr_pages)
        .field("pid", h.pid)
        .field("comm", h.comm)
        .field("exe", h.exe)
        .field("source", "snapshot")
        .field("confidence", h.confidence())
        .field("certain", false)
        .field("cause", cause_name(page.cause))
        .field("origin", origin_name(origin_from_name(h.origin)))
        .field("snapshot_at_ns", r.snapshot->ts_ns)
        .field("snapshot_at", format_wall_time(r, r.snapshot->ts_ns))
        .field("evidence", h.evidence);
    if (page.at_snapshot) {
        j.key("at_snapshot").begin_object().field("held_as", seed_class_name(page.at_snapshot->held_as));
        if (page.at_snapshot->refcount >= 0)
            j.field("refcount", page.at_snapshot->refcount).field("mapcount", page.at_snapshot->mapcount);
        j.end_object();
    }
    j.end_object();
}

void write_culprits(JsonWriter& j, const Report& r, const Failure& f, std::span<const StuckPage> pages)
{
    for (const auto& p : pages)
        for (const auto& h : p.holders) write_culprit(j, r, f, p, h);
    if (!r.snapshot) return;
    for (const auto& p : pages)
        if (p.holders.empty())
            for (uint32_t i : p.inferred)
                if (i < r.snapshot->holders.size()) write_inferred_culprit(j, r, p, r.snapshot->holders[i]);
}

void write_snapshot(JsonWriter& j, const Report& r)
{
    if (!r.snapshot) {
        j.key("snapshot").null();
        return;
    }
    const SnapshotSeed& s = *r.snapshot;
    j.key("snapshot").begin_object().field("complete", s.end.has_value()).field("at_ns", s.ts_ns);
    j.field("at", format_wall_time(r, s.ts_ns));
    if (s.end) {
        j.field("seconds", (s.end->end_ns - s.end->start_ns) / 1e9)
            .field("range", s.end->range)
            .field("source", s.end->source)
            .field("pages", s.end->pages)
            .field("held_pages", s.end->suspicious_total)
            .field("held_pages_kept", s.end->suspicious_kept)
            .field("processes_searched", s.end->processes)
            .string_array("not_visible", s.end->notes);
    }
    j.field("released_during_trace", s.released_in_trace).field("held_at_end", s.held_at_end);
    j.key("held_at_end_by_pid").begin_array();
    for (const auto& [pid, pages] : s.held_at_end_by_pid)
        j.begin_object().field("pid", pid).field("pages", pages).end_object();
    j.end_array();
    j.key("candidates").begin_array();
    for (const auto& h : s.holders)
        j.begin_object()
            .field("pid", h.pid)
            .field("comm", h.comm)
            .field("exe", h.exe)
            .field("confidence", h.confidence())
            .field("origin", origin_name(origin_from_name(h.origin)))
            .field("evidence", h.evidence)
            .field("pages", uint64_t{h.pfns.size()})
            .end_object();
    j.end_array().end_object();
}

void write_histogram(JsonWriter& j, const DurationHistogram& released, const DurationHistogram& held)
{
    j.begin_array();
    for (size_t b = 0; b < DurationHistogram::kBuckets; ++b) {
        if (!released.buckets[b] && !held.buckets[b]) continue;
        j.begin_object()
            .field("from_ns", DurationHistogram::bucket_floor_ns(b))
            .field("to_ns", DurationHistogram::bucket_floor_ns(b + 1))
            .field("released", released.buckets[b])
            .field("still_held", held.buckets[b])
            .end_object();
    }
    j.end_array();
}

}  // namespace

void write_pinner_row_json(JsonWriter& j, const Report& r, const PinnerRow& row)
{
    j.begin_object()
        .field("key", row.key)
        .field("pid", row.task.tgid)
        .field("comm", comm_view(row.task.comm))
        .field("exe", row.exe)
        .field("cgroup", row.cgroup)
        .field("processes", uint64_t{row.processes})
        .field("pages", row.pages)
        .field("longterm_pages", row.longterm_pages)
        .field("pins", row.pins)
        .field("oldest_pin_ns", row.oldest_ns)
        .field("held_for_ns", row.oldest_ns ? r.end_ns - std::min(r.end_ns, row.oldest_ns) : 0)
        .field("pins_taken", row.pins_taken)
        .field("pins_per_second", row.pins_per_s)
        .string_array("flags", flag_names(row.flags))
        .field("origin", origin_name(row.origin))
        .field("exited", row.all_exited)
        .field("release_observable", !row.release_unseen)
        .field("certain", !row.uncertain);
    if (r.options.threshold_ns) j.field("pages_over_threshold", row.pages_over_threshold);
    j.string_array("kernel_stack", r.kernel_frames(row.kstack))
        .string_array("user_stack", r.user_frames(row.ustack, row.task.tgid));
    j.key("held_for").begin_object().key("histogram");
    write_histogram(j, released_durations(r, row.owners), held_ages(r, row.owners));
    j.end_object();
    j.end_object();
}

void write_identity(JsonWriter& j, const PageIdentity& id)
{
    j.begin_object().field("kind", page_kind_name(id.kind));
    if (id.type == PT_TYPE_NONE)
        j.key("type").null();
    else
        j.field("type", page_type_name(id.type));
    j.field("what", page_what(id));
    if (id.file) {
        const auto& f = *id.file;
        j.key("file")
            .begin_object()
            .field("fs", f.fs)
            .field("dev", std::to_string(f.major()) + ":" + std::to_string(f.minor()))
            .field("inode", f.ino)
            .field("path", f.path)
            .field("offset_pages", f.index)
            .end_object();
    }
    if (!id.slab_cache.empty()) j.field("slab_cache", id.slab_cache);
    j.field("refcount", id.refcount).field("page_type_word", uint64_t{id.raw_type}).end_object();
}

void write_history(JsonWriter& j, const Report& r)
{
    if (r.options.history_pfns.empty()) return;
    static const char* what[] = {"grab",           "release", "closed", "freed", "migration_failed",
                                 "isolation_busy", "snapshot"};
    j.key("history").begin_object();
    j.key("pfns").begin_array();
    for (uint64_t p : r.options.history_pfns) j.value(p);
    j.end_array();
    j.key("events").begin_array();
    for (const auto& e : r.history) {
        j.begin_object()
            .field("time_ns", e.ts_ns)
            .field("wall_time", format_wall_time(r, e.ts_ns))
            .field("pfn", e.pfn)
            .field("event", what[static_cast<int>(e.what)])
            .field("pid", e.task.tgid)
            .field("tid", e.task.tid)
            .field("comm", comm_view(e.task.comm))
            .string_array("flags", flag_names(e.flags))
            .field("count", e.count)
            .field("nr_pages", e.nr_pages)
            .field("detail", e.detail);
        // A splice's grab: the pipe it put the page in.
        if (e.pipe_ino)
            j.key("pipe").begin_object().field("inode", e.pipe_ino).field("name", pipe_name(e.pipe_ino)).end_object();
        else
            j.key("pipe").null();
        j.field("stack_sampled", e.stack_sampled)
            .string_array("kernel_stack", r.kernel_frames(e.kstack))
            .string_array("user_stack", r.user_frames(e.ustack, e.task.tgid))
            .end_object();
    }
    j.end_array();
    j.key("holders_at_end").begin_array();
    for (const auto& [pfn, holders] : r.history_holders)
        for (const auto& h : holders)
            j.begin_object()
                .field("pfn", pfn)
                .field("pid", h.task.tgid)
                .field("comm", comm_view(h.task.comm))
                .string_array("flags", flag_names(h.flags))
                .field("count", h.count)
                .field("since_ns", h.first_ns)
                .field("certain", !r.holder_uncertain(h, r.end_ns))
                .end_object();
    j.end_array().end_object();
}

namespace {

void write_pinners(JsonWriter& j, const Report& r, const ReportView& view)
{
    j.key("holders").begin_object();
    j.field("at_ns", r.end_ns).field("at", format_wall_time(r, r.end_ns));
    j.field("group_by", group_by_name(view.pinners.group_by));
    j.key("sort").begin_array();
    for (SortKey k : view.pinners.sort) j.value(sort_key_name(k));
    j.end_array();
    j.key("rows").begin_array();
    for (const auto& row : pinner_rows(r, view.pinners)) write_pinner_row_json(j, r, row);
    j.end_array().end_object();

    j.key("durations").begin_object().key("histogram");
    write_histogram(j, released_durations(r, view.pinners.filter), held_ages(r, view.pinners.filter));
    j.end_object();

    if (r.options.threshold_ns) {
        j.key("long_holds").begin_object();
        j.field("threshold_ns", r.options.threshold_ns).field("total", r.long_holds_total);
        j.field("kept", uint64_t{r.long_holds.size()});
        j.key("items").begin_array();
        for (const auto& h : r.long_holds) {
            if (!view.pinners.filter.matches(r, h.owner)) continue;
            const Owner& o = r.owner(h.owner);
            j.begin_object()
                .field("pfn", h.pfn)
                .field("count", h.count)
                .field("since_ns", h.since_ns)
                .field("until_ns", h.until_ns)
                .field("held_ns", h.until_ns - h.since_ns)
                .field("released", h.released)
                .field("closed_by_free", h.by_free)
                .field("pid", o.task.tgid)
                .field("comm", comm_view(o.task.comm))
                .string_array("flags", flag_names(o.flags))
                .end_object();
        }
        j.end_array().end_object();
    }
}

void write_filters(JsonWriter& j, const ReportView& view)
{
    const auto& hf = view.failures.holders;
    j.key("filters").begin_object();
    if (hf.pid) j.field("pid", *hf.pid);
    if (!hf.comm.empty()) j.field("comm", hf.comm);
    if (!hf.cgroup.empty()) j.field("cgroup", hf.cgroup);
    if (!view.failures.reason.empty()) j.field("reason", view.failures.reason);
    if (view.failures.since_ns) j.field("since_ns", *view.failures.since_ns);
    if (view.failures.until_ns) j.field("until_ns", *view.failures.until_ns);
    j.end_object();
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
    if (f.kind == Failure::Kind::Isolation) {
        j.field("range_start_pfn", f.range_start).field("range_end_pfn", f.range_end);
        j.field("refused_at_isolation", f.refused_at_isolation);
        if (f.refused_at_isolation) j.field("errno", errno_name(f.ret));
    }
    if (f.kind == Failure::Kind::ContigAlloc) {
        j.field("requested_pages", f.requested_pages).field("nid", f.nid).field("start_seen", f.start_seen);
        j.field("ranges_tried", f.ranges_tried);
        j.key("ranges").begin_array();
        for (const auto& range : f.ranges) j.begin_array().value(range.start).value(range.end).end_array();
        j.end_array();
    }
    if (f.kind == Failure::Kind::Cma) {
        j.field("cma_area", f.cma_area)
            .field("requested_pages", f.requested_pages)
            .field("outcome_seen", f.outcome_seen);
        if (f.cma_error)
            j.field("errno", errno_name(*f.cma_error));
        else
            j.key("errno").null();
        j.field("busy_retries", f.busy_retries);
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
    write_culprits(j, r, f, f.pages);
    j.end_array();
    if (f.kind != Failure::Kind::Migration) {
        j.field("held_in_range_total", f.held_in_range_total);
        j.key("held_in_range").begin_array();
        write_culprits(j, r, f, f.held_in_range);
        j.end_array();
        // Held since before the trace by the snapshot's counts, and nobody to name.
        j.key("held_in_range_no_holder").begin_array();
        for (uint64_t pfn : held_without_candidate(f.held_in_range)) j.value(pfn);
        j.end_array();
    }

    j.key("unexplained").begin_array();
    for (const auto& g : group_unexplained(r, f))
        for (const StuckPage* p : g.pages) {
            j.begin_object().field("pfn", p->pfn);
            // An isolation failure's busy page: the kernel gave no counts.
            if (p->counts_known)
                j.field("refcount", p->refcount).field("mapcount", p->mapcount);
            else
                j.key("refcount").null().key("mapcount").null();
            j.field("cause", cause_name(p->cause))
                .field("not_movable_because", g.why)
                .string_array("page_flags", r.info.page_flag_names(p->page_flags));
            if (p->identity) write_identity(j.key("page"), *p->identity);
            j.field("earlier_failures", p->earlier_failures).field("next_step", g.next).end_object();
        }
    j.end_array();

    j.key("next_steps").begin_array();
    for (const auto& step : next_steps(r, f)) j.value(step);
    j.end_array();
    j.end_object();
}

}  // namespace

std::string render_report_json(const Report& r, const ReportView& view)
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
        .field("process_exits", r.stats.process_exits)
        .field("reordered", r.stats.reordered)
        .end_object();
    write_snapshot(j, r);
    write_filters(j, view);
    j.field("failures_total", uint64_t{r.failures.size()});
    j.key("failures").begin_array();
    for (const auto& f : r.failures)
        if (view.failures.matches(r, f)) write_failure(j, r, f);
    j.end_array();
    j.key("longterm_pin_migrations").begin_array();
    for (const auto& m : r.pin_migrations)
        j.begin_object()
            .field("time_ns", m.head.ts_ns)
            .field("wall_time", format_wall_time(r, m.head.ts_ns))
            .field("pid", m.head.task.tgid)
            .field("tid", m.head.task.tid)
            .field("comm", comm_view(m.head.task.comm))
            .field("moved", m.moved)
            .field("failed", m.failed)
            .end_object();
    j.end_array();
    write_pinners(j, r, view);
    write_history(j, r);
    j.field("exit_code", report_exit_code(r));
    j.end_object();
    return j.str() + "\n";
}

}  // namespace pintrace
