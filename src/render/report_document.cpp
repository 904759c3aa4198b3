// The text and markdown report: one Document, built from the explainer's
// Report and the views the user asked for.
#include <algorithm>
#include <cstring>
#include <set>

#include "render/attach_table.hpp"
#include "render/document.hpp"
#include "render/format.hpp"
#include "render/ledger_views.hpp"
#include "render/report_views.hpp"

namespace pintrace {
namespace {

constexpr PairingMode kPairingModes[] = {
    {"kernel", false,
     "short-term pins released within {threshold} were paired with their releases in the kernel and not "
     "recorded ({pairs}); longer ones, long-term pins and the pins on pages that failed to move are recorded"},
    {"off", true, "every grab and release recorded (record --all-events)"},
    {"unsupported", true, "every grab and release recorded (this kernel has no bpf_loop, which pairing needs: 5.17+)"},
    {"refused", true, "every grab and release recorded (the kernel refused pairing: {refusal})"},
};

void replace(std::string& s, std::string_view what, const std::string& with)
{
    if (auto at = s.find(what); at != std::string::npos) s.replace(at, what.size(), with);
}


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
    // An isolation failure carries no counts: unknown, not a contradiction.
    if (!known) return "whether the page counts still show them is unknown";
    return "the refcount shows an extra reference on " + std::to_string(confirmed) + " of " + std::to_string(known) +
           " page(s)";
}

std::string process_details(const Report& r, OwnerId id, const TaskRef& task)
{
    std::string s;
    if (const auto* p = r.process(id)) {
        if (!p->exe.empty()) s += " " + p->exe;
        if (!p->cgroup.empty()) return s + ", cgroup " + p->cgroup;
    }
    return s + ", cgroup " + std::to_string(task.cgroup_id);
}

// One block per holder group of @pages, under a heading per cause: who, how,
// since when, which pfns, where from, and what to do.
void culprit_groups(Document& d, const Report& r, const Failure& f, std::span<const StuckPage> pages,
                    const ReportView& view)
{
    auto groups =
        group_culprits(r, pages, f.head.ts_ns, view.failures.holders.empty() ? nullptr : &view.failures.holders);
    for (size_t i = 0; i < groups.size(); ++i) {
        const CulpritGroup& g = groups[i];
        if (i == 0 || groups[i - 1].cause != g.cause) {
            // Pages, not holds: two holders of one page are one stuck page.
            std::set<uint64_t> pfns;
            size_t holders = 0;
            for (size_t j = i; j < groups.size() && groups[j].cause == g.cause; ++j, ++holders)
                pfns.insert(groups[j].pfns.begin(), groups[j].pfns.end());
            d.line(2,
                   std::string(cause_heading(g.cause)) + ": " + std::to_string(pfns.size()) + " page(s)" +
                       (holders > 1 ? ", " + std::to_string(holders) + " holders" : ""),
                   Document::Style::Strong);
        }
        std::string who = std::to_string(g.pfns.size()) + " page(s) held by pid " + std::to_string(g.task.tgid) + " (" +
                          std::string(comm_view(g.task.comm)) + ")" + process_details(r, g.owner, g.task) + ": " +
                          flag_string(g.flags, " ") + ", " + std::string(origin_description(g.origin)) + ", since " +
                          format_clock(r, g.oldest_ns) + " (" +
                          format_duration(f.head.ts_ns - std::min(f.head.ts_ns, g.oldest_ns)) + " before the failure)";
        d.line(3, who);
        if (g.exited_ns) d.line(4, "its process exited at " + format_clock(r, g.exited_ns) + "; the pins outlived it");
        if (g.uncertain)
            d.line(4, "UNCERTAIN: events were lost while it held these pages; some may have been released unseen");
        d.line(4, "pfns: " + pfn_list(g.pfns));
        if (auto files = files_of(pages, g.pfns); !files.empty()) d.line(4, "file: " + files);
        if (g.pipe_ino) {
            std::string openers = pipe_openers_text(r, g.pipe_ino, f.head.ts_ns);
            d.line(4, "pipe: " + pipe_name(g.pipe_ino) + ", where the splice put them" +
                          (openers.empty() ? "" : "; " + openers) + " (a tee() copy in another pipe is not named)");
        }
        if (!release_traced(r, g)) {
            uint16_t hook = origin_info(g.origin).release_hook;
            std::string unseen = hook ? "their release is seen only by " + std::string(hook_name(hook)) +
                                            ", which this trace did not attach"
                                      : "their release is an inline put_page() pintrace cannot see";
            d.line(4, "(references: " + unseen + "; " + references_evidence(pages, g) + ")");
        }
        if (view.show_stacks) {
            auto k = r.kernel_frames(g.kstack);
            auto u = r.user_frames(g.ustack, g.task.tgid);
            std::string path;
            for (size_t j = 0; j < k.size() && j < 8; ++j) path += (j ? " <- " : "") + k[j];
            if (!path.empty() && g.stack_sampled)
                d.line(4, "(stacks sampled: this thread's from an earlier grab, not necessarily this one's)");
            if (!path.empty()) d.code(4, "kernel", path);
            path.clear();
            for (size_t j = 0; j < u.size() && j < 6; ++j) path += (j ? " <- " : "") + u[j];
            if (!path.empty()) d.code(4, "user", path);
            d.line(4, "seen by: " + std::string(hook_name(r.owner(g.owner).hook)));
        }
        d.line(4, "next: " + next_step(g.cause, g.task, g.origin, g.exited_ns != 0));
    }
    size_t hidden = group_culprits(r, pages, f.head.ts_ns).size() - groups.size();
    if (hidden) d.line(2, std::to_string(hidden) + " other holder(s) not shown (filter)");
}

// The snapshot's holders of pages the trace never saw pinned: candidates
// with their evidence and a confidence word, never certainty.
void inferred_groups(Document& d, const Report& r, std::span<const StuckPage> pages)
{
    auto groups = group_inferred(r, pages);
    if (groups.empty()) return;
    size_t n = 0;
    for (const auto& g : groups) n += g.pfns.size();
    d.line(2,
           "pinned before the trace, holder INFERRED from the snapshot at " + format_clock(r, r.snapshot->ts_ns) +
               " (not traced): " + std::to_string(n) + " page(s)",
           Document::Style::Strong);
    for (const auto& g : groups) {
        d.line(3,
               std::string(confidence_word(g)) + ": " + std::to_string(g.pfns.size()) + " page(s), " + inferred_who(g));
        for (uint32_t i : g.evidence) d.line(4, "evidence: " + r.snapshot->holders[i].evidence);
        d.line(4, "pfns: " + pfn_list(g.pfns));
        d.line(4, "next: " + inferred_next_step(g));
    }
}

// What the snapshot at the start could read, and what not.
void snapshot_header(Document& d, const Report& r)
{
    if (!r.snapshot) return;
    const SnapshotSeed& s = *r.snapshot;
    if (!s.end) {
        d.line(0, "snapshot at start: CUT SHORT (its last record is missing): inferred holders may be incomplete");
        return;
    }
    const SnapshotEndEvent& e = *s.end;
    if (!e.pages) {
        d.line(0, "snapshot at start: none" + (e.notes.empty() ? std::string() : " (" + e.notes.front() + ")") +
                      ": pins taken before the trace have no inferred holder");
        return;
    }
    std::set<uint32_t> pids;
    for (const auto& h : s.holders) pids.insert(h.pid);
    d.line(0, "snapshot at start (" + format_clock(r, e.start_ns) + ", " + format_duration(e.end_ns - e.start_ns) +
                  "): " + std::to_string(e.pages) + " pages of " + e.range + " read from " + e.source + "; " +
                  std::to_string(e.suspicious_total) + " held before the trace, " + std::to_string(pids.size()) +
                  " candidate holder(s) among " + std::to_string(e.processes) + " processes; " +
                  std::to_string(s.released_in_trace) + " of the held pages were released during the trace");
    for (const auto& note : e.notes) d.line(1, "snapshot could not see: " + note);
}

// Where and why the recording stopped, and what of the file could not be
// checked: a report read from a killed recorder's file must say so.
std::vector<std::string> recording_end_lines(const Report& r)
{
    std::vector<std::string> lines;
    const auto& f = r.file;
    if (f && f->being_written)
        lines.push_back("WARNING: the trace is still being recorded: this is what its recorder had written when read");
    if (r.finish) {
        std::string stopped = "stopped: " + std::string(stop_reason_name(r.finish->reason));
        if (r.finish->error) stopped += " (" + std::string(std::strerror(r.finish->error)) + ")";
        if (r.finish->reason == StopReason::WriteFailed)
            stopped += ": events after " + format_wall_time(r, r.finish->end_ns) + " are missing";
        lines.push_back(stopped);
    } else if (f && f->sealed && f->blocks) {
        lines.push_back(
            "WARNING: the trace was not closed (the recorder was killed, crashed, or the machine "
            "stopped): it ends with a block written at " +
            format_wall_time(r, f->last_block_ns) + "; events after that are missing");
    } else {
        lines.push_back(
            "WARNING: the trace was not closed (the recorder was killed, crashed, or the machine "
            "stopped): events near its end are missing");
    }
    if (r.finish && r.finish->skipped_runs)
        lines.push_back("WARNING: the kernel skipped " + std::to_string(r.finish->skipped_runs) +
                        " run(s) of the capture's programs (one was already running on that CPU): their events are "
                        "missing, so a page shown held may have been freed or released unseen");
    if (f && f->unverified_records)
        lines.push_back("WARNING: the last " + std::to_string(f->unverified_records) +
                        " records were written without their checksum (cut mid-write): read unchecked");
    if (f && f->torn_bytes)
        lines.push_back("WARNING: a torn end of " + std::to_string(f->torn_bytes) + " bytes at byte " +
                        std::to_string(f->end_offset) + " was skipped");
    if (f && !f->sealed)
        lines.push_back("note: a trace format before 1.3 has no checksums: damage to it cannot be detected");
    if (f && f->outside_ram_records)
        lines.push_back("note: " + std::to_string(f->outside_ram_records) +
                        " records name pages outside the recorded machine's System RAM (device memory such as "
                        "persistent memory or a PCI BAR, or memory added while recording): read like any other");
    return lines;
}

void header(Document& d, const Report& r)
{
    std::string h =
        "pintrace report — kernel " + r.info.get("kernel_release", "?") + " on " + r.info.get("hostname", "?");
    if (auto start = r.info.get_u64("start_monotonic_ns")) {
        h += ", started " + format_wall_time(r, *start);
        if (r.finish && r.finish->end_ns > *start) h += ", " + format_duration(r.finish->end_ns - *start);
    }
    d.heading(h);
    for (const auto& line : recording_end_lines(r)) d.line(0, line);
    if (r.capture_complete()) {
        d.line(0, "capture: complete (" + std::to_string(r.info.attach.size()) + " attach points)");
    } else {
        d.line(0, "capture: DEGRADED, " + std::to_string(missing_attach_points(r.info.attach)) +
                      " attach point(s) missing; what this trace cannot show:");
        std::string table = render_attach_table(r.info.attach);
        size_t start = 0;
        while (start < table.size()) {
            size_t end = table.find('\n', start);
            d.line(0, table.substr(start, end - start), Document::Style::Code);
            start = end == std::string::npos ? table.size() : end + 1;
        }
    }
    if (std::string pins = pairing_line(r); !pins.empty()) d.line(0, pins);
    if (r.lost_total)
        d.line(0, "LOST EVENTS: " + std::to_string(r.lost_total) + " records dropped in " +
                      std::to_string(r.lost.size()) + " window(s); ownership in those windows is uncertain");
    else
        d.line(0, "lost events: none");
    if (r.options.until_ns) d.line(0, "replayed up to --until " + format_clock(r, *r.options.until_ns));
    snapshot_header(d, r);
}

void failures(Document& d, const Report& r, const ReportView& view)
{
    size_t shown = 0, n = 0;
    for (const auto& f : r.failures) {
        ++n;
        if (!view.failures.matches(r, f)) continue;
        ++shown;
        d.blank();
        d.line(0, "[" + std::to_string(n) + "] " + format_wall_time(r, f.head.ts_ns) + "  " + failure_sentence(r, f),
               Document::Style::Strong);
        if (r.lost_between(r.first_ns, f.head.ts_ns))
            d.line(1, "note: events were lost before this failure; a holder may be missing");
        if (!f.pfns_observed) continue;
        if (f.walk_truncated)
            d.line(1, "note: only the first " + std::to_string(f.pages.size()) + " stuck pages were read");
        culprit_groups(d, r, f, f.pages, view);
        if (view.failures.holders.empty()) inferred_groups(d, r, f.pages);
        if (f.held_in_range_total) {
            d.line(1, std::to_string(f.held_in_range_total) +
                          (f.kind == Failure::Kind::Cma ?
                               " page(s) held in the busy ranges (each keeps its range from being allocated):" :
                               " more page(s) of the range are held (the kernel stops at the first busy one; "
                               "these would stop the next attempt):"));
            culprit_groups(d, r, f, f.held_in_range, view);
            if (view.failures.holders.empty()) {
                inferred_groups(d, r, f.held_in_range);
                if (auto pfns = held_without_candidate(f.held_in_range); !pfns.empty())
                    d.line(2,
                           std::to_string(pfns.size()) +
                               " page(s) held since before the trace (the snapshot's counts), no candidate "
                               "holder: " +
                               pfn_list(pfns),
                           Document::Style::Strong);
            }
        }
        if (!view.failures.holders.empty()) continue;
        for (const auto& g : group_unexplained(r, f)) {
            std::vector<uint64_t> pfns;
            for (auto* p : g.pages) pfns.push_back(p->pfn);
            d.line(2,
                   std::string(cause_heading(g.cause)) + (g.why.empty() ? "" : ", " + g.why) + ": " +
                       std::to_string(g.pages.size()) + " page(s) with no holder in the trace (" +
                       std::string(cause_name(g.cause)) + "): " + pfn_list(pfns),
                   Document::Style::Strong);
            if (!g.what.empty()) d.line(3, "what: " + g.what);
            if (g.persistent) d.line(3, "stuck with no holder in an earlier failure of this trace too");
            d.line(3, "next: " + g.next);
        }
    }
    if (shown < r.failures.size())
        d.line(0, std::to_string(r.failures.size() - shown) + " failure(s) not shown (filter)");
}

// Long-term pins that first moved their pages out of CMA / ZONE_MOVABLE.
void pin_migrations(Document& d, const Report& r)
{
    if (r.pin_migrations.empty()) return;
    d.blank();
    d.heading("LONG-TERM PINS THAT MOVED PAGES FIRST (out of CMA or ZONE_MOVABLE; migrate reason longterm_pin)");
    for (const auto& m : r.pin_migrations)
        d.line(1, format_wall_time(r, m.head.ts_ns) + "  pid " + std::to_string(m.head.task.tgid) + " (" +
                      std::string(comm_view(m.head.task.comm)) + "): " + std::to_string(m.moved) + " page(s) moved" +
                      (m.failed ? ", " + std::to_string(m.failed) +
                                      " could not move, so the pin failed (see the longterm_pin failure)" :
                                  std::string(", then pinned")));
}

// Pages the snapshot found held and no release or free took back: held
// since before the trace, by the candidates it inferred.
void held_since_before(Document& d, const Report& r)
{
    if (!r.snapshot || !r.snapshot->held_at_end) return;
    const SnapshotSeed& s = *r.snapshot;
    std::string who;
    for (const auto& [pid, pages] : s.held_at_end_by_pid) {
        auto h =
            std::find_if(s.holders.begin(), s.holders.end(), [&, pid = pid](const auto& x) { return x.pid == pid; });
        who += (who.empty() ? "" : ", ") + std::string("pid ") + std::to_string(pid) + " (" + h->comm + ") " +
               std::to_string(pages);
    }
    d.line(1, "held since before the trace (the snapshot's inference, not traced): " + std::to_string(s.held_at_end) +
                  " page(s)" + (who.empty() ? ", no candidate holder" : "; candidates: " + who));
}

void holders(Document& d, const Report& r, const ReportView& view)
{
    auto rows = pinner_rows(r, view.pinners);
    size_t holding = std::count_if(rows.begin(), rows.end(), [](const PinnerRow& p) { return p.pages > 0; });
    d.blank();
    std::string at = r.options.until_ns ? "at --until " + format_clock(r, r.end_ns) :
                                          "at the end of the trace (" + format_clock(r, r.end_ns) + ")";
    d.heading("WHO HOLDS PAGES " + at + ", by " + std::string(group_by_name(view.pinners.group_by)) + ": " +
              std::to_string(holding) + " holding, " + std::to_string(rows.size() - holding) + " released all");
    if (rows.empty()) {
        d.line(1, "nobody: no pin or reference was taken during the trace" +
                      std::string(view.pinners.filter.empty() ? "" : " by what the filter selects"));
        held_since_before(d, r);
        return;
    }
    held_since_before(d, r);
    d.table(pinners_table(r, rows, view.pinners.group_by, view.top));
    if (view.top && rows.size() > view.top)
        d.line(1, "(" + std::to_string(rows.size() - view.top) + " more: --top 0 shows all)");

    DurationHistogram released = released_durations(r, view.pinners.filter);
    DurationHistogram held = held_ages(r, view.pinners.filter);
    if (released.total() + held.total()) {
        d.blank();
        // Counted in pins and references, not in release records (one can end several).
        d.heading("PIN DURATIONS: " + std::to_string(released.total()) +
                  " pin(s) and reference(s) released during "
                  "the trace, " +
                  std::to_string(held.total()) + " still held (by age)");
        d.table(durations_table(released, held));
    }
    if (r.options.threshold_ns) {
        d.blank();
        d.heading("HELD LONGER THAN " + format_duration(r.options.threshold_ns));
        d.line(1, long_holds_headline(r, view.pinners.filter));
        d.table(long_holds_table(r, view.pinners.filter, view.top ? view.top * 2 : 0));
    }
}

void history(Document& d, const Report& r, const ReportView& view)
{
    if (r.options.history_pfns.empty()) return;
    std::string pfns;
    for (uint64_t p : r.options.history_pfns) pfns += (pfns.empty() ? "" : ", ") + format_pfn(p);
    d.blank();
    d.heading("HISTORY OF PFN " + pfns + ": " + std::to_string(r.history.size()) + " event(s)");
    if (r.history.empty())
        d.line(1, "no grab, release, free or failure touched it during the trace");
    else
        history_lines(d, r, view.show_stacks);
    for (uint64_t pfn : r.options.history_pfns) {
        auto it = r.history_holders.find(pfn);
        if (it == r.history_holders.end() || it->second.empty()) {
            d.line(1, format_pfn(pfn) + " at the end: no holder in the ledger");
            continue;
        }
        for (const Holder& h : it->second)
            d.line(1, format_pfn(pfn) + " at the end: held by " + owner_label(r, h.owner) + ", " +
                          flag_string(h.flags, "|") + " x" + std::to_string(h.count) + " since " +
                          format_clock(r, h.first_ns) +
                          (r.holder_uncertain(h, r.end_ns) ? " (UNCERTAIN: events lost since)" : ""));
    }
}

Document build(const Report& r, const ReportView& view)
{
    Document d;
    header(d, r);
    d.blank();
    d.line(0, "SUMMARY: " + report_summary(r), Document::Style::Strong);
    failures(d, r, view);
    pin_migrations(d, r);
    holders(d, r, view);
    history(d, r, view);
    d.blank();
    std::string stats = std::to_string(r.stats.grabs) + " grabs, " + std::to_string(r.stats.releases) + " releases, " +
                        std::to_string(r.stats.migrations) + " migrations seen; " +
                        std::to_string(r.stats.pages_held_at_end) + " pages still held at the end";
    if (r.stats.unmatched_releases)
        stats += "; " + std::to_string(r.stats.unmatched_releases) + " releases of pins taken before the trace";
    d.line(0, stats);
    return d;
}

}  // namespace

const PairingMode* pairing_mode(const Report& r)
{
    std::string meta = r.info.get("pairing");
    for (const auto& m : kPairingModes)
        if (meta == m.meta) return &m;
    return nullptr;
}

std::string pairing_threshold(const Report& r)
{
    return format_duration(r.info.get_u64("pairing_threshold_ns").value_or(0));
}

std::string pairing_line(const Report& r)
{
    const PairingMode* m = pairing_mode(r);
    if (!m) return "";
    std::string text = m->text;
    replace(text, "{threshold}", pairing_threshold(r));
    replace(text, "{refusal}", r.info.get("pairing_refused", "no reason recorded"));
    replace(text, "{pairs}",
            r.finish ? std::to_string(r.finish->paired_pins) + " pairs"
                     : "how many is unknown: the trace was not closed");
    return "pins: " + text;
}


std::string render_report_text(const Report& r, const ReportView& view) { return build(r, view).text(); }

std::string render_report_markdown(const Report& r, const ReportView& view) { return build(r, view).markdown(); }

std::string render_history_text(const Report& r, const ReportView& view)
{
    Document d;
    history(d, r, view);
    return d.text();
}

}  // namespace pintrace
