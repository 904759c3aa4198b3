#include "explain/origin.hpp"

#include <array>
#include <utility>

namespace pintrace {
namespace {

// Substrings of function names, checked innermost frame first: the first
// frame that names a subsystem decides (direct I/O sits below io_uring's
// read path, for example). Substrings, because helpers get inlined and
// syscall entries are decorated (__do_sys_vmsplice, __x64_sys_...).
// "vfio_" comes first: "vfio_pin_pages_remote" contains "io_pin_pages".
constexpr std::array<std::pair<std::string_view, Origin>, 16> kSignatures = {{
    {"vfio_", Origin::Vfio},
    {"io_sqe_buffer", Origin::IoUringBuffers},
    {"io_pin_pages", Origin::IoUringBuffers},
    {"io_sqe_buffers_register", Origin::IoUringBuffers},
    {"bio_iov_iter_get_pages", Origin::DirectIo},
    {"__blkdev_direct_IO", Origin::DirectIo},
    {"iomap_dio", Origin::DirectIo},
    {"__iomap_dio", Origin::DirectIo},
    {"iter_to_pipe", Origin::Vmsplice},
    {"vmsplice", Origin::Vmsplice},
    {"ib_umem_get", Origin::Rdma},
    {"kvm_", Origin::Kvm},
    {"hva_to_pfn", Origin::Kvm},
    {"get_arg_page", Origin::Exec},
    {"memfd_pin_folios", Origin::Udmabuf},
    {"udmabuf_", Origin::Udmabuf},
}};

}  // namespace

Origin origin_of(std::span<const std::string> kernel_frames)
{
    for (const auto& frame : kernel_frames) {
        std::string_view fn = std::string_view(frame).substr(0, frame.find('+'));
        for (const auto& [needle, origin] : kSignatures)
            if (fn.find(needle) != std::string_view::npos) return origin;
    }
    return Origin::Unknown;
}

std::string_view origin_name(Origin o)
{
    switch (o) {
    case Origin::IoUringBuffers: return "io_uring_fixed_buffers";
    case Origin::DirectIo: return "direct_io";
    case Origin::Vmsplice: return "vmsplice";
    case Origin::Vfio: return "vfio";
    case Origin::Rdma: return "rdma";
    case Origin::Kvm: return "kvm";
    case Origin::Exec: return "exec";
    case Origin::Udmabuf: return "udmabuf";
    case Origin::Unknown: break;
    }
    return "unknown";
}

Origin origin_from_name(std::string_view name)
{
    for (Origin o : {Origin::IoUringBuffers, Origin::DirectIo, Origin::Vmsplice, Origin::Vfio, Origin::Rdma, Origin::Kvm,
                     Origin::Exec, Origin::Udmabuf})
        if (origin_name(o) == name) return o;
    return Origin::Unknown;
}

std::string_view origin_description(Origin o)
{
    switch (o) {
    case Origin::IoUringBuffers: return "io_uring fixed buffers";
    case Origin::DirectIo: return "direct I/O in flight";
    case Origin::Vmsplice: return "pages vmspliced into a pipe";
    case Origin::Vfio: return "a VFIO DMA mapping";
    case Origin::Rdma: return "an RDMA memory registration";
    case Origin::Kvm: return "KVM guest memory";
    case Origin::Exec: return "execve copying its arguments";
    case Origin::Udmabuf: return "a udmabuf (memfd pinned for DMA)";
    case Origin::Unknown: break;
    }
    return "an unrecognised code path";
}

}  // namespace pintrace
