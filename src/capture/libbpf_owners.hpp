// RAII owners for libbpf objects: each is released exactly once, on every
// path, including early error returns during setup.
#pragma once

#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <unistd.h>

#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <memory>

#include "util/fd.hpp"

namespace pintrace {

// For libbpf_set_print: libbpf's own chatter (the probe failures and
// refused loads pintrace expects, and explains in one line of its own)
// stays off the user's terminal unless PINTRACE_DEBUG_LIBBPF is set.
inline int libbpf_print_when_debugging(enum libbpf_print_level, const char* fmt, va_list args)
{
    return getenv("PINTRACE_DEBUG_LIBBPF") ? vfprintf(stderr, fmt, args) : 0;
}

struct BtfDeleter {
    void operator()(btf* p) const { btf__free(p); }
};
struct LinkDeleter {
    void operator()(bpf_link* p) const { bpf_link__destroy(p); }
};
struct RingBufferDeleter {
    void operator()(ring_buffer* p) const { ring_buffer__free(p); }
};

using BtfPtr = std::unique_ptr<btf, BtfDeleter>;
using LinkPtr = std::unique_ptr<bpf_link, LinkDeleter>;
using RingBufferPtr = std::unique_ptr<ring_buffer, RingBufferDeleter>;

// A skeleton: Skel is the bpftool-generated struct, Destroy its __destroy.
template <class Skel, void (*Destroy)(Skel*)>
struct SkelDeleter {
    void operator()(Skel* p) const { Destroy(p); }
};

}  // namespace pintrace
