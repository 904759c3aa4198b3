// Where a pin or reference came from, recognised from its kernel stack: the
// difference between "unregister the io_uring buffers" and "wait for the
// I/O to finish" is in the call path, not in the FOLL_* flags.
//
// Everything pintrace knows and says about one origin is one row of the
// table in origin.cpp: its name, its words, what to do about it and the
// kernel functions that give it away. A new origin is one enum value and
// one row.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace pintrace {

enum class Origin {
    Unknown,
    IoUringBuffers,  // IORING_REGISTER_BUFFERS
    DirectIo,  // O_DIRECT / bio-based I/O in flight
    Vmsplice,  // pages spliced into a pipe
    Vfio,  // VFIO DMA mapping (type1 container)
    Iommufd,  // iommufd IOAS mapping (also VFIO devices bound to iommufd)
    Rdma,  // RDMA memory registration (ib_umem)
    Kvm,  // KVM guest memory
    Exec,  // execve copying its arguments
    Udmabuf,  // memfd pinned for dma-buf
    Splice,  // file pages spliced into a pipe
    SocketZerocopy,  // a MSG_ZEROCOPY send's pages, queued in a socket
};

struct OriginInfo {
    Origin origin = Origin::Unknown;
    std::string_view name;  // in JSON and in trace seeds: "io_uring_fixed_buffers"
    std::string_view description;  // a noun phrase: "io_uring fixed buffers"
    // What to do, as a sentence; "{who}" stands for the holder ("pid 7 (fio)").
    std::string_view next_step;
    std::string_view short_action;  // the few words of next_step that fit a summary line
    // Substrings of kernel function names that mark a stack as this origin.
    std::span<const std::string_view> stack_marks;
    // The kernel's own brief use of a process's pages (execve copying its
    // arguments): never what makes a holder worth naming, so between a
    // row's owners that hold as many pages the same way, it loses.
    bool incidental = false;
    // Attach points (enum pt_hook) whose grabs are this origin whatever
    // their stack says (a sampled stack may be the thread's earlier grab's).
    std::span<const uint16_t> hooks = {};
    // Where a reference of this origin is dropped, when it is not an
    // inline put_page(): with that hook attached, its release is traced.
    uint16_t release_hook = 0;
};

// Every known origin (Unknown not among them), in the order their stack
// marks are tried.
std::span<const OriginInfo> origins();
// Unknown's row has no next step: callers fall back to the cause's.
const OriginInfo& origin_info(Origin o);

// Frames as "symbol+0xoff", innermost first.
Origin origin_of(std::span<const std::string> kernel_frames);
// A grab's origin: its attach point's, where that has one, else its stack's.
Origin origin_of(uint16_t hook, std::span<const std::string> kernel_frames);
// The origin an attach point's grabs always have, Unknown for most.
Origin origin_of_hook(uint16_t hook);
std::string_view origin_name(Origin o);  // "io_uring_fixed_buffers", ...; "unknown"
std::string_view origin_description(Origin o);  // "io_uring fixed buffers", ...; "an unrecognised code path"
Origin origin_from_name(std::string_view name);  // the inverse of origin_name; Unknown for others

}  // namespace pintrace
