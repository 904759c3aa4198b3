#include "snapshot/holder_fds.hpp"

#include <algorithm>
#include <array>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <sstream>

namespace pintrace::snapshot {
namespace {

bool starts_with(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

bool vfio_container(std::string_view t) { return t == "/dev/vfio/vfio"; }
bool vfio_group(std::string_view t)
{
    constexpr std::string_view dir = "/dev/vfio/";
    return starts_with(t, dir) && t.size() > dir.size() &&
           std::all_of(t.begin() + dir.size(), t.end(), [](char c) { return c >= '0' && c <= '9'; });
}
// The cdev of a VFIO device (6.6+), or the fd VFIO_GROUP_GET_DEVICE_FD returns.
bool vfio_device(std::string_view t) { return starts_with(t, "/dev/vfio/devices/") || t == "anon_inode:[vfio-device]"; }
bool iommufd(std::string_view t) { return t == "/dev/iommu"; }
// Verbs only: /dev/infiniband/rdma_cm (the connection manager) pins nothing.
bool rdma_verbs(std::string_view t) { return starts_with(t, "/dev/infiniband/uverbs"); }
bool io_uring(std::string_view t) { return t == "anon_inode:[io_uring]"; }
// dma-buf's own pseudo filesystem names its files "/dmabuf:NAME" (5.3+);
// earlier kernels made them anonymous inodes.
bool dma_buf(std::string_view t) { return starts_with(t, "/dmabuf:") || t == "anon_inode:dmabuf"; }

std::optional<FdReading> read_io_uring(std::string_view fdinfo)
{
    auto info = parse_io_uring_fdinfo(fdinfo);
    if (!info || info->user_bufs == 0) return std::nullopt;  // no registered buffers: it pins nothing
    FdReading r;
    for (const auto& b : info->buffers)
        r.ranges.push_back({b.addr, b.len, "registered buffer " + std::to_string(b.index)});
    if (r.ranges.empty()) {
        r.detail = std::to_string(info->user_bufs) + " registered buffer(s) the kernel did not list";
        r.note = "has " + std::to_string(info->user_bufs) +
                 " registered buffer(s) the kernel did not list (ring busy): retry";
    }
    return r;
}

// Only udmabuf's dma-bufs hold user memory (the memfd's pages it exports);
// a GPU's or a DMA heap's hold memory of their own, which is no page of a
// process.
std::optional<FdReading> read_udmabuf(std::string_view fdinfo)
{
    auto info = parse_dma_buf_fdinfo(fdinfo);
    if (!info || info->exporter != "udmabuf") return std::nullopt;
    return FdReading{"exported by udmabuf, " + std::to_string(info->size) + " bytes", {}, ""};
}

constexpr std::array kKinds = {
    HolderFdKind{"vfio_container", vfio_container, Origin::Vfio, "a", "VFIO container",
                 "its DMA mappings are long-term pins"},
    HolderFdKind{"vfio_group", vfio_group, Origin::Vfio, "a", "VFIO group",
                 "memory it maps for device DMA is pinned long-term"},
    HolderFdKind{"vfio_device", vfio_device, Origin::Vfio, "a", "VFIO device",
                 "memory it maps for device DMA is pinned long-term"},
    HolderFdKind{"iommufd", iommufd, Origin::Iommufd, "an", "iommufd", "its IOAS mappings are long-term pins"},
    HolderFdKind{"rdma_verbs", rdma_verbs, Origin::Rdma, "an", "RDMA verbs", "its memory regions are long-term pins"},
    HolderFdKind{"io_uring", io_uring, Origin::IoUringBuffers, "an", "io_uring",
                 "its registered buffers are long-term pins", read_io_uring},
    HolderFdKind{"udmabuf", dma_buf, Origin::Udmabuf, "a", "udmabuf dma-buf",
                 "the memfd pages it exports are held for DMA until it is released", read_udmabuf},
};

// "key:\tvalue" lines, as fdinfo prints them.
std::optional<std::string> field(std::string_view text, std::string_view key)
{
    std::istringstream in{std::string(text)};
    for (std::string line; std::getline(in, line);) {
        if (line.size() <= key.size() || line.compare(0, key.size(), key) != 0 || line[key.size()] != ':') continue;
        size_t v = line.find_first_not_of(" \t", key.size() + 1);
        return v == std::string::npos ? std::string() : line.substr(v);
    }
    return std::nullopt;
}

}  // namespace

std::span<const HolderFdKind> holder_fd_kinds() { return kKinds; }

const HolderFdKind* holder_fd_kind(std::string_view fd_target)
{
    for (const auto& k : kKinds)
        if (k.recognises(fd_target)) return &k;
    return nullptr;
}

std::optional<IoUringInfo> parse_io_uring_fdinfo(std::string_view text)
{
    std::istringstream in{std::string(text)};
    std::string line;
    std::optional<IoUringInfo> info;
    bool in_bufs = false;
    while (std::getline(in, line)) {
        unsigned n;
        if (std::sscanf(line.c_str(), "UserBufs: %u", &n) == 1) {
            info = IoUringInfo{n, {}};
            in_bufs = true;
            continue;
        }
        if (!in_bufs) continue;
        unsigned idx, len;
        uint64_t addr;
        if (std::sscanf(line.c_str(), " %u: 0x%" SCNx64 "/%u", &idx, &addr, &len) == 3) {
            info->buffers.push_back({idx, addr, len});
            continue;
        }
        in_bufs = false;  // the next section
    }
    return info;
}

std::optional<DmaBufInfo> parse_dma_buf_fdinfo(std::string_view text)
{
    auto exporter = field(text, "exp_name");
    if (!exporter) return std::nullopt;
    DmaBufInfo info;
    info.exporter = *exporter;
    if (auto size = field(text, "size")) info.size = std::strtoull(size->c_str(), nullptr, 10);
    if (auto name = field(text, "name")) info.name = *name;
    return info;
}

}  // namespace pintrace::snapshot
