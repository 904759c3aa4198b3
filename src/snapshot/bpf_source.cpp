#include "snapshot/bpf_source.hpp"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "capture/calibrate.hpp"
#include "capture/kernel_info.hpp"
#include "capture/libbpf_owners.hpp"
#include "snapshot.skel.h"

namespace pintrace::snapshot {

struct BpfRefcounts::Impl {
    std::unique_ptr<snapshot_bpf, SkelDeleter<snapshot_bpf, snapshot_bpf__destroy>> skel;
};

BpfRefcounts::BpfRefcounts(std::unique_ptr<Impl> impl, uint64_t base) : impl_(std::move(impl)), base_(base) {}
BpfRefcounts::~BpfRefcounts() = default;

namespace {
int quiet_libbpf(enum libbpf_print_level, const char* fmt, va_list args)
{
    // A refused load is expected on some kernels (auto falls back to /proc).
    return getenv("PINTRACE_DEBUG_LIBBPF") ? vfprintf(stderr, fmt, args) : 0;
}
}  // namespace

Result<std::unique_ptr<BpfRefcounts>> BpfRefcounts::open()
{
    libbpf_set_print(quiet_libbpf);
    if (std::string why = missing_privileges(); !why.empty()) return make_error(why);
    auto mapping = calibrate_page_mapping();
    if (!mapping) return mapping.error();
    auto impl = std::make_unique<Impl>();
    impl->skel.reset(snapshot_bpf__open_and_load());
    if (!impl->skel) return make_error(std::string("cannot load the snapshot program: ") + std::strerror(errno));
    impl->skel->bss->vmemmap_base = mapping->vmemmap_base;
    return std::unique_ptr<BpfRefcounts>(new BpfRefcounts(std::move(impl), mapping->vmemmap_base));
}

Result<void> BpfRefcounts::read(uint64_t start, std::span<int32_t> out, const std::vector<bool>* want)
{
    constexpr size_t kChunk = sizeof(impl_->skel->bss->refcount) / sizeof(impl_->skel->bss->refcount[0]);
    auto* bss = impl_->skel->bss;
    int fd = bpf_program__fd(impl_->skel->progs.snapshot_refcounts);
    for (size_t at = 0; at < out.size();) {
        size_t n = std::min(kChunk, out.size() - at);
        bss->start_pfn = start + at;
        bss->count = static_cast<uint32_t>(n);
        bss->done = 0;
        constexpr size_t kWords = sizeof(bss->want) / sizeof(bss->want[0]);
        for (size_t w = 0; w < kWords; ++w) {
            uint64_t bits = 0;
            for (size_t b = 0; b < 64; ++b) {
                size_t i = at + w * 64 + b;
                if (w * 64 + b < n && (!want || (*want)[i])) bits |= uint64_t{1} << b;
            }
            bss->want[w] = bits;
        }
        LIBBPF_OPTS(bpf_test_run_opts, opts);
        if (bpf_prog_test_run_opts(fd, &opts) != 0)
            return make_error(std::string("running the snapshot program: ") + std::strerror(errno));
        if (bss->done != n) return make_error("the snapshot program read " + std::to_string(bss->done) + " of " +
                                              std::to_string(n) + " pages");
        std::memcpy(out.data() + at, const_cast<const int32_t*>(bss->refcount), n * sizeof(int32_t));
        at += n;
    }
    return {};
}

}  // namespace pintrace::snapshot
