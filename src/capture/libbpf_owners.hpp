// RAII owners for libbpf objects: each is released exactly once, on every
// path, including early error returns during setup.
#pragma once

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <unistd.h>

#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <vector>

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

// The sum over CPUs of a one-entry per-CPU counter map (the capture's
// lost records, its paired pins); 0 when it cannot be read.
inline uint64_t per_cpu_sum(const bpf_map* map)
{
    int cpus = libbpf_num_possible_cpus();
    std::vector<uint64_t> per_cpu(cpus > 0 ? static_cast<size_t>(cpus) : 1);
    uint32_t key = 0;
    if (bpf_map_lookup_elem(bpf_map__fd(map), &key, per_cpu.data()) != 0) return 0;
    uint64_t sum = 0;
    for (uint64_t v : per_cpu) sum += v;
    return sum;
}

}  // namespace pintrace
