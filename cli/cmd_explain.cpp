// pintrace explain --pfn PFN[,PFN...] [TRACE]: one page's whole story: its
// state in the live kernel now, who may hold it now (candidates with
// evidence), and, given a trace, every grab, release and failure recorded.
#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <memory>

#include "commands.hpp"
#include "explain/explainer.hpp"
#include "render/report_views.hpp"
#include "render/safe_text.hpp"
#include "render/snapshot_views.hpp"
#include "snapshot/owners.hpp"
#include "snapshot/proc_source.hpp"
#include "snapshot/snapshot.hpp"
#include "trace/reader.hpp"
#include "trace/trace_time.hpp"

namespace pintrace::cli {
namespace {

struct ExplainArgs {
    std::string pfns;
    std::string trace;
    bool no_stacks = false;
    std::string source = "auto";
};

int run_explain(const ExplainArgs& args)
{
    using namespace snapshot;
    auto list = parse_pfn_list(args.pfns);
    if (!list) return fail("explain", "--pfn: " + list.error().message, kExitUsage);
    if (std::string why = page_state_denied(); !why.empty()) return fail("explain", why, kExitNoPrivileges);
    std::string out;
    bool blocks = false;
    std::set<uint64_t> pfns(list->begin(), list->end());
    std::string note;
    auto bpf = open_page_source(args.source, note);
    if (!bpf) return fail("explain", bpf.error().message);
    auto owners = find_owners_as(pfns, 0, 0, bpf.value().get(), note);
    PinHints hints = registered_pins(owners);
    for (uint64_t pfn : pfns) {
        auto now = page_now(pfn, &hints, bpf.value().get());
        if (!now) return fail("explain", now.error().message);
        char head[64];
        std::snprintf(head, sizeof head, "PFN 0x%" PRIx64 " NOW: ", pfn);
        out += head + std::string(class_name(now->verdict.cls)) + " (" + now->verdict.why + "); flags " +
               kpf_string(now->state.flags) + (now->zone.empty() ? "" : "; zone " + now->zone);
        if (now->state.pincount && now->state.folio_order)
            out += "; folio of order " + std::to_string(*now->state.folio_order) + ", pin count " +
                   std::to_string(*now->state.pincount);
        if (now->state.migratetype && bpf.value())
            out += "; " + std::string(bpf.value()->pageblocks().name(*now->state.migratetype)) + " pageblock";
        out += "\n";
        out += "  would block migration: " +
               std::string(blocks_migration(now->verdict.cls) ? "yes, " + std::string(class_description(now->verdict.cls))
                                                              : "not by what this source shows") +
               "\n";
        for (const auto& c : owners.candidates) {
            if (!c.pfns.count(pfn)) continue;
            // Per page: likely only where the long-term pin evidence covers this page.
            std::string how = "possible holder (maps it)";
            for (const auto& e : c.evidence)
                if (e.long_term && std::count(e.pfns.begin(), e.pfns.end(), pfn))
                    how = e.named_by_fd ? "likely holder (pinned it as " + std::string(origin_description(e.origin)) + ")"
                                        : "likely holder (a long-term pin holder that maps it: " +
                                              std::string(origin_description(e.origin)) + ")";
            out += "  " + how + ": pid " + std::to_string(c.pid) + " (" + c.comm + ")\n";
        }
        blocks = blocks || blocks_migration(now->verdict.cls);
    }
    out += "\nWHO MAY HOLD IT NOW (candidates from /proc, with evidence; not certainty)\n";
    out += render_candidates_text(owners);

    if (!args.trace.empty()) {
        auto reader = TraceReader::open(args.trace);
        if (!reader) return fail("explain", args.trace + ": " + reader.error().message);
        ExplainOptions options;
        options.history_pfns.assign(pfns.begin(), pfns.end());
        Explainer explainer(reader->info(), options);
        auto read = reader->read([&](const Event& e) { explainer.consume(e); }, {true});
        if (!read) return fail("explain", args.trace + ": " + read.error().message);
        Report report = std::move(explainer).finish();
        ReportView view;
        view.show_stacks = !args.no_stacks;
        // An unclosed trace (recorder killed) is read anyway, as report
        // --allow-incomplete reads it, but said to be: what happened after
        // its last record is unknown, so its history is not certain.
        if (read->finished)
            out += "\nRECORDED in " + args.trace + " (certain: seen as it happened)";
        else
            out += "\nRECORDED in " + args.trace +
                   " (INCOMPLETE: the trace was not closed (recorder killed?); events near its end are missing, "
                   "so this history is not certain)";
        out += render_history_text(report, view);
    } else {
        out += "\n(no trace given: pass one recorded by `pintrace record` for this page's pin history)\n";
    }
    out += "\nNOT VISIBLE from " + source_name(bpf.value() != nullptr) + ":\n";
    if (!note.empty()) out += "  - " + note + "\n";
    for (const auto& b : ProcPageSource::blind_spots(bpf.value() != nullptr)) out += "  - " + b + "\n";
    out = printable(out, true);  // candidates' comm: any bytes their processes chose
    std::fwrite(out.data(), 1, out.size(), stdout);
    return blocks ? kExitBlocked : kExitOk;
}

}  // namespace

Runner setup_explain(CLI::App& sub)
{
    auto args = std::make_shared<ExplainArgs>();
    sub.add_option("--pfn", args->pfns, "The pages (PFN[,PFN...], hex with 0x or decimal)")->required();
    sub.add_option("trace", args->trace, "A trace file from pintrace record: adds the pages' recorded history");
    sub.add_option("--source", args->source, "auto (BPF refcounts when the kernel allows, else /proc only), bpf, or proc")
        ->check(CLI::IsMember({"auto", "bpf", "proc"}))
        ->capture_default_str();
    sub.add_flag("--no-stacks", args->no_stacks, "Leave stacks out of the history");
    sub.footer(exit_codes_footer("explain"));
    return [args] { return run_explain(*args); };
}

}  // namespace pintrace::cli
