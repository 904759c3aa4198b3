// pintrace top: the live view of who pins pages and why migrations fail,
// full screen or as batch snapshots; --replay drives it from a trace.
#include <signal.h>

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <memory>
#include <optional>

#include "capture/kernel_info.hpp"
#include "commands.hpp"
#include "stop_signals.hpp"
#include "top/app.hpp"
#include "top/source.hpp"
#include "top/terminal.hpp"
#include "trace/reader.hpp"

namespace pintrace::cli {
namespace {

struct TopArgs {
    std::string replay;
    double speed = 1;
    bool batch = false;
    double interval = 1;
    uint64_t iterations = 0;
    std::string format = "text";
    bool allow_incomplete = false;
    std::string sort, comm, cgroup;
    std::optional<uint32_t> pid;
};

int run_top(const TopArgs& a)
{
    // A day between refreshes is already no live view; inf and nan are none.
    if (!(a.interval > 0 && a.interval <= 86400))
        return fail("top", "--interval must be more than 0 and at most 86400 seconds", kExitUsage);
    if (!(a.speed >= 0 && std::isfinite(a.speed)))
        return fail("top", "--speed must be 0 (unpaced) or more", kExitUsage);
    top::TopState state;
    if (!a.sort.empty()) {
        auto keys = parse_sort_keys(a.sort);
        if (!keys) return fail("top", keys.error().message, kExitUsage);
        state.sort = keys.value();
    }
    state.filter = HolderFilter{a.pid, a.comm, a.cgroup};
    if (a.pid)
        state.filter_text = "pid:" + std::to_string(*a.pid);
    else if (!a.comm.empty())
        state.filter_text = "comm:" + a.comm;
    else if (!a.cgroup.empty())
        state.filter_text = "cgroup:" + a.cgroup;

    std::unique_ptr<top::EventSource> source;
    if (!a.replay.empty()) {
        auto reader = TraceReader::open(a.replay);
        if (!reader) return fail("top", a.replay + ": " + reader.error().message);
        source = top::replay_source(std::move(reader.value()), a.replay, a.speed, a.allow_incomplete);
    } else {
        if (std::string why = missing_privileges(); !why.empty()) return fail("top", why, kExitNoPrivileges);
        auto live = top::live_source(CaptureOptions{});
        if (!live) return fail("top", live.error().message);
        source = std::move(live.value());
    }
    install_stop_signals();

    top::TopOptions options;
    options.interval_s = a.interval;
    options.iterations = a.iterations;
    options.json = a.format == "json";
    options.stop = &g_stop_signal;
    if (const char* cols = std::getenv("COLUMNS"); cols && std::atoi(cols) > 0) options.width = std::atoi(cols);
    const std::string where = a.replay.empty() ? "" : a.replay + ": ";

    bool batch = a.batch || options.json;
    std::unique_ptr<top::Terminal> terminal;
    if (!batch) {
        auto t = top::Terminal::open();
        if (t) {
            terminal = std::move(t.value());
        } else {
            std::fprintf(stderr, "pintrace top: %s: printing batch snapshots instead\n", t.error().message.c_str());
            batch = true;
        }
    }
    auto run = batch ? top::run_batch(*source, state, options, stdout) :
                       top::run_interactive(*source, *terminal, state, options);
    terminal.reset();  // the screen is restored before any error is printed
    if (!run) return fail("top", where + run.error().message);
    return kExitOk;
}

}  // namespace

Runner setup_top(CLI::App& sub)
{
    auto args = std::make_shared<TopArgs>();
    sub.add_option("--replay", args->replay, "Drive the view from a trace file instead of the live kernel");
    sub.add_option("--speed", args->speed, "Replay pace: 1 as recorded, 2 twice as fast, 0 as fast as it reads")
        ->capture_default_str();
    sub.add_flag("-b,--batch", args->batch, "Print plain snapshots instead of the full-screen view (like top -b)");
    sub.add_option("-d,--interval", args->interval, "Seconds between refreshes and batch snapshots")
        ->capture_default_str();
    sub.add_option("-n,--iterations", args->iterations, "Batch: stop after N snapshots (0: at the end or on Ctrl-C)")
        ->check(decimal_in(0, UINT32_MAX))
        ->capture_default_str();
    sub.add_option("--format", args->format, "Batch output: text, or json (one object per line; implies --batch)")
        ->check(CLI::IsMember({"text", "json"}))
        ->capture_default_str();
    sub.add_flag("--allow-incomplete", args->allow_incomplete, "Replay a trace whose recorder was killed");
    sub.add_option("--sort", args->sort, "Initial order: " + sort_key_names() + " (KEY[,KEY])");
    sub.add_option("--pid", args->pid, "Only holders in this process")->check(decimal_in(0, INT32_MAX));
    sub.add_option("--comm", args->comm, "Only holders with this command name");
    sub.add_option("--cgroup", args->cgroup, "Only holders in this cgroup (path prefix, or numeric id)");
    sub.footer(
        "Keys: arrows/j/k move, Enter details, s/F6 sort, / filter, p pause, h/? help, q quit. "
        "Live capture needs root (or CAP_BPF and CAP_PERFMON), like record.\n" +
        exit_codes_footer("top"));
    return [args] { return run_top(*args); };
}

}  // namespace pintrace::cli
