#include "capture/pipe_openers.hpp"

#include <dirent.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <fstream>
#include <memory>
#include <string_view>

namespace pintrace {
namespace {

bool all_digits(std::string_view s)
{
    return !s.empty() && s.find_first_not_of("0123456789") == std::string_view::npos;
}

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
    std::unique_ptr<DIR, int (*)(DIR*)> procs(opendir(proc.c_str()), closedir);
    if (!procs) return found;
    std::map<uint32_t, std::vector<std::pair<uint64_t, uint32_t>>> by_pid;  // pid -> (ino, fd): pid order
    while (dirent* p = readdir(procs.get())) {
        if (!all_digits(p->d_name)) continue;
        std::string dir = proc + "/" + p->d_name;
        std::unique_ptr<DIR, int (*)(DIR*)> fds(opendir((dir + "/fd").c_str()), closedir);
        if (!fds) continue;  // gone, or not ours to read
        uint32_t pid = static_cast<uint32_t>(std::stoul(p->d_name));
        while (dirent* f = readdir(fds.get())) {
            if (!all_digits(f->d_name)) continue;
            char target[64];
            ssize_t n = readlink((dir + "/fd/" + f->d_name).c_str(), target, sizeof target);
            if (n <= 0 || n == static_cast<ssize_t>(sizeof target)) continue;
            uint64_t ino = pipe_inode_of(std::string_view(target, static_cast<size_t>(n)));
            if (ino && inos.count(ino))
                by_pid[pid].emplace_back(ino, static_cast<uint32_t>(std::stoul(f->d_name)));
        }
    }
    for (auto& [pid, list] : by_pid) {
        std::string comm = comm_of(proc + "/" + std::to_string(pid));
        std::sort(list.begin(), list.end(), [](const auto& a, const auto& b) { return a.second < b.second; });
        for (auto [ino, fd] : list) found[ino].push_back({pid, fd, comm});
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
