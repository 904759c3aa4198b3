// What /proc says about the processes that grab pages: the executable and
// the cgroup, read once per process (and again after an exec) while it runs,
// so the trace can name them after they are gone.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "events/event.hpp"
#include "trace/writer.hpp"

namespace pintrace {

// The path of the "0::" line of a /proc/PID/cgroup text; "" without one
// (cgroup v2 not mounted, or a v1-only system).
std::string cgroup_v2_path(std::string_view proc_cgroup);

// nullopt when nothing about the process is readable (it is gone). A field
// that cannot be read is "": a zombie still has its cgroup, not its exe.
// `proc` is where procfs is mounted.
std::optional<ProcessInfoEvent> read_process_info(uint32_t tgid, uint64_t ts_ns, const std::string& proc = "/proc");

// Decides which processes to describe, in the order the ring buffer hands
// over its records, and describes them at the end of the drain.
//
// /proc is read after the record, and the process may have exec'd in
// between (every execve grabs the pages it copies argv into, so the first
// grab of an exec'd process comes from its old program). A description is
// written only if the thread behind the record still runs under the name
// the record gives: an exec renames it, or removes it when another thread
// than the leader exec'd.
class ProcessDescriber {
public:
    explicit ProcessDescriber(std::string proc = "/proc") : proc_(std::move(proc)) {}

    // Any grab of a process not yet described, not only the first: the
    // first one's record may have been lost.
    void note_grab(const pt_header& grab);
    void note_exec(const pt_header& exec);
    void note_exit(uint32_t tgid);
    Result<void> flush(RecordSink& writer);

private:
    struct Pending {
        uint32_t tgid;
        uint32_t tid;
        uint64_t ts_ns;
        Comm comm;
    };
    bool unchanged(const Pending& p) const;
    void wait_for_exec(uint32_t tgid) const;

    std::string proc_;
    std::unordered_set<uint32_t> described_;
    std::vector<Pending> pending_;
};

}  // namespace pintrace
