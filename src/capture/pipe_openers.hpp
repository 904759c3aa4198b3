// Who has the pipes a splice filled open: the processes a spliced page's
// reference really depends on (draining or closing the pipe releases it),
// found in /proc/PID/fd, where a pipe reads "pipe:[INO]". The splice's own
// record names the pipe by that inode (pt_grab_in_pipe).
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "events/event.hpp"
#include "trace/writer.hpp"

namespace pintrace {

// The openers of each of @inos (an fd each: a process with it open twice
// is listed twice), in pid then fd order; a pipe found in no fd is absent.
// `proc` is where procfs is mounted.
std::map<uint64_t, std::vector<PipeOpener>> find_pipe_openers(const std::set<uint64_t>& inos,
                                                             const std::string& proc = "/proc");

// Decides when to look the pipes up, from what the drain hands over: a pipe
// soon after its first spliced reference is recorded (its opener then is
// the splicer, and whoever shares its fds), every watched pipe after a
// failure (who holds them at the moment it matters), and all at the end.
// A look reads every process's fds: looks for new pipes are at least
// kMinLookNs apart, looks after failures kMinRescanNs. A pipe found in no
// fd stays watched (it may be in flight over a unix socket, or in an
// io_uring's file table): the oldest go once kMaxWatched are.
class PipeWatch {
public:
    static constexpr uint64_t kMinLookNs = 250'000'000;
    static constexpr uint64_t kMinRescanNs = 1'000'000'000;
    static constexpr size_t kMaxWatched = 4096;

    explicit PipeWatch(std::string proc = "/proc") : proc_(std::move(proc)) {}

    void note_splice(uint64_t ino);
    void note_failure() { failure_ = true; }
    // last: the recording stops; a look now is the last one.
    Result<void> flush(RecordSink& writer, uint64_t now_ns, bool last);

private:
    std::string proc_;
    std::set<uint64_t> watched_;
    std::deque<uint64_t> order_;  // watched_, oldest first
    std::set<uint64_t> fresh_;  // noted, not yet looked up
    bool failure_ = false;
    uint64_t last_look_ns_ = 0;
    uint64_t last_rescan_ns_ = 0;
    bool looked_ = false, rescanned_ = false;
};

}  // namespace pintrace
