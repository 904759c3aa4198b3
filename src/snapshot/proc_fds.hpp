// Processes and their file descriptors as /proc shows them: what the owner
// scan (holder fds: io_uring, VFIO, RDMA, dma-bufs) and the recorder's pipe
// watch (pipes a splice filled) both walk.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace pintrace::snapshot {

// The pids under a procfs mount, ascending.
std::vector<uint32_t> list_pids(const std::string& proc);

// A symlink's target; "" when it cannot be read (gone, or not ours).
std::string read_link(const std::string& path);

// fn(fd, target) for each fd of one process (pid_dir: PROC/PID) whose link
// reads; none for a process gone meanwhile or not ours to read.
void for_each_fd(const std::string& pid_dir, const std::function<void(uint32_t fd, std::string_view target)>& fn);

}  // namespace pintrace::snapshot
