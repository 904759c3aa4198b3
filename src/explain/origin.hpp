// Where a pin or reference came from, recognised from its kernel stack: the
// difference between "unregister the io_uring buffers" and "wait for the
// I/O to finish" is in the call path, not in the FOLL_* flags.
#pragma once

#include <span>
#include <string>
#include <string_view>

namespace pintrace {

enum class Origin {
    Unknown,
    IoUringBuffers,  // IORING_REGISTER_BUFFERS
    DirectIo,        // O_DIRECT / bio-based I/O in flight
    Vmsplice,        // pages spliced into a pipe
    Vfio,            // VFIO DMA mapping
    Rdma,            // RDMA memory registration (ib_umem)
    Kvm,             // KVM guest memory
    Exec,            // execve copying its arguments
    Udmabuf,         // memfd pinned for dma-buf
};

// Frames as "symbol+0xoff", innermost first.
Origin origin_of(std::span<const std::string> kernel_frames);
std::string_view origin_name(Origin o);         // "io_uring_fixed_buffers", ...
std::string_view origin_description(Origin o);  // "io_uring fixed buffers", ...
Origin origin_from_name(std::string_view name);  // the inverse of origin_name; Unknown for others

}  // namespace pintrace
