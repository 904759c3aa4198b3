// File descriptors that say their process holds memory long-term (io_uring
// rings with registered buffers, VFIO and iommufd, RDMA verbs, udmabuf
// dma-bufs), as a table: one row per kind of fd, recognised by its target
// in /proc/PID/fd and read through its /proc/PID/fdinfo where that says
// more. The owner scan (owners.cpp) matches every process's fds against
// the rows; a new kind of holder is one row here and, if its pins have no
// origin yet, one in explain/origin.cpp.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "explain/origin.hpp"

namespace pintrace::snapshot {

// Addresses in the holder's memory whose pages the fd itself names as
// pinned (an io_uring registered buffer).
struct PinnedRange {
    uint64_t addr = 0;
    uint64_t len = 0;
    std::string label;  // "registered buffer 0"
};

// What an fd's fdinfo added.
struct FdReading {
    std::string detail;  // "exported by udmabuf, 2097152 bytes"; "" when nothing to add
    std::vector<PinnedRange> ranges;  // empty: it pins memory without saying which
    std::string note;  // what it could not tell ("ring busy: retry"), for the scan's notes
};

struct HolderFdKind {
    std::string_view name;  // "vfio_container": tests, notes
    bool (*recognises)(std::string_view target);  // the fd's readlink
    Origin origin;  // what the report calls its pins
    // In evidence: "holds a VFIO container fd 5 (...)", "io_uring fd 5 has registered buffer 0".
    std::string_view article;  // "a", "an"
    std::string_view noun;  // "VFIO container"
    std::string_view pins;  // "its DMA mappings are long-term pins"
    // Null: the target says all. Else reads /proc/PID/fdinfo/N; nullopt
    // means the fd holds nothing after all (a dma-buf of another exporter).
    std::optional<FdReading> (*read_fdinfo)(std::string_view fdinfo) = nullptr;
};

std::span<const HolderFdKind> holder_fd_kinds();
// The row whose recognises() takes this target; null for other fds.
const HolderFdKind* holder_fd_kind(std::string_view fd_target);

// /proc/PID/fdinfo/N of an io_uring fd (5.10 to 6.12 print "UserBufs:\tN"
// then "%5u: 0x%llx/%u" per buffer; the list only when the kernel got the
// ring's lock).
struct IoUringBuffer {
    uint32_t index = 0;
    uint64_t addr = 0;
    uint64_t len = 0;
};
struct IoUringInfo {
    uint32_t user_bufs = 0;  // "UserBufs:" count
    std::vector<IoUringBuffer> buffers;  // listed only when the kernel got the ring's lock
};
std::optional<IoUringInfo> parse_io_uring_fdinfo(std::string_view text);

// /proc/PID/fdinfo/N of a dma-buf fd (drivers/dma-buf/dma-buf.c:
// "size:\t%zu", "count:", "exp_name:\t%s", "name:"); nullopt without exp_name.
struct DmaBufInfo {
    uint64_t size = 0;
    std::string exporter;  // "udmabuf", "i915", "system" (a DMA heap), ...
    std::string name;  // set by DMA_BUF_SET_NAME; often empty
};
std::optional<DmaBufInfo> parse_dma_buf_fdinfo(std::string_view text);

}  // namespace pintrace::snapshot
