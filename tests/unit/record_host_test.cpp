// pintrace record on the machine running the tests. This host's kernel
// refuses fentry and has no kprobes, so this is also the degraded mode's
// test: the recording must still complete, and say what it cannot see.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <boost/property_tree/json_parser.hpp>
#include <boost/property_tree/ptree.hpp>
#include <cstdio>
#include <set>
#include <sstream>

namespace pintrace {
namespace {

namespace pt = boost::property_tree;

std::string temp(const char* name) { return ::testing::TempDir() + "/host_" + name + std::to_string(getpid()); }

std::string capture(const std::string& cmd, int* status)
{
    FILE* p = popen((cmd + " 2>&1").c_str(), "r");
    std::string out;
    std::array<char, 4096> buf;
    size_t n;
    while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), n);
    int st = pclose(p);
    *status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    return out;
}

pt::ptree report_json(const std::string& trace)
{
    int status;
    std::string out = capture(std::string(PINTRACE_BIN) + " report --format json " + trace + " 2>/dev/null", &status);
    EXPECT_TRUE(status == 0 || status == 3 || status == 4) << out;
    pt::ptree root;
    std::istringstream in(out);
    pt::read_json(in, root);
    return root;
}

class RecordHere : public ::testing::Test {
protected:
    void SetUp() override
    {
        if (geteuid() != 0) GTEST_SKIP() << "recording needs root";
    }
};

TEST_F(RecordHere, StopsAtTheDurationWithACompleteFile)
{
    std::string trace = temp("duration.trace");
    int status;
    std::string out = capture(std::string(PINTRACE_BIN) + " record -o " + trace + " --duration 500ms", &status);
    ASSERT_EQ(status, 0) << out;
    auto root = report_json(trace);
    EXPECT_EQ(root.get<bool>("trace.complete"), true);
    EXPECT_EQ(root.get<std::string>("trace.stop_reason"), "duration elapsed");
    // The attach table is in the file whatever the kernel allowed, and a
    // missing attach point always says what it hides.
    std::set<std::string> targets;
    for (const auto& a : root.get_child("capture.attach")) {
        targets.insert(a.second.get<std::string>("target"));
        std::string mode = a.second.get<std::string>("mode");
        if (mode == "missing") {
            EXPECT_FALSE(a.second.get<std::string>("hides").empty());
            EXPECT_FALSE(a.second.get<std::string>("detail").empty());
        }
        // Tracepoints work on every kernel pintrace supports, this host's included.
        if (a.second.get<std::string>("target") == "migrate:mm_migrate_pages") {
            EXPECT_EQ(mode, "tracepoint");
        }
    }
    for (const char* t : {"migrate:mm_migrate_pages", "migrate_pages", "try_grab_folio", "gup_put_folio"})
        EXPECT_TRUE(targets.count(t)) << t;
    bool degraded = !root.get<bool>("capture.complete");
    EXPECT_EQ(degraded, out.find("DEGRADED") != std::string::npos) << out;
}

TEST_F(RecordHere, StopsWhenTheTracedCommandExits)
{
    std::string trace = temp("cmd.trace");
    int status;
    std::string out = capture(std::string(PINTRACE_BIN) + " record -o " + trace + " -- sh -c 'exit 7'", &status);
    ASSERT_EQ(status, 8) << "command_failed: " << out;
    EXPECT_NE(out.find("pintrace record: command_status=7\n"), std::string::npos) << out;
    auto root = report_json(trace);
    EXPECT_EQ(root.get<std::string>("trace.stop_reason"), "traced command exited");
    EXPECT_EQ(root.get<int>("trace.command_exit_status"), 7);
    EXPECT_EQ(root.get<std::string>("trace.command"), "sh -c exit 7");
}

TEST_F(RecordHere, SigintLeavesACompleteReadableFile)
{
    std::string trace = temp("sigint.trace");
    pid_t pid = fork();
    if (pid == 0) {
        execl(PINTRACE_BIN, "pintrace", "record", "-o", trace.c_str(), static_cast<char*>(nullptr));
        _exit(127);
    }
    // Long enough to be past calibration and attach, and recording.
    usleep(2500 * 1000);
    kill(pid, SIGINT);
    int st = 0;
    waitpid(pid, &st, 0);
    ASSERT_TRUE(WIFEXITED(st));
    EXPECT_EQ(WEXITSTATUS(st), 0);
    auto root = report_json(trace);
    EXPECT_EQ(root.get<bool>("trace.complete"), true);
    EXPECT_EQ(root.get<std::string>("trace.stop_reason"), "interrupted by signal");
}

}  // namespace
}  // namespace pintrace

namespace pintrace {
namespace {

TEST_F(RecordHere, DoctorExplainsThisHostAndExitsByCoverage)
{
    int status;
    std::string out = capture(std::string(PINTRACE_BIN) + " doctor --format json 2>/dev/null", &status);
    pt::ptree root;
    std::istringstream in(out);
    ASSERT_NO_THROW(pt::read_json(in, root)) << out;
    EXPECT_EQ(root.get<std::string>("schema"), "pintrace.doctor/1");
    for (const auto& c : root.get_child("checks")) EXPECT_TRUE(c.second.get<bool>("ok")) << c.second.get<std::string>("name");
    bool missing = false;
    for (const auto& a : root.get_child("attach"))
        if (a.second.get<std::string>("mode") == "missing") {
            missing = true;
            EXPECT_FALSE(a.second.get<std::string>("hides").empty());
        }
    EXPECT_EQ(status, missing ? 5 : 0);
    EXPECT_EQ(root.get<int>("exit_code"), status);
}

TEST_F(RecordHere, DoctorWithoutPrivilegesSaysWhichAndExitsSix)
{
    if (access("/usr/bin/setpriv", X_OK) != 0) GTEST_SKIP() << "needs setpriv to drop privileges";
    int status;
    std::string out = capture("/usr/bin/setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all " +
                                  std::string(PINTRACE_BIN) + " doctor",
                              &status);
    EXPECT_EQ(status, 6) << "no_privileges: " << out;
    EXPECT_NE(out.find("privileges       FAIL pintrace needs root"), std::string::npos) << out;
    EXPECT_NE(out.find("cannot capture here"), std::string::npos) << out;
}

}  // namespace
}  // namespace pintrace
