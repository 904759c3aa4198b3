// pintrace explain --pfn PFN[,PFN...] [TRACE]: one page's whole story: its
// state in the live kernel now, who may hold it now (candidates with
// evidence), and, given a trace, every grab, release and failure recorded.
#include <cstdio>
#include <memory>
#include <optional>

#include "commands.hpp"
#include "explain/explainer.hpp"
#include "render/explain_views.hpp"
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
    std::string format = "text";
};

int run_explain(const ExplainArgs& args)
{
    using namespace snapshot;
    auto list = parse_pfn_list(args.pfns);
    if (!list) return fail("explain", "--pfn: " + list.error().message, kExitUsage);
    if (std::string why = page_state_denied(); !why.empty()) return fail("explain", why, kExitNoPrivileges);
    std::set<uint64_t> pfns(list->begin(), list->end());
    std::string note;
    auto bpf = open_page_source(args.source, note);
    if (!bpf) return fail("explain", bpf.error().message);
    const BpfRefcounts* source = bpf.value().get();

    Explanation e;
    auto owners = find_owners_as(pfns, 0, 0, source, note);
    e.owners = &owners;
    PinHints hints = registered_pins(owners);
    bool blocks = false;
    for (uint64_t pfn : pfns) {
        auto now = page_now(pfn, &hints, bpf.value().get());
        if (!now) return fail("explain", now.error().message);
        PageNow p{now.value(), "", blocks_migration(now->verdict.cls), holders_now(owners, pfn)};
        if (now->state.migratetype && source) p.migratetype = source->pageblocks().name(*now->state.migratetype);
        blocks = blocks || p.blocks_migration;
        e.pages.push_back(std::move(p));
    }

    std::optional<Report> recorded;
    if (!args.trace.empty()) {
        auto reader = TraceReader::open(args.trace);
        if (!reader) return fail("explain", args.trace + ": " + reader.error().message);
        ExplainOptions options;
        options.history_pfns.assign(pfns.begin(), pfns.end());
        Explainer explainer(reader->info(), options);
        auto read = reader->read([&](const Event& ev) { explainer.consume(ev); }, {true});
        if (!read) return fail("explain", args.trace + ": " + read.error().message);
        recorded = std::move(explainer).finish();
        e.recorded = &*recorded;
        e.trace = args.trace;
        e.trace_complete = read->finished;
        e.view.show_stacks = !args.no_stacks;
    }
    e.source = source_name(source != nullptr);
    if (!note.empty()) e.not_visible.push_back(note);
    for (const auto& b : ProcPageSource::blind_spots(source != nullptr)) e.not_visible.push_back(b);
    e.exit_code = blocks ? kExitBlocked : kExitOk;

    std::string out = args.format == "json" ? render_explain_json(e) : render_explain_text(e);
    std::fwrite(out.data(), 1, out.size(), stdout);
    return e.exit_code;
}

}  // namespace

Runner setup_explain(CLI::App& sub)
{
    auto args = std::make_shared<ExplainArgs>();
    sub.add_option("--pfn", args->pfns, "The pages (PFN[,PFN...], hex with 0x or decimal)")->required();
    sub.add_option("trace", args->trace, "A trace file from pintrace record: adds the pages' recorded history");
    sub.add_option("--source", args->source,
                   "auto (BPF refcounts when the kernel allows, else /proc only), bpf, or proc")
        ->check(CLI::IsMember({"auto", "bpf", "proc"}))
        ->capture_default_str();
    sub.add_flag("--no-stacks", args->no_stacks, "Leave stacks out of the history");
    sub.add_option("--format", args->format, "text, or json (schema pintrace.explain/1, docs/report-json.md)")
        ->check(CLI::IsMember({"text", "json"}))
        ->capture_default_str();
    sub.footer(exit_codes_footer("explain"));
    return [args] { return run_explain(*args); };
}

}  // namespace pintrace::cli
