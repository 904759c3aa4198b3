#include "capture/pipe_openers.hpp"

#include <algorithm>
#include <charconv>
#include <fstream>
#include <string_view>

#include "snapshot/proc_fds.hpp"

namespace pintrace {
namespace {

// "pipe:[12345]" -> 12345; 0 for anything else.
uint64_t pipe_inode_of(std::string_view target)
{
    constexpr std::string_view prefix = "pipe:[";
    if (!target.starts_with(prefix) || !target.ends_with(']')) return 0;
    target = target.substr(prefix.size(), target.size() - prefix.size() - 1);
    uint64_t ino = 0;
    auto [end, ec] = std::from_chars(target.data(), target.data() + target.size(), ino);
    return ec == std::errc() && end == target.data() + target.size() ? ino : 0;
}

std::string comm_of(const std::string& dir)
{
    std::ifstream in(dir + "/comm");
    std::string comm;
    std::getline(in, comm);
    return comm;
}

}  // namespace

std::map<uint64_t, std::vector<PipeOpener>> find_pipe_openers(const std::set<uint64_t>& inos,
                                                             const std::string& proc)
{
    std::map<uint64_t, std::vector<PipeOpener>> found;
    if (inos.empty()) return found;
    // Pids ascending, and fds ascending within each (a process's fds are
    // listed in no particular order).
    for (uint32_t pid : snapshot::list_pids(proc)) {
        std::string dir = proc + "/" + std::to_string(pid);
        std::vector<std::pair<uint32_t, uint64_t>> fds;  // (fd, ino)
        snapshot::for_each_fd(dir, [&](uint32_t fd, std::string_view target) {
            if (uint64_t ino = pipe_inode_of(target); ino && inos.count(ino)) fds.emplace_back(fd, ino);
        });
        if (fds.empty()) continue;
        std::sort(fds.begin(), fds.end());
        std::string comm = comm_of(dir);
        for (auto [fd, ino] : fds) found[ino].push_back({pid, fd, comm});
    }
    return found;
}

void PipeWatch::note_splice(uint64_t ino)
{
    if (!ino || !watched_.insert(ino).second) return;
    order_.push_back(ino);
    fresh_.insert(ino);
    if (order_.size() > kMaxWatched) {
        watched_.erase(order_.front());
        order_.pop_front();
    }
}

Result<void> PipeWatch::flush(RecordSink& writer, uint64_t now_ns, bool last)
{
    bool rescan = last || (failure_ && (!rescanned_ || now_ns - last_rescan_ns_ >= kMinRescanNs));
    bool look_fresh = !fresh_.empty() && (last || rescan || !looked_ || now_ns - last_look_ns_ >= kMinLookNs);
    if (!rescan && !look_fresh) return {};
    std::set<uint64_t> look = fresh_;
    if (rescan) look.insert(watched_.begin(), watched_.end());
    auto found = find_pipe_openers(look, proc_);
    for (uint64_t ino : look) {
        auto it = found.find(ino);
        PipeOpenersEvent e{now_ns, ino, it == found.end() ? std::vector<PipeOpener>{} : std::move(it->second)};
        if (auto r = writer.append(e); !r) return r;
    }
    fresh_.clear();
    looked_ = true;
    last_look_ns_ = now_ns;
    if (rescan) {
        failure_ = false;
        rescanned_ = true;
        last_rescan_ns_ = now_ns;
    }
    return {};
}

}  // namespace pintrace
