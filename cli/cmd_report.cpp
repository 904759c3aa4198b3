// pintrace report: explain the migration failures in a trace.
#include <cstdio>
#include <memory>

#include "commands.hpp"
#include "explain/explainer.hpp"
#include "render/format.hpp"
#include "render/report_views.hpp"
#include "trace/reader.hpp"

namespace pintrace::cli {
namespace {

struct ReportArgs {
    std::string file = "pintrace.trace";
    std::string format = "text";
    bool allow_incomplete = false;
    bool no_stacks = false;
};

int run_report(const ReportArgs& args)
{
    auto reader = TraceReader::open(args.file);
    if (!reader) return fail("report", args.file + ": " + reader.error().message);

    Explainer explainer(reader->info());
    auto read = reader->read([&](const Event& e) { explainer.consume(e); }, {args.allow_incomplete});
    if (!read) return fail("report", args.file + ": " + read.error().message);
    Report report = std::move(explainer).finish();

    std::string out = args.format == "json" ? render_report_json(report) : render_report_text(report, !args.no_stacks);
    std::fwrite(out.data(), 1, out.size(), stdout);
    return report_exit_code(report);
}

}  // namespace

Runner setup_report(CLI::App& sub)
{
    auto args = std::make_shared<ReportArgs>();
    sub.add_option("file", args->file, "Trace file written by pintrace record")->capture_default_str();
    sub.add_option("--format", args->format, "text or json")
        ->check(CLI::IsMember({"text", "json"}))
        ->capture_default_str();
    sub.add_flag("--allow-incomplete", args->allow_incomplete,
                 "Read a trace whose recorder was killed before closing it");
    sub.add_flag("--no-stacks", args->no_stacks, "Leave stacks out of the text report");
    sub.footer(
        "Exit status: 0 no migration failed; 3 failures, every stuck page has a culprit; 4 failures with pages "
        "no holder explains (or pages not observable); 1 error; 2 usage.");
    return [args] { return run_report(*args); };
}

}  // namespace pintrace::cli
