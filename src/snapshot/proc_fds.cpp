#include "snapshot/proc_fds.hpp"

#include <dirent.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <memory>

namespace pintrace::snapshot {

std::vector<uint32_t> list_pids(const std::string& proc)
{
    std::vector<uint32_t> pids;
    std::unique_ptr<DIR, int (*)(DIR*)> d(::opendir(proc.c_str()), ::closedir);
    if (!d) return pids;
    while (dirent* e = ::readdir(d.get())) {
        char* end;
        unsigned long pid = std::strtoul(e->d_name, &end, 10);
        if (*end == '\0' && pid > 0) pids.push_back(static_cast<uint32_t>(pid));
    }
    std::sort(pids.begin(), pids.end());
    return pids;
}

std::string read_link(const std::string& path)
{
    char buf[512];
    ssize_t n = ::readlink(path.c_str(), buf, sizeof buf - 1);
    return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
}

void for_each_fd(const std::string& pid_dir, const std::function<void(uint32_t fd, std::string_view target)>& fn)
{
    std::string fddir = pid_dir + "/fd";
    std::unique_ptr<DIR, int (*)(DIR*)> fds(::opendir(fddir.c_str()), ::closedir);
    if (!fds) return;
    while (dirent* e = ::readdir(fds.get())) {
        char* end;
        unsigned long fd = std::strtoul(e->d_name, &end, 10);
        if (e->d_name[0] == '.' || *end != '\0') continue;
        std::string target = read_link(fddir + "/" + e->d_name);
        if (!target.empty()) fn(static_cast<uint32_t>(fd), target);
    }
}

}  // namespace pintrace::snapshot
