// Reading exe and cgroup from /proc, and which processes the recorder
// describes when: against a directory laid out like /proc, and this process.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "capture/process_info.hpp"
#include "sample_trace.hpp"
#include "trace/reader.hpp"

namespace pintrace {
namespace {

namespace fs = std::filesystem;

TEST(CgroupPath, TakesTheV2LineOnly)
{
    EXPECT_EQ(cgroup_v2_path("0::/system.slice/qemu.service\n"), "/system.slice/qemu.service");
    EXPECT_EQ(cgroup_v2_path("12:cpu,cpuacct:/legacy\n1:name=systemd:/x\n0::/user.slice/a b\n"), "/user.slice/a b");
    EXPECT_EQ(cgroup_v2_path("0::/"), "/");
    EXPECT_EQ(cgroup_v2_path("3:memory:/docker/abc\n"), "");  // v1 only
    EXPECT_EQ(cgroup_v2_path("10::/not-v2\n"), "");
    EXPECT_EQ(cgroup_v2_path(""), "");
    EXPECT_EQ(cgroup_v2_path("0::/" + std::string(PATH_MAX, 'x') + "\n"), "");  // never a cut path
}

// A /proc with: 42 running (exe, cgroup, its leader thread named
// "qemu-system-x86"), 44 a zombie (cgroup only).
class FakeProc : public ::testing::Test {
protected:
    void SetUp() override
    {
        root_ = ::testing::TempDir() + "/fakeproc" + std::to_string(getpid());
        fs::remove_all(root_);
        add(42, "/usr/bin/qemu-system-x86_64", "0::/machine.slice/vm1.scope\n", "qemu-system-x86");
        add(44, "", "0::/user.slice\n", "");
    }
    void TearDown() override { fs::remove_all(root_); }

    void add(uint32_t pid, const std::string& exe, const std::string& cgroup, const std::string& comm)
    {
        std::string dir = root_ + "/" + std::to_string(pid);
        fs::remove_all(dir);
        fs::create_directories(dir);
        if (!exe.empty()) fs::create_symlink(exe, dir + "/exe");
        std::ofstream(dir + "/cgroup") << cgroup;
        if (!comm.empty()) add_thread(pid, pid, comm);
    }
    void add_thread(uint32_t pid, uint32_t tid, const std::string& comm)
    {
        std::string dir = root_ + "/" + std::to_string(pid) + "/task/" + std::to_string(tid);
        fs::create_directories(dir);
        std::ofstream(dir + "/comm") << comm << "\n";
    }
    void remove(uint32_t pid) { fs::remove_all(root_ + "/" + std::to_string(pid)); }

    // A record's header as the BPF side fills it.
    static pt_header rec(uint32_t tgid, uint64_t ts, std::string_view comm, uint32_t tid = 0)
    {
        return test::raw_head(PT_REC_GRAB, sizeof(pt_grab), PT_HOOK_TRY_GRAB_PAGE, ts, tgid, comm, tid);
    }

    std::vector<ProcessInfoEvent> flushed(ProcessDescriber& d)
    {
        static int n = 0;
        std::string path = root_ + ".trace" + std::to_string(n++);
        auto w = TraceWriter::create(path, test::sample_info());
        EXPECT_TRUE(w.ok());
        EXPECT_TRUE(d.flush(w.value()).ok());
        EXPECT_TRUE(w->finish(FinishEvent{}).ok());
        std::vector<ProcessInfoEvent> out;
        auto reader = TraceReader::open(path);
        EXPECT_TRUE(reader.ok());
        EXPECT_TRUE(reader
                        ->read([&](const Event& e) {
                            if (auto* p = std::get_if<ProcessInfoEvent>(&e)) out.push_back(*p);
                        })
                        .ok());
        fs::remove(path);
        return out;
    }

    std::string root_;
};

TEST_F(FakeProc, ReadsExeAndCgroup)
{
    auto info = read_process_info(42, 777, root_);
    ASSERT_TRUE(info);
    EXPECT_EQ(info->ts_ns, 777u);
    EXPECT_EQ(info->tgid, 42u);
    EXPECT_EQ(info->exe, "/usr/bin/qemu-system-x86_64");
    EXPECT_EQ(info->cgroup, "/machine.slice/vm1.scope");
}

TEST_F(FakeProc, AZombieHasItsCgroupAndNoExe)
{
    auto info = read_process_info(44, 1, root_);
    ASSERT_TRUE(info);
    EXPECT_EQ(info->exe, "");
    EXPECT_EQ(info->cgroup, "/user.slice");
}

TEST_F(FakeProc, AProcessThatIsGoneHasNoDescription) { EXPECT_FALSE(read_process_info(43, 1, root_)); }

TEST(ProcessInfo, ThisProcessReadsAsItself)
{
    auto info = read_process_info(getpid(), 5);
    ASSERT_TRUE(info);
    EXPECT_EQ(info->exe, fs::read_symlink("/proc/self/exe").string());
}

TEST_F(FakeProc, EachProcessIsDescribedOnceAtItsFirstGrab)
{
    ProcessDescriber d(root_);
    add(45, "/usr/bin/fio", "0::/\n", "fio");
    d.note_grab(rec(42, 100, "qemu-system-x86"));
    d.note_grab(rec(42, 110, "qemu-system-x86"));
    d.note_grab(rec(45, 120, "fio"));
    auto first = flushed(d);
    ASSERT_EQ(first.size(), 2u);
    EXPECT_EQ(first[0].tgid, 42u);
    EXPECT_EQ(first[0].ts_ns, 100u);
    EXPECT_EQ(first[1].tgid, 45u);
    d.note_grab(rec(42, 200, "qemu-system-x86"));
    EXPECT_TRUE(flushed(d).empty());
}

TEST_F(FakeProc, AnExecDescribesTheNewProgramOnly)
{
    ProcessDescriber d(root_);
    d.note_grab(rec(42, 100, "qemu-system-x86"));
    flushed(d);
    // Grab, exec and a grab of the new program within one drain: /proc
    // shows the new program, so only the exec's description is written.
    d.note_grab(rec(45, 150, "sh"));
    add(45, "/usr/bin/qemu-system-x86_64", "0::/\n", "qemu-system-x86");
    d.note_exec(rec(45, 160, "qemu-system-x86"));
    add(42, "/usr/libexec/qemu-bridge-helper", "0::/machine.slice/vm1.scope\n", "qemu-bridge-hel");
    d.note_exec(rec(42, 300, "qemu-bridge-hel"));
    d.note_grab(rec(42, 310, "qemu-bridge-hel"));
    auto after = flushed(d);
    ASSERT_EQ(after.size(), 2u);
    EXPECT_EQ(after[0].tgid, 45u);
    EXPECT_EQ(after[0].ts_ns, 160u);
    EXPECT_EQ(after[1].tgid, 42u);
    EXPECT_EQ(after[1].ts_ns, 300u);
    EXPECT_EQ(after[1].exe, "/usr/libexec/qemu-bridge-helper");
}

// execve grabs the pages it copies argv into before the exec completes: by
// the drain, /proc shows the new program, but the exec's record is not in
// this drain yet. The grabbing thread's name tells.
TEST_F(FakeProc, AnExecNotYetSeenLeavesTheProcessForItsExecRecord)
{
    ProcessDescriber d(root_);
    d.note_grab(rec(42, 100, "bash"));
    EXPECT_TRUE(flushed(d).empty());
    d.note_exec(rec(42, 105, "qemu-system-x86"));
    auto after = flushed(d);
    ASSERT_EQ(after.size(), 1u);
    EXPECT_EQ(after[0].ts_ns, 105u);
    EXPECT_EQ(after[0].exe, "/usr/bin/qemu-system-x86_64");
}

// A worker thread that grabbed and ended before the drain proves nothing
// about the process; its next grab from a live thread does.
TEST_F(FakeProc, AGrabbingThreadThatIsGoneDefersTheDescription)
{
    ProcessDescriber d(root_);
    d.note_grab(rec(42, 100, "worker", 43));
    EXPECT_TRUE(flushed(d).empty());
    add_thread(42, 44, "worker");
    d.note_grab(rec(42, 200, "worker", 44));
    auto after = flushed(d);
    ASSERT_EQ(after.size(), 1u);
    EXPECT_EQ(after[0].ts_ns, 200u);
    EXPECT_EQ(after[0].cgroup, "/machine.slice/vm1.scope");
}

TEST_F(FakeProc, AfterAnExitThePidIsANewProcess)
{
    ProcessDescriber d(root_);
    d.note_grab(rec(42, 100, "qemu-system-x86"));
    flushed(d);
    // 45 grabs and exits within one drain: what /proc says now is not
    // about it, so nothing is written for it.
    add(45, "/usr/bin/fio", "0::/\n", "fio");
    d.note_grab(rec(45, 150, "fio"));
    d.note_exit(45);
    // 42 exits; its pid comes back as another program, which grabs.
    d.note_exit(42);
    add(42, "/usr/sbin/rdma-app", "0::/system.slice/rdma.service\n", "rdma-app");
    d.note_grab(rec(42, 400, "rdma-app"));
    auto after = flushed(d);
    ASSERT_EQ(after.size(), 1u);
    EXPECT_EQ(after[0].tgid, 42u);
    EXPECT_EQ(after[0].ts_ns, 400u);
    EXPECT_EQ(after[0].exe, "/usr/sbin/rdma-app");
    EXPECT_EQ(after[0].cgroup, "/system.slice/rdma.service");
}

TEST_F(FakeProc, AProcessGoneBeforeTheDrainEndsIsNotDescribed)
{
    ProcessDescriber d(root_);
    d.note_grab(rec(42, 100, "qemu-system-x86"));
    remove(42);
    EXPECT_TRUE(flushed(d).empty());
}

}  // namespace
}  // namespace pintrace
