// pintrace report: explain the migration failures in a trace, and show who
// held pages, for how long, and one page's history.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>

#include "commands.hpp"
#include "explain/explainer.hpp"
#include "explain/pinners.hpp"
#include "render/format.hpp"
#include "render/report_views.hpp"
#include "trace/reader.hpp"
#include "trace/trace_time.hpp"
#include "util/duration.hpp"

namespace pintrace::cli {
namespace {

struct ReportArgs {
    std::string file = "pintrace.trace";
    std::string output = "-";
    std::string format = "text";
    bool allow_incomplete = false;
    bool no_stacks = false;
    size_t top = 10;
    std::string threshold, since, until, pfns, sort, group_by = "pid", cgroup, comm, reason;
    std::optional<uint32_t> pid;
};

// --reason: the names this trace's kernel gives its migrate reasons (from
// its BTF, stored in the header), the kinds of failure that are not
// migrations, and "reason_N" for a number the kernel did not name. A typo
// must not read as "no migration failed".
Result<void> check_reason(const std::string& reason, const TraceInfo& info)
{
    std::vector<std::string> valid;
    for (const auto& [value, name] : info.migrate_reasons) valid.push_back(name);
    for (auto kind : {Failure::Kind::Isolation, Failure::Kind::Cma, Failure::Kind::ContigAlloc})
        valid.emplace_back(failure_kind_name(kind));
    if (std::find(valid.begin(), valid.end(), reason) != valid.end()) return {};
    if (reason.starts_with("reason_") && reason.size() > 7 &&
        reason.find_first_not_of("0123456789", 7) == std::string::npos)
        return {};
    std::string list;
    for (const auto& v : valid) list += (list.empty() ? "" : ", ") + v;
    return make_error("--reason: unknown reason '" + reason + "' (this trace's are: " + list + ")");
}

// Everything the options ask for that needs the trace's header (its clocks).
Result<std::pair<ExplainOptions, ReportView>> views_from(const ReportArgs& a, const TraceInfo& info)
{
    ExplainOptions ex;
    ReportView view;
    view.top = a.top;
    view.show_stacks = !a.no_stacks;
    HolderFilter holders{a.pid, a.comm, a.cgroup};
    view.failures.holders = holders;
    view.pinners.filter = holders;
    if (!a.reason.empty())
        if (auto r = check_reason(a.reason, info); !r) return r.error();
    view.failures.reason = a.reason;
    if (!a.threshold.empty()) {
        auto t = parse_duration_ns(a.threshold);
        if (!t || !*t) return make_error("--threshold: not a duration: '" + a.threshold + "' (e.g. 300ms, 5s, 2h)");
        ex.threshold_ns = *t;
    }
    if (!a.since.empty()) {
        auto t = parse_trace_time(a.since, info);
        if (!t) return make_error("--since: " + t.error().message);
        view.failures.since_ns = t.value();
    }
    if (!a.until.empty()) {
        auto t = parse_trace_time(a.until, info);
        if (!t) return make_error("--until: " + t.error().message);
        ex.until_ns = view.failures.until_ns = t.value();
    }
    if (view.failures.since_ns && ex.until_ns && *view.failures.since_ns > *ex.until_ns)
        return make_error("--since is after --until");
    if (!a.pfns.empty()) {
        auto p = parse_pfn_list(a.pfns);
        if (!p) return make_error("--pfn: " + p.error().message);
        ex.history_pfns = p.value();
    }
    auto group = parse_group_by(a.group_by);
    if (!group) return group.error();
    view.pinners.group_by = group.value();
    if (!a.sort.empty()) {
        auto keys = parse_sort_keys(a.sort);
        if (!keys) return keys.error();
        view.pinners.sort = keys.value();
    }
    return std::pair{ex, view};
}

// The report goes whole to a file or not at all: written beside it under a
// temporary name, then renamed over it, so a reader (a ticket, a runbook
// step) never sees half of one. 0600, like the trace: it names the same
// processes, paths and stacks.
Result<void> write_whole(const std::string& path, std::string_view text)
{
    std::string tmp = path + ".tmp." + std::to_string(getpid());
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) return make_error("cannot write " + path + ": " + std::strerror(errno));
    size_t done = 0;
    while (done < text.size()) {
        ssize_t n = ::write(fd, text.data() + done, text.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            int err = n < 0 ? errno : EIO;
            ::close(fd);
            ::unlink(tmp.c_str());
            return make_error("cannot write " + path + ": " + std::strerror(err));
        }
        done += static_cast<size_t>(n);
    }
    if (::close(fd) != 0 || ::rename(tmp.c_str(), path.c_str()) != 0) {
        int err = errno;
        ::unlink(tmp.c_str());
        return make_error("cannot write " + path + ": " + std::strerror(err));
    }
    return {};
}

int run_report(const ReportArgs& args)
{
    auto reader = TraceReader::open(args.file);
    if (!reader) return fail("report", args.file + ": " + reader.error().message);
    auto views = views_from(args, reader->info());
    if (!views) return fail("report", views.error().message, kExitUsage);
    auto& [options, view] = views.value();

    Explainer explainer(reader->info(), options);
    auto read = reader->read([&](const Event& e) { explainer.consume(e); }, {args.allow_incomplete});
    if (!read) return fail("report", args.file + ": " + read.error().message);
    Report report = std::move(explainer).finish();
    report.file = read.value();

    std::string out = args.format == "json"     ? render_report_json(report, view) :
                      args.format == "markdown" ? render_report_markdown(report, view) :
                                                  render_report_text(report, view);
    if (args.output == "-")
        std::fwrite(out.data(), 1, out.size(), stdout);
    else if (auto w = write_whole(args.output, out); !w)
        return fail("report", w.error().message);
    return report_exit_code(report, &view.failures);
}

}  // namespace

Runner setup_report(CLI::App& sub)
{
    auto args = std::make_shared<ReportArgs>();
    sub.add_option("file", args->file, "Trace file written by pintrace record")->capture_default_str();
    sub.add_option("--format", args->format, "text, json or markdown (for an incident ticket)")
        ->check(CLI::IsMember({"text", "json", "markdown"}))
        ->capture_default_str();
    sub.add_option("-o,--output", args->output,
                   "Write the report to FILE (0600, replaced whole) instead of standard output (-)")
        ->capture_default_str();
    sub.add_flag("--allow-incomplete", args->allow_incomplete,
                 "Read a trace whose recorder was killed before closing it");
    sub.add_flag("--no-stacks", args->no_stacks, "Leave stacks out of the text report");
    auto views = "Views";
    sub.add_option("--top", args->top, "Rows per table in text and markdown; 0 shows all")
        ->check(decimal_in(0, UINT32_MAX))
        ->capture_default_str()
        ->group(views);
    sub.add_option("--threshold", args->threshold,
                   "List pins held longer than DURATION (e.g. 300ms, the default of Android's page_pinner)")
        ->group(views);
    sub.add_option("--pid", args->pid, "Only holders in this process")->check(decimal_in(0, INT32_MAX))->group(views);
    sub.add_option("--comm", args->comm, "Only holders with this command name")->group(views);
    sub.add_option("--cgroup", args->cgroup, "Only holders in this cgroup (path prefix, or numeric id)")->group(views);
    sub.add_option("--reason", args->reason,
                   "Only failures of this kind: compaction, syscall_or_cpuset, memory_hotplug, contig_range, "
                   "longterm_pin, isolation, cma, ... (the trace's kernel names them; an unknown one is a usage error "
                   "listing them)")
        ->group(views);
    sub.add_option("--since", args->since, "Only failures from TIME on: +30s, 14:05:30 (UTC) or 2026-11-22T14:05:30")
        ->group(views);
    sub.add_option("--until", args->until, "Replay up to TIME: holders as they were then, failures until then")
        ->group(views);
    sub.add_option("--pfn", args->pfns, "One page's whole history (PFN[,PFN...]): every grab, release, free, failure")
        ->group(views);
    sub.add_option("--sort", args->sort,
                   "Holders table order: " + sort_key_names() + " (KEY[,KEY]; default pages,longterm)")
        ->group(views);
    sub.add_option("--group-by", args->group_by, "Holders table rows: pid, comm, cgroup or stack")
        ->capture_default_str()
        ->group(views);
    sub.footer(exit_codes_footer("report"));
    return [args] { return run_report(*args); };
}

}  // namespace pintrace::cli
