#include "explain/origin.hpp"

#include <array>

#include "pintrace.h"

namespace pintrace {
namespace {

// Stack marks are substrings of function names, because helpers get
// inlined and syscall entries are decorated (__do_sys_vmsplice,
// __x64_sys_...). The innermost frame that carries a mark decides (direct
// I/O sits below io_uring's read path, for example); within one frame the
// rows are tried in table order, so VFIO comes first:
// "vfio_pin_pages_remote" contains io_uring's "io_pin_pages".
constexpr std::string_view kVfioMarks[] = {"vfio_"};
constexpr std::string_view kIommufdMarks[] = {"pfn_reader_user_pin", "iopt_", "iommufd_"};
constexpr std::string_view kIoUringMarks[] = {"io_sqe_buffer", "io_pin_pages", "io_sqe_buffers_register"};
constexpr std::string_view kDirectIoMarks[] = {"bio_iov_iter_get_pages", "__blkdev_direct_IO", "iomap_dio"};
constexpr std::string_view kVmspliceMarks[] = {"iter_to_pipe", "vmsplice"};
constexpr std::string_view kRdmaMarks[] = {"ib_umem_get"};
constexpr std::string_view kKvmMarks[] = {"kvm_", "hva_to_pfn"};
constexpr std::string_view kExecMarks[] = {"get_arg_page"};
constexpr std::string_view kUdmabufMarks[] = {"memfd_pin_folios", "udmabuf_"};
constexpr std::string_view kSpliceMarks[] = {"splice_file_to_pipe", "do_splice_to", "do_splice_read"};
constexpr uint16_t kSpliceHooks[] = {PT_HOOK_SPLICE_TO, PT_HOOK_SPLICE_READ};
// __zerocopy_sg_from_iter (5.10 to 6.9), zerocopy_fill_skb_from_iter (6.10
// on), under skb_zerocopy_iter_stream (TCP) or _dgram (UDP).
constexpr std::string_view kZerocopyMarks[] = {"zerocopy_sg_from_iter", "zerocopy_fill_skb_from_iter",
                                               "skb_zerocopy_iter"};

constexpr std::array kOrigins = {
    OriginInfo{Origin::Vfio, "vfio", "a VFIO DMA mapping",
               "a VFIO DMA mapping pins guest or device memory for as long as it exists: unmap it "
               "(VFIO_IOMMU_UNMAP_DMA), detach the device, or stop {who}",
               "unmap the DMA mapping, detach the device, or stop it", kVfioMarks},
    OriginInfo{Origin::Iommufd, "iommufd", "an iommufd IOAS mapping",
               "an iommufd IOAS mapping pins its memory for as long as it exists: unmap it (IOMMU_IOAS_UNMAP), "
               "detach the device, or stop {who}",
               "unmap the IOAS mapping, detach the device, or stop it", kIommufdMarks},
    OriginInfo{Origin::IoUringBuffers, "io_uring_fixed_buffers", "io_uring fixed buffers",
               "io_uring fixed buffers stay pinned until unregistered: have {who} call IORING_UNREGISTER_BUFFERS "
               "(or close its ring), or restart it",
               "unregister the buffers (IORING_UNREGISTER_BUFFERS) or restart it", kIoUringMarks},
    OriginInfo{Origin::DirectIo, "direct_io", "direct I/O in flight",
               "direct I/O in flight holds its buffer until the I/O completes: retry the migration; if it keeps "
               "failing, look for I/O stuck on a slow or hung device in {who}",
               "I/O in flight: retry, and look for stuck I/O if it persists", kDirectIoMarks},
    OriginInfo{Origin::Vmsplice, "vmsplice", "pages vmspliced into a pipe",
               "pages vmspliced into a pipe stay referenced until the pipe is read or closed: find the pipe {who} "
               "fills and nobody drains",
               "drain or close the pipe it fills", kVmspliceMarks},
    OriginInfo{Origin::Rdma, "rdma", "an RDMA memory registration",
               "an RDMA memory region pins its pages until deregistered: have {who} deregister the MR "
               "(ibv_dereg_mr), or restart it",
               "deregister the memory region or restart it", kRdmaMarks},
    OriginInfo{Origin::Kvm, "kvm", "KVM guest memory",
               "KVM holds a reference on guest memory it keeps mapped for the guest (a page a vCPU maps, such as "
               "the APIC access page, or one mapped for emulation) for as long as it stays mapped: retry; if it "
               "persists, live-migrate or restart the guest run by {who}",
               "retry; if it persists, migrate or restart the guest", kKvmMarks},
    OriginInfo{Origin::Exec, "exec", "execve copying its arguments",
               "execve holds argument pages only while it runs: transient; retry", "transient: retry", kExecMarks,
               true},
    OriginInfo{Origin::Udmabuf, "udmabuf", "a udmabuf (memfd pinned for DMA)",
               "a udmabuf pins the memfd pages it exports until its dma-buf is released: have {who} close the "
               "dma-buf fd (and the devices that imported it let go), or restart it",
               "close the udmabuf's dma-buf fd or restart it", kUdmabufMarks},
    OriginInfo{.origin = Origin::Splice,
               .name = "splice",
               .description = "file pages spliced into a pipe",
               .next_step = "a pipe holds the page cache pages {who} spliced into it until the pipe is read or "
                            "closed: drain or close that pipe (its holders have a pipe:[INODE] in /proc/PID/fd)",
               .short_action = "drain or close the pipe it filled",
               .stack_marks = kSpliceMarks,
               .hooks = kSpliceHooks,
               .release_hook = PT_HOOK_PIPE_BUF_RELEASE},
    OriginInfo{Origin::SocketZerocopy, "socket_zerocopy", "a zero-copy socket send (MSG_ZEROCOPY)",
               "a zero-copy send (MSG_ZEROCOPY) keeps its pages referenced until the socket has sent them and the "
               "peer acknowledged them: a peer that stopped reading, or a stalled connection, keeps them; find "
               "{who}'s sockets with data queued (ss -tmp: Send-Q) and unstick or close the connection",
               "unstick or close its zero-copy connection", kZerocopyMarks},
};

constexpr OriginInfo kUnknown{Origin::Unknown, "unknown", "an unrecognised code path", "", "", {}};

}  // namespace

std::span<const OriginInfo> origins() { return kOrigins; }

const OriginInfo& origin_info(Origin o)
{
    for (const auto& row : kOrigins)
        if (row.origin == o) return row;
    return kUnknown;
}

Origin origin_of(std::span<const std::string> kernel_frames)
{
    for (const auto& frame : kernel_frames) {
        std::string_view fn = std::string_view(frame).substr(0, frame.find('+'));
        for (const auto& row : kOrigins)
            for (std::string_view mark : row.stack_marks)
                if (fn.find(mark) != std::string_view::npos) return row.origin;
    }
    return Origin::Unknown;
}

Origin origin_of_hook(uint16_t hook)
{
    for (const auto& row : kOrigins)
        for (uint16_t h : row.hooks)
            if (h == hook) return row.origin;
    return Origin::Unknown;
}

Origin origin_of(uint16_t hook, std::span<const std::string> kernel_frames)
{
    Origin by_hook = origin_of_hook(hook);
    return by_hook != Origin::Unknown ? by_hook : origin_of(kernel_frames);
}

std::string_view origin_name(Origin o) { return origin_info(o).name; }

std::string_view origin_description(Origin o) { return origin_info(o).description; }

Origin origin_from_name(std::string_view name)
{
    for (const auto& row : kOrigins)
        if (row.name == name) return row.origin;
    return Origin::Unknown;
}

}  // namespace pintrace
