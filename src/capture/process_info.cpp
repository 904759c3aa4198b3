#include "capture/process_info.hpp"

#include <fcntl.h>
#include <limits.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <sstream>

namespace pintrace {
namespace {

// Longer than the kernel ever prints (PATH_MAX): a path cut here would be
// a wrong path, so it counts as unreadable.
constexpr size_t kMaxPath = PATH_MAX;

}  // namespace

std::string cgroup_v2_path(std::string_view text)
{
    while (!text.empty()) {
        auto eol = text.find('\n');
        std::string_view line = text.substr(0, eol);
        if (line.starts_with("0::")) {
            line.remove_prefix(3);
            return line.size() < kMaxPath ? std::string(line) : std::string();
        }
        if (eol == std::string_view::npos) break;
        text.remove_prefix(eol + 1);
    }
    return "";
}

std::optional<ProcessInfoEvent> read_process_info(uint32_t tgid, uint64_t ts_ns, const std::string& proc)
{
    std::string dir = proc + "/" + std::to_string(tgid) + "/";
    ProcessInfoEvent info{ts_ns, tgid, "", ""};
    char buf[kMaxPath];
    ssize_t n = readlink((dir + "exe").c_str(), buf, sizeof buf);
    bool readable = n >= 0;
    if (n > 0 && size_t(n) < sizeof buf) info.exe.assign(buf, size_t(n));
    std::ifstream cgroup(dir + "cgroup");
    if (cgroup) {
        std::stringstream ss;
        ss << cgroup.rdbuf();
        readable = true;
        info.cgroup = cgroup_v2_path(ss.str());
    }
    if (!readable) return std::nullopt;
    return info;
}

namespace {

Comm comm_of(const pt_header& h)
{
    Comm c{};
    std::memcpy(c.data(), h.comm, PT_COMM_LEN);
    c[PT_COMM_LEN - 1] = '\0';
    return c;
}

}  // namespace

void ProcessDescriber::note_grab(const pt_header& grab)
{
    if (described_.insert(grab.tgid).second) pending_.push_back({grab.tgid, grab.tid, grab.ts_ns, comm_of(grab)});
}

// /proc now shows the new program: a description still pending from before
// the exec would pin it on the old one.
void ProcessDescriber::note_exec(const pt_header& exec)
{
    std::erase_if(pending_, [&](const Pending& p) { return p.tgid == exec.tgid; });
    described_.insert(exec.tgid);
    pending_.push_back({exec.tgid, exec.tid, exec.ts_ns, comm_of(exec)});
}

void ProcessDescriber::wait_for_exec(uint32_t tgid) const
{
    int fd = ::open((proc_ + "/" + std::to_string(tgid) + "/maps").c_str(), O_RDONLY | O_CLOEXEC);
    if (fd >= 0) ::close(fd);
}

bool ProcessDescriber::unchanged(const Pending& p) const
{
    std::ifstream in(proc_ + "/" + std::to_string(p.tgid) + "/task/" + std::to_string(p.tid) + "/comm");
    std::string name;
    if (!std::getline(in, name)) return false;
    return name == comm_view(p.comm);
}

// What /proc shows under the pid from now on is nothing, or another process
// that reused it; that one's first grab describes it afresh.
void ProcessDescriber::note_exit(uint32_t tgid)
{
    std::erase_if(pending_, [&](const Pending& p) { return p.tgid == tgid; });
    described_.erase(tgid);
}

// A process that changed (or whose grabbing thread is gone) is described
// at a later grab, or by its exec's own record.
Result<void> ProcessDescriber::flush(RecordSink& writer)
{
    for (const auto& p : pending_) {
        std::optional<ProcessInfoEvent> info;
        if (unchanged(p)) info = read_process_info(p.tgid, p.ts_ns, proc_);
        // Checked again: the process may have exec'd while its paths were
        // read, and an exec shows its new exe before it renames the thread.
        // Both happen under exec_update_lock (exec_mmap() to
        // setup_new_exec(), 5.10 to 6.12), which opening the maps takes too
        // (mm_access()): once the open returns, an exec that could have
        // shown the new exe has renamed the thread as well.
        if (info) wait_for_exec(p.tgid);
        if (!info || !unchanged(p)) {
            described_.erase(p.tgid);
            continue;
        }
        if (auto r = writer.append(*info); !r) return r;
    }
    pending_.clear();
    return {};
}

}  // namespace pintrace
