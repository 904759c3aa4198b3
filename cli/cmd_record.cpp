// pintrace record: capture system-wide until a duration, a signal, or the
// end of a traced command; the file is complete in every case.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <future>
#include <memory>

#include "capture/kernel_info.hpp"
#include "capture/recorder.hpp"
#include "capture/session.hpp"
#include "commands.hpp"
#include "render/attach_table.hpp"
#include "snapshot/bpf_source.hpp"
#include "snapshot/seed.hpp"
#include "stop_signals.hpp"
#include "trace/writer.hpp"
#include "util/clock.hpp"
#include "util/duration.hpp"

namespace pintrace::cli {
namespace {

std::string join(const std::vector<std::string>& args)
{
    std::string s;
    for (const auto& a : args) s += (s.empty() ? "" : " ") + a;
    return s;
}

// Starts the command only after capture is attached, so its first pin is
// seen. An exec that fails is told through a close-on-exec pipe, not by
// exit status 127, which the command itself may return.
Result<pid_t> spawn(const std::vector<std::string>& argv)
{
    int pipefd[2];
    if (pipe2(pipefd, O_CLOEXEC) != 0) return make_error(std::string("pipe: ") + std::strerror(errno));
    pid_t pid = fork();
    if (pid < 0) {
        int err = errno;
        close(pipefd[0]);
        close(pipefd[1]);
        return make_error(std::string("fork: ") + std::strerror(err));
    }
    if (pid == 0) {
        close(pipefd[0]);
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        std::vector<char*> args;
        for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
        args.push_back(nullptr);
        execvp(args[0], args.data());
        int err = errno;
        ssize_t unused = write(pipefd[1], &err, sizeof err);
        (void)unused;
        _exit(127);
    }
    close(pipefd[1]);
    int err = 0;
    ssize_t n;
    do n = read(pipefd[0], &err, sizeof err);
    while (n < 0 && errno == EINTR);
    close(pipefd[0]);
    if (n == sizeof err) {
        waitpid(pid, nullptr, 0);
        return make_error("cannot run " + argv[0] + ": " + std::strerror(err));
    }
    return pid;
}

// The table is for people; the key=value line after it is for runbooks
// (documented in README.md). A degraded capture still exits 0: the trace
// is good for what it saw, and the exit status is the command's outcome.
void print_attach_summary(const TraceInfo& info, bool quiet)
{
    size_t missing = missing_attach_points(info.attach);
    if (quiet)
        ;  // the key=value line below alone
    else if (!missing)
        std::fprintf(stderr, "pintrace record: capture complete (%zu attach points)\n", info.attach.size());
    else
        std::fprintf(stderr, "pintrace record: DEGRADED capture, %zu of %zu attach points missing:\n%s", missing,
                     info.attach.size(), render_attach_table(info.attach).c_str());
    std::string targets;
    for (const auto& a : info.attach)
        if (!a.attached()) targets += (targets.empty() ? "" : ",") + a.target;
    std::fprintf(stderr, "pintrace record: capture=%s attach_points=%zu missing=%zu%s%s\n",
                 missing ? "degraded" : "complete", info.attach.size(), missing,
                 targets.empty() ? "" : " missing_targets=", targets.c_str());
}

// The kernel times BPF programs only with kernel.bpf_stats_enabled=1 (it
// costs a little itself), so this prints only when someone turned it on.
void print_bpf_cost(const std::vector<ProgramStats>& stats)
{
    // Runs the kernel skipped are events nobody will see: say so even when
    // run-time statistics are off.
    for (const auto& s : stats)
        if (s.recursion_misses)
            std::fprintf(stderr,
                         "pintrace record: the kernel skipped %llu run(s) of %s (BPF already running on that CPU): "
                         "their events are missing\n",
                         static_cast<unsigned long long>(s.recursion_misses), s.name.c_str());
    uint64_t runs = 0, ns = 0;
    for (const auto& s : stats) {
        runs += s.run_cnt;
        ns += s.run_time_ns;
    }
    if (!runs || !ns) return;
    std::fprintf(stderr, "pintrace record: BPF cost: %llu program runs, %.0f ns per run, %.3f s in total\n",
                 static_cast<unsigned long long>(runs), double(ns) / double(runs), ns / 1e9);
    for (const auto& s : stats)
        if (s.run_cnt)
            std::fprintf(stderr, "  %-32s %10llu runs %8.0f ns/run\n", s.name.c_str(),
                         static_cast<unsigned long long>(s.run_cnt), double(s.run_time_ns) / double(s.run_cnt));
}

struct RecordArgs {
    std::string output = "pintrace.trace";
    std::string duration;
    unsigned buffer_mib = 16;
    std::string stack_sample = "1s";
    bool all_events = false;
    std::string pair_threshold = "300ms";
    bool snapshot = false;
    std::string snapshot_range;  // implies snapshot
    std::string snapshot_source = "auto";
    std::vector<std::string> command;
    bool quiet = false;  // no attach table: the key=value line and errors only
};

// record --snapshot: the snapshot runs in a thread of its own while the
// recorder drains into memory; once it is done its records go first into
// the file, then everything drained meanwhile, and only then does the
// traced command start (so the snapshot is of the state before it).
class SeedWriter {
public:
    SeedWriter(CaptureSession& capture, TraceWriter& writer, const snapshot::RangeRequest& range,
               std::unique_ptr<snapshot::BpfRefcounts> bpf, std::string bpf_note)
        : capture_(capture), writer_(writer), holding_(writer), bpf_(std::move(bpf))
    {
        uint64_t start = monotonic_now_ns();
        pending_ = std::async(std::launch::async, [this, range, start, note = std::move(bpf_note)] {
            return snapshot::take_seed(range, start, bpf_.get(), note);
        });
        start_ns_ = start;
    }
    RecordSink& sink() { return holding_; }
    bool pending() const { return pending_.valid(); }
    bool ready() const
    {
        return pending_.valid() && pending_.wait_for(std::chrono::seconds(0)) == std::future_status::ready;
    }

    // Waits for the snapshot, writes it, then what was held back.
    Result<void> write()
    {
        auto seed = pending_.get();
        bpf_.reset();
        if (seed) {
            const auto& s = seed.value();
            if (auto r = writer_.append(s.pages); !r) return r;
            for (const auto& h : s.holders)
                if (auto r = writer_.append(h); !r) return r;
            if (auto r = writer_.append(s.end); !r) return r;
            watch_frees(s);
            size_t likely = 0;
            for (const auto& h : s.holders) likely += h.likely;
            std::fprintf(stderr,
                         "pintrace record: snapshot of %llu pages in %.2f s: %llu held (pinned or referenced), "
                         "%zu holder records, %zu likely\n",
                         static_cast<unsigned long long>(s.end.pages), (s.end.end_ns - s.end.start_ns) / 1e9,
                         static_cast<unsigned long long>(s.end.suspicious_total), s.holders.size(), likely);
        } else {
            // The recording goes on without it; the report says why there is none.
            std::fprintf(stderr, "pintrace record: snapshot failed: %s\n", seed.error().message.c_str());
            SnapshotEndEvent end;
            end.start_ns = start_ns_;
            end.end_ns = monotonic_now_ns();
            end.notes.push_back("snapshot failed: " + seed.error().message);
            if (auto r = writer_.append(end); !r) return r;
        }
        return holding_.release();
    }

private:
    // The free of a page held since before the trace ends its inference:
    // the kernel side reports frees only of pages it was told about.
    void watch_frees(const snapshot::SeedRecords& s)
    {
        std::vector<uint64_t> pfns;
        for (const auto& p : s.pages.pages) pfns.push_back(p.pfn);
        for (const auto& h : s.holders) pfns.insert(pfns.end(), h.pfns.begin(), h.pfns.end());
        std::sort(pfns.begin(), pfns.end());
        pfns.erase(std::unique(pfns.begin(), pfns.end()), pfns.end());
        // The kernel's table is shared with the pages grabbed during the
        // trace: a quarter of it at most, so those keep theirs.
        constexpr size_t kMaxWatched = 16384;
        size_t wanted = pfns.size();
        pfns.resize(std::min(wanted, kMaxWatched));
        size_t taken = capture_.watch_frees(pfns);
        if (taken < wanted)
            std::fprintf(stderr,
                         "pintrace record: frees watched for %zu of the snapshot's %zu held pages (a free of the "
                         "others goes unseen: their inference lasts)\n",
                         taken, wanted);
    }

    CaptureSession& capture_;
    TraceWriter& writer_;
    HoldingSink holding_;
    std::unique_ptr<snapshot::BpfRefcounts> bpf_;
    std::future<Result<snapshot::SeedRecords>> pending_;
    uint64_t start_ns_ = 0;
};

// The events ring buffer's size is a BPF map's max_entries: a u32 and a
// power of two, so 2 GiB at most. Larger values wrapped ("<< 20" in 32
// bits) and read as the kernel refusing the capture programs.
constexpr unsigned kMaxBufferMib = 2048;

int run_record(const RecordArgs& args)
{
    // Every option is checked before privileges and before the file exists.
    std::optional<uint64_t> duration_ns;
    if (!args.duration.empty()) {
        duration_ns = parse_duration_ns(args.duration);
        if (!duration_ns || !*duration_ns)
            return fail("record", "bad --duration '" + args.duration + "' (more than 0, with a unit: 500ms, 10s, 5m)",
                        kExitUsage);
    }
    if (args.buffer_mib == 0 || (args.buffer_mib & (args.buffer_mib - 1)) || args.buffer_mib > kMaxBufferMib)
        return fail("record",
                    "--buffer-size must be a power of two from 1 to " + std::to_string(kMaxBufferMib) +
                        " (MiB; the kernel's ring buffer limit)",
                    kExitUsage);
    auto sample = parse_duration_ns(args.stack_sample);
    if (!sample)
        return fail("record", "bad --stack-sample '" + args.stack_sample + "' (0, or with a unit: 100ms, 1s)",
                    kExitUsage);

    auto pair_threshold = parse_duration_ns(args.pair_threshold);
    if (!pair_threshold || *pair_threshold == 0)
        return fail("record", "bad --pair-threshold '" + args.pair_threshold + "' (a duration with a unit: 300ms, 1s)",
                    kExitUsage);

    if (std::string why = missing_privileges(); !why.empty()) return fail("record", why, kExitNoPrivileges);

    // Before the slow load: a signal during it stops the recording as soon
    // as capture is ready, with a closed (empty) file rather than none.
    install_stop_signals();
    CaptureOptions options;
    options.ring_buffer_bytes = uint32_t{args.buffer_mib} << 20;
    options.stack_sample_ns = *sample;
    options.pair_in_kernel = !args.all_events;
    options.pair_threshold_ns = *pair_threshold;
    auto session = CaptureSession::open(options);
    if (!session) return fail("record", session.error().message);
    std::optional<snapshot::RangeRequest> seed_range;
    if (args.snapshot || !args.snapshot_range.empty()) {
        auto range = snapshot::parse_range_spec(args.snapshot_range.empty() ? "all" : args.snapshot_range);
        if (!range) return fail("record", "--snapshot-range: " + range.error().message, kExitUsage);
        // Checked once capture is allowed (privileges first), before the
        // file exists: a range that does not exist is a usage error.
        if (auto spans = snapshot::resolve(range.value()); !spans)
            return fail("record", "--snapshot-range: " + spans.error().message, kExitUsage);
        seed_range = range.value();
    }

    CaptureSession& capture = *session.value();
    TraceInfo info = capture.info();
    info.meta["pintrace_version"] = PINTRACE_VERSION;
    info.meta["start_monotonic_ns"] = std::to_string(monotonic_now_ns());
    info.meta["start_realtime_ns"] = std::to_string(realtime_now_ns());
    info.meta["command"] = join(args.command);
    print_attach_summary(info, args.quiet);

    auto file = TraceFile::claim(args.output, {.keep_previous = true});
    if (!file) return fail("record", file.error().message);
    if (!file->previous().empty())
        std::fprintf(stderr, "pintrace record: kept the previous %s as %s\n", args.output.c_str(),
                     file->previous().c_str());
    auto writer = TraceWriter::create(std::move(file.value()), info);
    if (!writer) return fail("record", writer.error().message);

    std::unique_ptr<SeedWriter> seed;
    if (seed_range) {
        std::string note;
        auto bpf = open_page_source(args.snapshot_source, note);
        if (!bpf) return fail("record", bpf.error().message);
        if (!note.empty()) std::fprintf(stderr, "pintrace record: snapshot: %s\n", note.c_str());
        seed = std::make_unique<SeedWriter>(capture, writer.value(), *seed_range, std::move(bpf.value()), note);
    }
    Recorder recorder(capture, seed ? seed->sink() : writer.value());
    uint64_t start = monotonic_now_ns();
    pid_t child = -1;
    // A command that cannot start ends the recording like one that exits
    // at once: the file is finished, and the exit status says which.
    std::optional<std::string> not_started;
    auto start_command = [&]() -> Result<void> {
        // Stopped before it started (a signal during start-up): never start it.
        if (args.command.empty() || g_stop_signal.load()) return {};
        auto pid = spawn(args.command);
        if (pid)
            child = pid.value();
        else
            not_started = pid.error().message;
        return {};
    };
    if (!seed)
        if (auto r = start_command(); !r) return fail("record", r.error().message);
    int command_status = -1;

    RecorderOptions ro;
    ro.between_drains = [&]() -> Result<void> {
        if (!seed || !seed->ready()) return {};
        if (auto r = seed->write(); !r) return r;
        return start_command();
    };
    ro.stop = [&]() -> std::optional<StopReason> {
        if (g_stop_signal.load()) return StopReason::Signal;
        if (not_started) return StopReason::CommandExited;
        if (child > 0) {
            int status;
            if (waitpid(child, &status, WNOHANG) == child) {
                command_status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
                child = -1;
                return StopReason::CommandExited;
            }
        }
        if (duration_ns && monotonic_now_ns() - start >= *duration_ns) return StopReason::Duration;
        return std::nullopt;
    };
    if (args.command.empty() && !duration_ns)
        std::fprintf(stderr, "pintrace record: recording to %s; Ctrl-C to stop\n", args.output.c_str());

    auto finish = recorder.run(ro);
    // What the kernel skipped goes in the file too, however the recording
    // ended: report must not present a hold whose free went unseen as a
    // fact (docs/ledger.md, frees).
    std::vector<ProgramStats> stats = capture.program_stats();
    uint64_t skipped_runs = 0;
    for (const auto& s : stats) skipped_runs += s.recursion_misses;
    if (!finish) {
        // Whatever stopped it, the file is closed with what it holds.
        FinishEvent stopped{monotonic_now_ns(), 0, capture.lost_total(), StopReason::Error, command_status};
        stopped.skipped_runs = skipped_runs;
        stopped.paired_pins = capture.pairs_elided();
        (void)writer->finish(stopped);
        print_bpf_cost(stats);
        return fail("record", finish.error().message + "; " + args.output + " keeps the " +
                                  std::to_string(writer->bytes_written()) + " bytes written before, " +
                                  (writer->closed() ? "closed" : "not closed (report --allow-incomplete reads it)"));
    }
    if (seed && seed->pending()) {
        // Stopped before the snapshot was done (the command never started):
        // the file still gets it, whole.
        std::fprintf(stderr, "pintrace record: waiting for the snapshot to finish\n");
        if (auto r = seed->write(); !r) return fail("record", r.error().message);
    }
    // 127, as a shell says of a command it cannot run.
    finish->command_status = not_started ? 127 : command_status;
    finish->skipped_runs = skipped_runs;
    if (auto r = writer->finish(finish.value()); !r) return fail("record", r.error().message);

    std::fprintf(stderr, "pintrace record: %llu records in %s (%s; %llu lost)\n",
                 static_cast<unsigned long long>(writer->records()), args.output.c_str(),
                 std::string(stop_reason_name(finish->reason)).c_str(), static_cast<unsigned long long>(finish->lost));
    print_bpf_cost(stats);
    if (child > 0) {
        // Interrupted while the command still runs: leave it be, like perf.
        std::fprintf(stderr, "pintrace record: traced command (pid %d) is still running\n", child);
    }
    if (finish->reason == StopReason::Error) return kExitError;
    // The traced command's outcome, machine-readable, then as the exit
    // status (perf passes it on nowhere; a runbook needs it).
    if (not_started) {
        std::fprintf(stderr, "pintrace record: %s\npintrace record: command=not_started\n", not_started->c_str());
        return kExitCommandNotStarted;
    }
    if (command_status >= 0) {
        std::fprintf(stderr, "pintrace record: command_status=%d\n", command_status);
        if (command_status != 0) return kExitCommandFailed;
    }
    return kExitOk;
}

}  // namespace

Runner setup_record(CLI::App& sub)
{
    auto args = std::make_shared<RecordArgs>();
    sub.add_option("-o,--output", args->output, "Trace file to write")
        ->check(
            [](const std::string& v) {
                // A trace is written in sealed blocks to a file it locks and
                // may rename; a pipe cannot hold that.
                return v == "-" ? std::string("a trace goes to a file, not standard output: give a path") : "";
            },
            "FILE")
        ->capture_default_str();
    sub.add_option("-d,--duration", args->duration, "Stop after this long (500ms, 10s, 5m)");
    sub.add_option("--buffer-size", args->buffer_mib, "Ring buffer size in MiB (power of two, at most 2048)")
        ->check(decimal_in(1, kMaxBufferMib))
        ->capture_default_str();
    sub.add_option("--stack-sample", args->stack_sample,
                   "Short-term grabs reuse their thread's stack for this long; 0 = a stack per grab (costly)")
        ->capture_default_str();
    sub.add_flag("--all-events", args->all_events,
                 "Record every grab and release; by default a short-term pin released within --pair-threshold is "
                 "paired with its release in the kernel and neither is recorded (far cheaper; report --pfn "
                 "histories then lack those pins)");
    sub.add_option("--pair-threshold", args->pair_threshold,
                   "A short-term pin held longer than this is recorded (with its grab's time)")
        ->capture_default_str();
    sub.add_flag("--snapshot", args->snapshot,
                 "First take a snapshot of all memory and its owners (as pintrace snapshot --all), so pins taken "
                 "before the recording get a likely holder; the command starts after it");
    sub.add_option("--snapshot-range", args->snapshot_range,
                   "Snapshot only these pages (implies --snapshot): all, pfn:A-B, node:N, zone:NAME, memory-block:N "
                   "or cma:NAME; what you are about to offline or allocate is enough");
    sub.add_option("--snapshot-source", args->snapshot_source, "auto, bpf or proc (as snapshot --source)")
        ->check(CLI::IsMember({"auto", "bpf", "proc"}))
        ->capture_default_str();
    sub.add_flag("-q,--quiet", args->quiet,
                 "No attach table on stderr: only its key=value line (capture=..., missing_targets=...) and errors");
    sub.add_option("command", args->command, "Command to run while recording (after --); stops when it exits");
    sub.footer("Records system-wide, like perf record -a. Needs root (or CAP_BPF and CAP_PERFMON).\n" +
               exit_codes_footer("record"));
    return [args] { return run_record(*args); };
}

}  // namespace pintrace::cli
