#include "snapshot/rmap_source.hpp"

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
#include "pintrace.h"  // struct pt_page_identity, before the skeleton that names it
#include "rmap.h"
#include "rmap.skel.h"

namespace pintrace::snapshot {

struct BpfRmap::Impl {
    std::unique_ptr<rmap_bpf, SkelDeleter<rmap_bpf, rmap_bpf__destroy>> skel;
};

BpfRmap::BpfRmap(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
BpfRmap::~BpfRmap() = default;

namespace {

RmapKind kind_of(uint32_t k)
{
    switch (k) {
    case RMAP_NONE: return RmapKind::None;
    case RMAP_ANON: return RmapKind::Anon;
    case RMAP_FILE: return RmapKind::File;
    case RMAP_KSM: return RmapKind::Ksm;
    case RMAP_MOVABLE: return RmapKind::Movable;
    default: return RmapKind::Unreadable;
    }
}
}  // namespace

Result<std::unique_ptr<BpfRmap>> BpfRmap::open(std::optional<uint64_t> vmemmap_base)
{
    libbpf_set_print(libbpf_print_when_debugging);  // a refused load: owners fall back to the walk
    if (std::string why = missing_privileges(); !why.empty()) return make_error(why);
    if (!vmemmap_base) {
        auto mapping = calibrate_page_mapping();
        if (!mapping) return mapping.error();
        vmemmap_base = mapping->vmemmap_base;
    }
    auto impl = std::make_unique<Impl>();
    impl->skel.reset(rmap_bpf__open_and_load());
    if (!impl->skel) return make_error(std::string("cannot load the reverse-map program: ") + std::strerror(errno));
    impl->skel->bss->vmemmap_base = *vmemmap_base;
    return std::unique_ptr<BpfRmap>(new BpfRmap(std::move(impl)));
}

Result<PageMappers> BpfRmap::walk(uint64_t pfn, size_t max_mappers, unsigned max_runs)
{
    auto* bss = impl_->skel->bss;
    int fd = bpf_program__fd(impl_->skel->progs.rmap_walk);
    constexpr size_t kSlots = sizeof(bss->rmap_tgid) / sizeof(bss->rmap_tgid[0]);
    PageMappers out;
    out.pfn = pfn;
    bss->rmap_pfn = pfn;
    for (unsigned run = 0;; ++run) {
        bss->rmap_resume = run > 0;
        LIBBPF_OPTS(bpf_test_run_opts, opts);
        if (bpf_prog_test_run_opts(fd, &opts) != 0)
            return make_error(std::string("running the reverse-map program: ") + std::strerror(errno));
        out.nodes_visited += bss->rmap_visited;
        size_t n = std::min<size_t>(bss->rmap_nr, kSlots);
        for (size_t i = 0; i < n && out.mappers.size() < max_mappers; ++i) {
            RmapMapper m;
            m.tgid = bss->rmap_tgid[i];
            m.vaddr = bss->rmap_vaddr[i];
            m.mm = bss->rmap_mm[i];
            m.comm.assign(bss->rmap_comm[i], strnlen(bss->rmap_comm[i], sizeof(bss->rmap_comm[i])));
            out.mappers.push_back(std::move(m));
        }
        if (run == 0) {
            out.kind = kind_of(bss->rmap_kind);
            out.pgoff = bss->rmap_pgoff;
            if (bss->rmap_identity.kind != PT_PAGE_UNREAD) out.identity = decode_page_identity(bss->rmap_identity);
        }
        if (bss->rmap_sp == 0) break;
        if (out.mappers.size() >= max_mappers || run + 1 >= max_runs) {
            out.truncated = true;
            break;
        }
    }
    out.truncated = out.truncated || (bss->rmap_flags & RMAP_STACK_FULL);
    out.no_owner = bss->rmap_flags & RMAP_NO_OWNER;
    out.no_head = bss->rmap_flags & RMAP_NO_HEAD;
    return out;
}

RmapLookup BpfRmap::lookup()
{
    return [this](uint64_t pfn) { return walk(pfn); };
}

}  // namespace pintrace::snapshot
