// The pintrace binary's behaviour on bad input and missing privileges: one
// line on stderr naming the problem, and the documented exit code.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>

#include <sys/wait.h>
#include <unistd.h>
#include <boost/property_tree/json_parser.hpp>
#include <boost/property_tree/ptree.hpp>

#include <array>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <sstream>

#include "sample_trace.hpp"
#include "util/exit_codes.hpp"

namespace pintrace {
namespace {

using testing::HasSubstr;
using testing::Not;

struct Run {
    int status;
    std::string out;
};

Run run_command(const std::string& cmd)
{
    FILE* p = popen(cmd.c_str(), "r");
    std::string out;
    std::array<char, 4096> buf;
    size_t n;
    while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), n);
    int st = pclose(p);
    return {WIFEXITED(st) ? WEXITSTATUS(st) : -1, out};
}

Run run(const std::string& args) { return run_command(std::string(PINTRACE_BIN) + " " + args + " 2>&1"); }

// pintrace as nobody, with no capabilities (needs root and setpriv to start).
Run run_unprivileged(const std::string& args)
{
    return run_command("/usr/bin/setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all " +
                       std::string(PINTRACE_BIN) + " " + args + " 2>&1");
}

std::string temp(const char* name) { return ::testing::TempDir() + "/cli_" + name + std::to_string(getpid()); }

std::string sample_file(bool finish)
{
    std::string path = temp(finish ? "ok.trace" : "open.trace");
    auto w = TraceWriter::create(path, test::sample_info());
    test::write_sample(w.value());
    if (finish) (void)w->finish(FinishEvent{9000, 0, 0, StopReason::Duration, -1});
    return path;
}

size_t lines(const std::string& s) { return std::count(s.begin(), s.end(), '\n'); }

TEST(Cli, ReportOfAGoodTraceExplainsAndExitsThree)
{
    auto r = run("report " + sample_file(true));
    EXPECT_EQ(r.status, 3) << r.out;
    EXPECT_THAT(r.out, HasSubstr("pid 4242 (qemu-kvm)"));
}

TEST(Cli, NotATraceIsOneLineAndExitOne)
{
    std::string path = temp("junk");
    std::ofstream(path) << "this is not a trace, just some text that is long enough to have a header\n";
    auto r = run("report " + path);
    EXPECT_EQ(r.status, 1);
    EXPECT_EQ(lines(r.out), 1u) << r.out;
    EXPECT_THAT(r.out, HasSubstr(path + ": not a pintrace trace")) << r.out;
}

TEST(Cli, MissingAndTruncatedFilesAreNamed)
{
    auto missing = run("report /nonexistent/x.trace");
    EXPECT_EQ(missing.status, 1);
    EXPECT_EQ(lines(missing.out), 1u);
    EXPECT_THAT(missing.out, HasSubstr("/nonexistent/x.trace: No such file")) << missing.out;

    std::string path = sample_file(true);
    truncate(path.c_str(), 300);
    auto cut = run("report " + path + " --format json");
    EXPECT_EQ(cut.status, 1);
    EXPECT_EQ(lines(cut.out), 1u) << cut.out;
    EXPECT_THAT(cut.out, HasSubstr("truncated")) << cut.out;
}

TEST(Cli, UnclosedTraceNeedsAllowIncomplete)
{
    std::string path = sample_file(false);
    auto strict = run("report " + path);
    EXPECT_EQ(strict.status, 1);
    EXPECT_THAT(strict.out, HasSubstr("--allow-incomplete")) << strict.out;
    auto lenient = run("report --allow-incomplete " + path);
    EXPECT_EQ(lenient.status, 3) << lenient.out;
    EXPECT_THAT(lenient.out, HasSubstr("was not closed")) << lenient.out;
}

// Bare `pintrace` lists the commands (and still exits 2: no command ran);
// --version says what a bug report needs.
TEST(Cli, WithoutACommandItListsTheCommands)
{
    auto bare = run("");
    EXPECT_EQ(bare.status, 2);
    for (const char* command : {"record", "report", "top", "doctor", "snapshot", "explain", "exit-codes"})
        EXPECT_THAT(bare.out, HasSubstr(command)) << bare.out;
    auto version = run("--version");
    EXPECT_EQ(version.status, 0);
    EXPECT_THAT(version.out, HasSubstr("pintrace " PINTRACE_VERSION)) << version.out;
    EXPECT_THAT(version.out, HasSubstr("libbpf ")) << version.out;
    EXPECT_THAT(version.out, HasSubstr("linked")) << version.out;
}

TEST(Cli, UsageErrorsExitTwo)
{
    EXPECT_EQ(run("frobnicate").status, 2);
    EXPECT_EQ(run("report --format yaml x").status, 2);
    EXPECT_EQ(run("record --duration soon").status, 2);
}

TEST(Cli, ReportViewOptionsWithBadValuesAreOneLineAndExitTwo)
{
    std::string trace = sample_file(true);
    for (const char* bad : {"--since yesterday", "--until 25:61:00", "--pfn 0xq", "--sort size", "--group-by user",
                            "--threshold forever", "--since +5s --until +1s"}) {
        auto r = run("report " + trace + " " + bad);
        EXPECT_EQ(r.status, 2) << bad << ": " << r.out;
        EXPECT_EQ(lines(r.out), 1u) << bad << ": " << r.out;
        EXPECT_EQ(r.out.rfind("pintrace report: ", 0), 0u) << r.out;
    }
}

TEST(Cli, ReportViewsSelectAndFormat)
{
    std::string trace = sample_file(true);
    auto md = run("report " + trace + " --format markdown --pid 4242 --threshold 1us --pfn 0x100");
    EXPECT_EQ(md.status, 3) << md.out;
    EXPECT_THAT(md.out, HasSubstr("| PID | PAGES |")) << md.out;
    EXPECT_THAT(md.out, HasSubstr("## HISTORY OF PFN 0x100")) << md.out;
    // Another process's holders only: the failure is not selected, nothing failed.
    auto other = run("report " + trace + " --pid 1");
    EXPECT_EQ(other.status, 0) << other.out;
    EXPECT_THAT(other.out, HasSubstr("1 failure(s) not shown (filter)")) << other.out;
    auto none = run("report " + trace + " --reason compaction --format json");
    EXPECT_EQ(none.status, 0) << none.out;
    EXPECT_THAT(none.out, HasSubstr("\"failures\":[]")) << none.out;
}

// report -o FILE: the report whole in FILE (0600, as the trace), nothing on
// standard output, the exit status the report's; an unwritable FILE is one
// line and exit 1. record -o - is refused before anything is written.
TEST(Cli, ReportWritesToAFileWholeAndRecordRefusesStandardOutput)
{
    std::string trace = sample_file(true), out = temp("report.txt");
    auto r = run("report " + trace + " -o " + out);
    EXPECT_EQ(r.status, 3) << r.out;
    EXPECT_EQ(r.out, "");
    std::ifstream in(out);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_THAT(text, HasSubstr("pid 4242 (qemu-kvm)"));
    EXPECT_EQ(text, run("report " + trace).out) << "the same report as on standard output";
    struct stat st {};
    ASSERT_EQ(stat(out.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    auto json = run("report " + trace + " --format json --output " + out);
    EXPECT_EQ(json.status, 3) << json.out;
    std::ifstream again(out);
    std::string replaced((std::istreambuf_iterator<char>(again)), std::istreambuf_iterator<char>());
    EXPECT_EQ(replaced.rfind("{\"schema\":\"pintrace.report/1\"", 0), 0u) << "replaced whole";

    auto bad = run("report " + trace + " -o /nonexistent-dir/report.txt");
    EXPECT_EQ(bad.status, 1) << bad.out;
    EXPECT_EQ(lines(bad.out), 1u) << bad.out;
    EXPECT_THAT(bad.out, HasSubstr("cannot write /nonexistent-dir/report.txt"));

    std::string dir = temp("stdout_dir");
    ASSERT_EQ(mkdir(dir.c_str(), 0700), 0);
    auto dash = run_command("cd " + dir + " && " + std::string(PINTRACE_BIN) + " record -o - 2>&1");
    EXPECT_EQ(dash.status, 2) << dash.out;
    EXPECT_THAT(dash.out, HasSubstr("not standard output")) << dash.out;
    EXPECT_NE(access((dir + "/-").c_str(), F_OK), 0) << "no file named -";
}

TEST(Cli, RecordWithoutPrivilegesSaysWhatIsNeeded)
{
    if (access("/usr/bin/setpriv", X_OK) != 0 || geteuid() != 0)
        GTEST_SKIP() << "needs root and setpriv to drop privileges";
    auto [status, out] = run_unprivileged("record -o /tmp/never.trace --duration 1s");
    EXPECT_EQ(status, 6) << "no_privileges";
    EXPECT_EQ(lines(out), 1u) << out;
    EXPECT_THAT(out, HasSubstr("needs root, or CAP_BPF and CAP_PERFMON")) << out;
}

}  // namespace
}  // namespace pintrace

namespace pintrace {
namespace {

TEST(CliTop, BadOptionsAreOneLineAndExitTwo)
{
    std::string trace = sample_file(true);
    for (const char* bad : {"--interval 0", "--speed -1", "--sort bogus"}) {
        auto r = run("top --batch --replay " + trace + " " + bad);
        EXPECT_EQ(r.status, 2) << bad << ": " << r.out;
        EXPECT_EQ(lines(r.out), 1u) << bad << ": " << r.out;
    }
    auto missing = run("top --batch --replay /nonexistent.trace");
    EXPECT_EQ(missing.status, 1);
    EXPECT_EQ(lines(missing.out), 1u) << missing.out;
    EXPECT_EQ(missing.out.rfind("pintrace top: /nonexistent.trace: ", 0), 0u) << missing.out;
}

TEST(CliTop, WithoutATerminalItPrintsBatchSnapshotsAndSaysSo)
{
    // popen: stdin and stdout are not a terminal.
    auto r = run("top --replay " + sample_file(true) + " --speed 0 < /dev/null");
    EXPECT_EQ(r.status, 0) << r.out;
    EXPECT_EQ(r.out.rfind("pintrace top: not a terminal: printing batch snapshots instead\n", 0), 0u) << r.out;
    EXPECT_THAT(r.out, HasSubstr("   4242 qemu-kvm")) << r.out;
}

TEST(CliTop, JsonLinesEndWithTheReplaysLastState)
{
    auto r = run("top --replay " + sample_file(true) + " --speed 0 --format json --interval 5");
    EXPECT_EQ(r.status, 0) << r.out;
    ASSERT_EQ(lines(r.out), 1u) << "the trace ends before the first interval: one snapshot, its end";
    EXPECT_THAT(r.out, HasSubstr("\"schema\":\"pintrace.top/1\"")) << r.out;
    EXPECT_THAT(r.out, HasSubstr("\"ended\":true")) << r.out;
    EXPECT_THAT(r.out, HasSubstr("\"pid\":4242")) << r.out;
    EXPECT_THAT(r.out, HasSubstr("\"failures_total\":1")) << r.out;
}

}  // namespace
}  // namespace pintrace

namespace pintrace {
namespace {

TEST(CliTop, LiveWithoutPrivilegesSaysWhatIsNeeded)
{
    if (access("/usr/bin/setpriv", X_OK) != 0 || geteuid() != 0)
        GTEST_SKIP() << "needs root and setpriv to drop privileges";
    pintrace::Run r = run_unprivileged("top --batch --iterations 1");
    EXPECT_EQ(r.status, 6) << "no_privileges: " << r.out;
    EXPECT_EQ(lines(r.out), 1u) << r.out;
    EXPECT_THAT(r.out, HasSubstr("pintrace top: pintrace needs root, or CAP_BPF and CAP_PERFMON")) << r.out;
}

TEST(Cli, SnapshotRangeErrorsAreOneLineUsageErrors)
{
    for (const char* args :
         {"snapshot --pfn 0x200-0x100", "snapshot --node 4096", "snapshot --zone Nowhere",
          "snapshot --memory-block 99999999", "snapshot --pfn 1-2 --node 0", "snapshot", "explain --pfn zz"}) {
        auto r = run(args);
        EXPECT_EQ(r.status, 2) << args << ": " << r.out;
        EXPECT_EQ(lines(r.out), 1u) << args << ": " << r.out;
    }
    EXPECT_THAT(run("snapshot --node 4096").out, HasSubstr("node 4096 does not exist"));
}

TEST(Cli, SnapshotWithoutPrivilegesSaysWhatIsNeeded)
{
    if (access("/usr/bin/setpriv", X_OK) != 0 || geteuid() != 0)
        GTEST_SKIP() << "needs root and setpriv to drop privileges";
    auto [status, out] = run_unprivileged("snapshot --pfn 0x1000+16");
    EXPECT_EQ(status, 6) << "no_privileges";
    EXPECT_EQ(lines(out), 1u) << out;
    EXPECT_THAT(out, HasSubstr("permission denied (run as root")) << out;
}

// This machine's memory, through /proc: the classes add up to the pages read,
// and the exit status agrees with the blocking count.
TEST(Cli, SnapshotOfThisHostIsConsistent)
{
    if (geteuid() != 0 || access("/proc/kpageflags", R_OK) != 0) GTEST_SKIP() << "needs root";
    auto r = run("snapshot --pfn 0x100000+65536 --format json");
    ASSERT_TRUE(r.status == 0 || r.status == 3) << r.out;
    auto number = [&](const std::string& key, size_t from = 0) {
        size_t at = r.out.find("\"" + key + "\":", from);
        EXPECT_NE(at, std::string::npos) << key;
        return std::stoull(r.out.substr(at + key.size() + 3));
    };
    uint64_t pages = number("pages"), blocking = number("blocking");
    size_t classes = r.out.find("\"classes\":");
    uint64_t sum = 0;
    for (const char* c : {"pinned", "maybe_pinned", "extra_refs", "unmovable", "not_lru", "movable", "free", "hole"})
        sum += number(c, classes);
    EXPECT_EQ(sum, pages);
    EXPECT_EQ(pages, 65536u);
    EXPECT_EQ(r.status == 3, blocking > 0);
    // What the source cannot see is always said: /proc alone misses the refcount.
    EXPECT_THAT(r.out, HasSubstr("\"not_visible\":[\"")) << r.out;
    if (r.out.find("\"source\":\"/proc/kpageflags + /proc/kpagecount\"") != std::string::npos) {
        EXPECT_THAT(r.out, HasSubstr("\"not_visible\":[\"refcount")) << r.out;
    }
}

// explain --pfn with a trace: the live state first, then the recorded
// history, marked as certain (needs root for the live part).
TEST(Cli, ExplainPfnTellsStateNowAndRecordedHistory)
{
    if (geteuid() != 0 || access("/proc/kpageflags", R_OK) != 0) GTEST_SKIP() << "needs root";
    auto r = run("explain --pfn 0x100 " + sample_file(true) + " --no-stacks");
    EXPECT_TRUE(r.status == 0 || r.status == 3) << r.out;
    EXPECT_EQ(r.out.rfind("PFN 0x100 NOW: ", 0), 0u) << r.out;
    EXPECT_THAT(r.out, HasSubstr("WHO MAY HOLD IT NOW")) << r.out;
    EXPECT_THAT(r.out, HasSubstr("(certain: seen as it happened)")) << r.out;
    EXPECT_THAT(r.out, HasSubstr("HISTORY OF PFN 0x100")) << r.out;
    EXPECT_THAT(r.out, HasSubstr("NOT VISIBLE")) << r.out;
}

// The host scenario: a process registers io_uring fixed buffers and
// sleeps; pintrace starts afterwards. snapshot --pfn on its pages names it
// (likely, with the io_uring evidence) and, with BPF, sees the pin bias;
// explain --pfn tells the same story.
// scenario_iouring_pin, pinning its pages and then waiting: the pins are
// older than anything pintrace starts afterwards.
struct PinningScenario {
    pid_t pid = -1;
    uint64_t first_pfn = 0;
    std::string skip;  // why it could not run here
    std::string out_path;

    explicit PinningScenario(bool wait_for_signal)
    {
        if (geteuid() != 0 || access("/proc/kpageflags", R_OK) != 0) {
            skip = "needs root";
            return;
        }
        std::string bin = PINTRACE_BIN;
        std::string scenario = bin.substr(0, bin.rfind('/')) + "/scenario_iouring_pin";
        if (access(scenario.c_str(), X_OK) != 0) {
            skip = "no " + scenario;
            return;
        }
        out_path = temp("iouring.json");
        std::string err_path = out_path + ".err";
        pid = fork();
        if (pid == 0) {
            FILE* f = freopen(out_path.c_str(), "w", stdout);
            f = freopen(err_path.c_str(), "w", stderr);
            (void)f;
            setenv("SCENARIO_LINGER_MS", "20000", 1);
            if (wait_for_signal) setenv("SCENARIO_MOVE_ON_SIGNAL", "1", 1);
            execl(scenario.c_str(), scenario.c_str(), (char*)nullptr);
            _exit(127);
        }
        // Waiting for the signal it has pinned but not printed its truth:
        // its pages come from a snapshot (which this test then also checks).
        std::string text;
        const std::string done = wait_for_signal ? "waiting for SIGUSR1" : "pfns_after";
        for (int i = 0; i < 300 && text.find(done) == std::string::npos; ++i) {
            usleep(50000);
            std::ifstream in(wait_for_signal ? err_path : out_path);
            text.assign(std::istreambuf_iterator<char>(in), {});
        }
        unlink(err_path.c_str());
        const std::string key = "\"expect\": [{\"pfn\": ";
        if (!wait_for_signal && text.find(key) != std::string::npos)
            first_pfn = std::stoull(text.substr(text.find(key) + key.size()));
        else if (!wait_for_signal || text.find(done) == std::string::npos)
            skip = "io_uring not available here: " + text;
    }
    ~PinningScenario()
    {
        if (pid <= 0) return;
        kill(pid, SIGTERM);
        waitpid(pid, nullptr, 0);
        unlink(out_path.c_str());
    }
};

TEST(Cli, SnapshotNamesTheProcessThatPinnedBeforePintraceStarted)
{
    PinningScenario scenario(false);
    if (!scenario.skip.empty()) GTEST_SKIP() << scenario.skip;
    uint64_t pfn = scenario.first_pfn;
    std::string pid = std::to_string(scenario.pid);

    auto snap = run("snapshot --pfn " + std::to_string(pfn));
    EXPECT_EQ(snap.status, 3) << snap.out;
    EXPECT_THAT(snap.out, HasSubstr("likely: pid " + pid + " (scenario_iourin)")) << snap.out;
    EXPECT_THAT(snap.out, HasSubstr("has registered buffer 0")) << snap.out;
    EXPECT_THAT(snap.out, HasSubstr("  pinned ")) << snap.out;
    if (snap.out.find("BPF refcounts") != std::string::npos) {
        EXPECT_THAT(snap.out, HasSubstr("(>= 1024 pin bias)")) << snap.out;
    }

    auto bias = run("snapshot --pfn " + std::to_string(pfn) + " --no-owners --source bpf");
    if (bias.status != 1) {
        EXPECT_THAT(bias.out, HasSubstr("maybe_pinned")) << bias.out;
    }

    auto ex = run("explain --pfn " + std::to_string(pfn));
    EXPECT_EQ(ex.status, 3) << ex.out;
    EXPECT_THAT(ex.out, HasSubstr("likely holder (pinned it as io_uring fixed buffers): pid " + pid)) << ex.out;
    // The same as JSON, read as a runbook would.
    auto exj = run("explain --format json --pfn " + std::to_string(pfn));
    EXPECT_EQ(exj.status, 3) << exj.out;
    namespace pt = boost::property_tree;
    std::istringstream in(exj.out);
    pt::ptree root;
    ASSERT_NO_THROW(pt::read_json(in, root)) << exj.out;
    EXPECT_EQ(root.get<std::string>("schema"), "pintrace.explain/1");
    EXPECT_EQ(root.get<int>("exit_code"), 3);
    const auto& page = root.get_child("pages").front().second;
    EXPECT_EQ(page.get<uint64_t>("pfn"), pfn);
    EXPECT_EQ(page.get<std::string>("blocks_migration"), "true");
    bool likely = false;
    for (const auto& [_, h] : page.get_child("holders_now"))
        likely = likely || (h.get<std::string>("pid") == pid && h.get<std::string>("confidence") == "likely" &&
                            h.get<std::string>("origin") == "io_uring_fixed_buffers" &&
                            h.get<std::string>("pinned_by_fd") == "true");
    EXPECT_TRUE(likely) << exj.out;
    EXPECT_FALSE(root.get_child("candidates").empty()) << exj.out;
    EXPECT_EQ(root.get<std::string>("trace"), "null") << "no trace given";
}

TEST(Cli, RecordSnapshotWritesTheHoldersOfPinsOlderThanTheTrace)
{
    PinningScenario scenario(true);
    if (!scenario.skip.empty()) GTEST_SKIP() << scenario.skip;
    std::string trace = temp("seeded.trace");
    auto rec = run("record --snapshot --duration 200ms -o " + trace);
    ASSERT_EQ(rec.status, 0) << rec.out;
    EXPECT_THAT(rec.out, HasSubstr("pintrace record: snapshot of ")) << rec.out;
    auto rep = run("report --format json " + trace);
    unlink(trace.c_str());
    // No migration ran: nothing failed, but the snapshot is in the trace.
    EXPECT_EQ(rep.status, 0) << rep.out;
    std::string pid = std::to_string(scenario.pid);
    EXPECT_THAT(rep.out, HasSubstr("\"snapshot\":{\"complete\":true")) << rep.out;
    auto at = rep.out.find("\"pid\":" + pid + ",\"comm\":\"scenario_iourin\"");
    ASSERT_NE(at, std::string::npos) << rep.out;
    auto candidate = rep.out.substr(at, rep.out.find('}', at) - at);
    EXPECT_THAT(candidate, HasSubstr("\"confidence\":\"likely\"")) << candidate;
    EXPECT_THAT(candidate, HasSubstr("\"origin\":\"io_uring_fixed_buffers\"")) << candidate;
    EXPECT_THAT(candidate, HasSubstr("\"pages\":8")) << candidate;
}

TEST(Cli, RecordSnapshotRangeErrorsAreOneLineUsageErrors)
{
    if (geteuid() != 0) GTEST_SKIP() << "needs root (privileges are checked first)";
    std::string trace = temp("never.trace");
    for (const char* spec : {"node:4096", "disk:1", "pfn:9-3"}) {
        auto r = run("record --snapshot-range " + std::string(spec) + " --duration 1ms -o " + trace);
        EXPECT_EQ(r.status, 2) << spec << ": " << r.out;
        EXPECT_THAT(r.out, HasSubstr("pintrace record: --snapshot-range: ")) << r.out;
        EXPECT_NE(access(trace.c_str(), F_OK), 0) << "a file was written for a bad range";
    }
}

TEST(Cli, RecordSnapshotOfARangeFindsThePinsInIt)
{
    PinningScenario scenario(false);
    if (!scenario.skip.empty()) GTEST_SKIP() << scenario.skip;
    std::string trace = temp("range.trace");
    auto rec =
        run("record --snapshot-range pfn:" + std::to_string(scenario.first_pfn) + "+1 --duration 1ms -o " + trace);
    ASSERT_EQ(rec.status, 0) << rec.out;
    EXPECT_THAT(rec.out, HasSubstr("snapshot of 1 pages")) << rec.out;
    auto rep = run("report --format json " + trace);
    unlink(trace.c_str());
    EXPECT_THAT(rep.out, HasSubstr("\"range\":\"pfn " + std::to_string(scenario.first_pfn) + "+1\"")) << rep.out;
    EXPECT_THAT(rep.out, HasSubstr("\"pid\":" + std::to_string(scenario.pid) + ",\"comm\":\"scenario_iourin\""))
        << rep.out;
}

TEST(Cli, RecordStoppedBeforeItsSnapshotIsDoneStillWritesItWhole)
{
    if (geteuid() != 0 || access("/proc/kpageflags", R_OK) != 0) GTEST_SKIP() << "needs root";
    std::string trace = temp("early.trace"), marker = temp("started");
    // The duration ends long before a snapshot of all memory does: the
    // recorder waits for it, writes it, and never starts the command.
    auto rec = run("record --snapshot --duration 1ms -o " + trace + " -- touch " + marker);
    ASSERT_EQ(rec.status, 0) << rec.out;
    EXPECT_THAT(rec.out, HasSubstr("waiting for the snapshot to finish")) << rec.out;
    EXPECT_NE(access(marker.c_str(), F_OK), 0) << "the command ran although the recording stopped first";
    auto rep = run("report --format json " + trace);
    unlink(trace.c_str());
    unlink(marker.c_str());
    EXPECT_EQ(rep.status, 0) << rep.out;
    EXPECT_THAT(rep.out, HasSubstr("\"snapshot\":{\"complete\":true")) << rep.out;
    EXPECT_THAT(rep.out, HasSubstr("\"range\":\"all memory (System RAM in /proc/iomem)\"")) << rep.out;
}

}  // namespace
}  // namespace pintrace

// Issue 13: exit codes a runbook can trust, from one table.
namespace pintrace {
namespace {

std::string read_text(const std::string& path)
{
    std::ifstream in(path);
    return std::string(std::istreambuf_iterator<char>(in), {});
}

// README.md's exit-code table is the table in util/exit_codes.hpp, row for
// row; `pintrace exit-codes --markdown` prints that table; each command's
// --help lists its rows.
TEST(ExitCodes, ReadmeHelpAndCodeAgree)
{
    std::string readme = read_text(std::string(PINTRACE_TEST_DATA) + "/../../README.md");
    ASSERT_FALSE(readme.empty());
    std::string table = exit_codes_markdown();
    EXPECT_THAT(readme, HasSubstr(table)) << "README.md's exit-code table must read:\n" << table;
    // And no other row in README's table claims a code.
    size_t at = readme.find("| code | name | commands | meaning |");
    ASSERT_NE(at, std::string::npos);
    size_t rows = 0;
    for (size_t line = readme.find('\n', at) + 1; line < readme.size() && readme[line] == '|';
         line = readme.find('\n', line) + 1)
        ++rows;
    EXPECT_EQ(rows, kExitCodes.size() + 1) << "separator plus one line per row";

    auto listed = run("exit-codes --markdown");
    EXPECT_EQ(listed.status, 0);
    EXPECT_EQ(listed.out, table);

    for (const char* command : {"record", "report", "top", "doctor", "snapshot", "explain"}) {
        auto help = run(std::string(command) + " --help");
        EXPECT_EQ(help.status, 0) << command;
        for (const auto& row : kExitCodes) {
            std::string line = std::to_string(int(row.code)) + " " + std::string(row.name) + ": ";
            EXPECT_EQ(help.out.find(line) != std::string::npos, exit_code_applies(row, command))
                << command << " --help and row " << row.name << ":\n"
                << help.out;
        }
    }
}

TEST(ExitCodes, NoCommandUsesOneCodeForTwoThings)
{
    for (const char* command : {"record", "report", "top", "doctor", "snapshot", "explain"})
        for (size_t i = 0; i < kExitCodes.size(); ++i)
            for (size_t j = i + 1; j < kExitCodes.size(); ++j)
                if (exit_code_applies(kExitCodes[i], command) && exit_code_applies(kExitCodes[j], command)) {
                    EXPECT_NE(kExitCodes[i].code, kExitCodes[j].code)
                        << command << ": " << kExitCodes[i].name << " and " << kExitCodes[j].name;
                }
}

// A typo in a filter must not read as "nothing failed": the valid values
// are named, from the trace's own migrate reasons and the failure kinds.
TEST(ExitCodes, UnknownFilterValuesAreUsageErrorsNamingTheValidOnes)
{
    std::string trace = sample_file(true);
    auto typo = run("report " + trace + " --reason nosuch");
    EXPECT_EQ(typo.status, 2) << typo.out;
    EXPECT_EQ(lines(typo.out), 1u) << typo.out;
    for (const char* valid : {"compaction", "syscall_or_cpuset", "contig_range", "isolation", "cma", "contig_alloc"})
        EXPECT_THAT(typo.out, HasSubstr(valid)) << valid << ": " << typo.out;
    for (const char* ok : {"--reason isolation", "--reason cma", "--reason reason_9", "--reason compaction"}) {
        auto r = run("report " + trace + " " + ok);
        EXPECT_TRUE(r.status == 0 || r.status == 3) << ok << ": " << r.out;
    }
    struct Bad {
        const char* args;
        const char* names;  // what the message must name
    };
    for (const Bad& b : {Bad{"report %s --sort size", "pages, longterm"}, Bad{"report %s --group-by user", "pid, comm"},
                         Bad{"report %s --format yaml", "text"}, Bad{"top --batch --replay %s --sort size", "pages"},
                         Bad{"top --batch --replay %s --format yaml", "text"}}) {
        char cmd[512];
        std::snprintf(cmd, sizeof cmd, b.args, trace.c_str());
        auto r = run(cmd);
        EXPECT_EQ(r.status, 2) << cmd << ": " << r.out;
        EXPECT_THAT(r.out, HasSubstr(b.names)) << cmd << ": " << r.out;
    }
}

// Numbers: decimal, in range, with a unit where they are durations; 0 only
// where it means something.
TEST(ExitCodes, NumericOptionsAreDecimalAndInRange)
{
    std::string trace = sample_file(true);
    for (const char* bad : {"report T --top -1",
                            "report T --top 0x10",
                            "report T --top 99999999999999999999",
                            "report T --pid -1",
                            "report T --pid 0x10",
                            "report T --threshold 0x10",
                            "report T --threshold 0",
                            "report T --threshold 10",
                            "report T --since +0x10",
                            "top --batch --replay T --iterations -1",
                            "top --batch --replay T --interval inf",
                            "top --batch --replay T --interval nan",
                            "top --batch --replay T --speed inf",
                            "top --batch --replay T --pid -5",
                            "record --duration 0x10",
                            "record --duration 0",
                            "record --duration 10",
                            "record --duration -1s",
                            "record --stack-sample 1e3",
                            "record --buffer-size 4096",
                            "record --buffer-size 0x10",
                            "record --buffer-size -1",
                            "record --buffer-size 3"}) {
        std::string args = bad;
        if (auto t = args.find(" T "); t != std::string::npos)
            args.replace(t, 3, " " + trace + " ");
        else if (args.ends_with(" T"))
            args.replace(args.size() - 1, 1, trace);
        auto r = run(args.starts_with("record") ? args + " -o /tmp/never.trace" : args);
        EXPECT_EQ(r.status, 2) << bad << ": " << r.out;
    }
    auto buffer = run("record --buffer-size 4096 -o /tmp/never.trace");
    EXPECT_THAT(buffer.out, HasSubstr("2048")) << "names the limit: " << buffer.out;
    EXPECT_THAT(buffer.out, Not(HasSubstr("refused"))) << buffer.out;
    EXPECT_EQ(access("/tmp/never.trace", F_OK), -1) << "no file for a usage error";
}

// Commands that need root say so with their own code, before anything
// else can fail for the lack of it (snapshot --all read /proc/iomem as
// zeros and called it a usage error).
TEST(ExitCodes, MissingPrivilegesAreSixForEveryCommandThatNeedsThem)
{
    if (access("/usr/bin/setpriv", X_OK) != 0 || geteuid() != 0)
        GTEST_SKIP() << "needs root and setpriv to drop privileges";
    for (const char* args : {"snapshot --all", "snapshot --node 0", "snapshot --pfn 0x1000+16", "explain --pfn 0x100",
                             "record -o /tmp/never.trace --duration 1s", "top --batch --iterations 1", "doctor",
                             "doctor --kernel-facts"}) {
        auto r = run_unprivileged(args);
        EXPECT_EQ(r.status, 6) << args << ": " << r.out;
        EXPECT_THAT(r.out, HasSubstr("root")) << args << ": " << r.out;
    }
}

// explain on an unclosed trace: reads it, but says so, and does not call
// the history certain.
TEST(ExitCodes, ExplainOnAnUnclosedTraceSaysItIsIncomplete)
{
    if (geteuid() != 0 || access("/proc/kpageflags", R_OK) != 0) GTEST_SKIP() << "needs root";
    auto r = run("explain --pfn 0x100 " + sample_file(false) + " --no-stacks --source proc");
    EXPECT_TRUE(r.status == 0 || r.status == 3) << r.out;
    EXPECT_THAT(r.out, HasSubstr("INCOMPLETE: the trace was not closed")) << r.out;
    EXPECT_THAT(r.out, Not(HasSubstr("(certain: seen as it happened)"))) << r.out;
    EXPECT_THAT(r.out, HasSubstr("HISTORY OF PFN 0x100")) << r.out;
}

// record -- COMMAND: a command that cannot start is exit 7 (the trace is
// still complete), one that fails is 8, and the status is printed as a
// key=value line; the capture's coverage is a key=value line too.
TEST(ExitCodes, RecordSaysWhatBecameOfTheCommandAndOfTheCapture)
{
    if (geteuid() != 0) GTEST_SKIP() << "recording needs root";
    std::string trace = temp("cmd.trace");
    auto missing = run("record -o " + trace + " -- /nonexistent/cmd");
    EXPECT_EQ(missing.status, 7) << missing.out;
    EXPECT_THAT(missing.out, HasSubstr("cannot run /nonexistent/cmd: No such file")) << missing.out;
    EXPECT_THAT(missing.out, HasSubstr("pintrace record: command=not_started\n")) << missing.out;
    auto report = run("report --format json " + trace);
    EXPECT_EQ(report.status, 0) << report.out;
    EXPECT_THAT(report.out, HasSubstr("\"command_exit_status\":127")) << report.out;

    auto failed = run("record -o " + trace + " -- sh -c 'exit 3'");
    EXPECT_EQ(failed.status, 8) << failed.out;
    EXPECT_THAT(failed.out, HasSubstr("pintrace record: command_status=3\n")) << failed.out;
    auto killed = run("record -o " + trace + " -- sh -c 'kill -9 $$'");
    EXPECT_EQ(killed.status, 8) << killed.out;
    EXPECT_THAT(killed.out, HasSubstr("pintrace record: command_status=137\n")) << killed.out;

    auto ok = run("record -o " + trace + " -- true");
    EXPECT_EQ(ok.status, 0) << ok.out;
    EXPECT_THAT(ok.out, HasSubstr("pintrace record: command_status=0\n")) << ok.out;
    // capture=complete|degraded attach_points=N missing=M [missing_targets=a,b]
    size_t at = ok.out.find("pintrace record: capture=");
    ASSERT_NE(at, std::string::npos) << ok.out;
    std::string line = ok.out.substr(at, ok.out.find('\n', at) - at);
    unsigned points = 0, missed = 0;
    char state[16] = {};
    ASSERT_EQ(
        std::sscanf(line.c_str(), "pintrace record: capture=%15s attach_points=%u missing=%u", state, &points, &missed),
        3)
        << line;
    EXPECT_GT(points, 0u);
    EXPECT_EQ(std::string(state), missed ? "degraded" : "complete") << line;
    EXPECT_EQ(line.find("missing_targets=") != std::string::npos, missed > 0) << line;
    if (missed) {
        EXPECT_THAT(ok.out, HasSubstr("DEGRADED capture, " + std::to_string(missed) + " of " + std::to_string(points)))
            << ok.out;
    }
    unlink(trace.c_str());
}

}  // namespace
}  // namespace pintrace

// Issue 13: strings from a trace are whatever a process chose.
namespace pintrace {
namespace {

// Strict UTF-8, written from RFC 3629 independently of render/safe_text.
bool strict_utf8(const std::string& s, std::string* why)
{
    for (size_t i = 0; i < s.size();) {
        unsigned char b = s[i];
        size_t n = b < 0x80 ? 1 : (b >> 5) == 0x6 ? 2 : (b >> 4) == 0xE ? 3 : (b >> 3) == 0x1E ? 4 : 0;
        if (!n || i + n > s.size()) return *why = "bad lead byte at " + std::to_string(i), false;
        uint32_t cp = n == 1 ? b : n == 2 ? b & 0x1F : n == 3 ? b & 0x0F : b & 0x07;
        for (size_t k = 1; k < n; ++k) {
            unsigned char c = s[i + k];
            if ((c >> 6) != 2) return *why = "bad continuation at " + std::to_string(i + k), false;
            cp = cp << 6 | (c & 0x3F);
        }
        static constexpr uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
        if (cp < kMin[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return *why = "overlong, surrogate or too large at " + std::to_string(i), false;
        i += n;
    }
    return true;
}

std::string hostile_trace()
{
    std::string path = temp("hostile.trace");
    auto w = TraceWriter::create(path, test::sample_info());
    uint32_t pin = test::k61Pin | test::k61Longterm | test::k61Write;
    // prctl(PR_SET_NAME, "\xff\xfe") and a terminal escape (red, clear screen).
    const std::string comm = "\xff\xfe\x1b[31m\x1b[2J\x07";
    for (uint64_t pfn = 0x100; pfn < 0x104; ++pfn)
        (void)w->append_kernel_record(test::raw_grab(2000 + pfn, 4242, pfn, pin, comm));
    (void)w->append(StackEvent{1,
                               StackKind::Kernel,
                               0,
                               {{0xffffffff81000010, "try_grab_page\xc0\xaf"},  // overlong '/'
                                {0xffffffff81000200, "io_sqe_buffer_register\xed\xa0\x80\x1b]0;owned\x07"}}});
    (void)w->append_kernel_record(test::raw_migrate(5000, 77, 5, 3));
    uint32_t i = 0;
    for (uint64_t pfn : {0x100, 0x101, 0x103})
        (void)w->append_kernel_record(test::raw_failed(5001, 77, pfn, 1026, i++));
    (void)w->append_kernel_record(test::raw_end(5002, 77, 3, 3));
    (void)w->finish(FinishEvent{9000, 0, 0, StopReason::Duration, -1});
    return path;
}

TEST(HostileStrings, JsonIsValidUtf8WithControlsEscaped)
{
    std::string trace = hostile_trace();
    auto r = run_command(std::string(PINTRACE_BIN) + " report --format json " + trace + " 2>/dev/null");
    EXPECT_EQ(r.status, 3) << r.out;
    std::string why;
    EXPECT_TRUE(strict_utf8(r.out, &why)) << why;
    for (unsigned char c : r.out) EXPECT_FALSE(c < 0x20 && c != '\n') << "raw control byte " << int(c);
    EXPECT_THAT(r.out, HasSubstr("\"comm\":\"\xEF\xBF\xBD\xEF\xBF\xBD\\u001b[31m\\u001b[2J\\u0007\""))
        << "each bad byte one U+FFFD, controls as \\u00XX: " << r.out;
    EXPECT_THAT(r.out, HasSubstr("try_grab_page\xEF\xBF\xBD\xEF\xBF\xBD")) << r.out;
    // top's JSON lines too.
    auto top =
        run_command(std::string(PINTRACE_BIN) + " top --replay " + trace + " --speed 0 --format json 2>/dev/null");
    EXPECT_TRUE(strict_utf8(top.out, &why)) << why;
    EXPECT_EQ(top.out.find('\x1b'), std::string::npos) << top.out;
}

TEST(HostileStrings, TextAndMarkdownCarryNoControlCharacters)
{
    std::string trace = hostile_trace();
    for (const char* format : {"text", "markdown"}) {
        auto r = run_command(std::string(PINTRACE_BIN) + " report --format " + format + " " + trace + " 2>/dev/null");
        EXPECT_EQ(r.status, 3) << r.out;
        std::string why;
        EXPECT_TRUE(strict_utf8(r.out, &why)) << format << ": " << why;
        for (unsigned char c : r.out)
            EXPECT_FALSE((c < 0x20 && c != '\n') || c == 0x7F) << format << ": byte " << int(c);
        EXPECT_THAT(r.out, HasSubstr("\xEF\xBF\xBD\xEF\xBF\xBD\\x1b[31m\\x1b[2J\\x07")) << format << ": " << r.out;
    }
}

}  // namespace
}  // namespace pintrace
