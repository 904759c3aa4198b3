// Builds traces the way the recorder does: kernel records as bpf/pintrace.h
// lays them out, plus the user-space records, through the real writer.
#pragma once

#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "pintrace.h"
#include "trace/writer.hpp"

namespace pintrace::test {

inline pt_header raw_head(uint16_t type, uint16_t size, uint16_t hook, uint64_t ts, uint32_t tgid,
                          std::string_view comm, uint32_t tid = 0)
{
    pt_header h{};
    h.type = type;
    h.size = size;
    h.hook = hook;
    h.ts_ns = ts;
    h.tgid = tgid;
    h.tid = tid ? tid : tgid;
    std::memcpy(h.comm, comm.data(), std::min<size_t>(comm.size(), PT_COMM_LEN - 1));
    h.cgroup_id = 4242;
    return h;
}

template <class Raw>
std::vector<std::byte> bytes_of(const Raw& r)
{
    std::vector<std::byte> b(sizeof r);
    std::memcpy(b.data(), &r, sizeof r);
    return b;
}

// FOLL_* as 6.1 numbers them.
inline constexpr uint32_t k61Write = 0x01, k61Get = 0x04, k61Pin = 0x40000, k61Longterm = 0x10000;

inline std::vector<std::byte> raw_grab(uint64_t ts, uint32_t tgid, uint64_t pfn, uint32_t raw_flags,
                                       std::string_view comm = "qemu-kvm", int32_t kstack = 1)
{
    pt_grab g{};
    g.h = raw_head(PT_REC_GRAB, sizeof g, PT_HOOK_TRY_GRAB_PAGE, ts, tgid, comm);
    g.pfn = pfn;
    g.nr_pages = 1;
    g.gup_flags = raw_flags;
    g.kstack_id = kstack;
    g.ustack_id = -14;
    return bytes_of(g);
}

inline std::vector<std::byte> raw_release(uint64_t ts, uint32_t tgid, uint64_t pfn, uint32_t raw_flags)
{
    pt_release r{};
    r.h = raw_head(PT_REC_RELEASE, sizeof r, PT_HOOK_GUP_PUT_FOLIO, ts, tgid, "kworker/u4:2");
    r.pfn = pfn;
    r.refs = 1;
    r.gup_flags = raw_flags;
    r.nr_pages = 1;
    return bytes_of(r);
}

inline std::vector<std::byte> raw_migrate(uint64_t ts, uint32_t tgid, uint64_t ok, uint64_t failed, int reason = 3)
{
    pt_migrate m{};
    m.h = raw_head(PT_REC_MIGRATE, sizeof m, PT_HOOK_MIGRATE_TP, ts, tgid, "numactl");
    m.succeeded = ok;
    m.failed = failed;
    m.mode = 2;
    m.reason = reason;
    return bytes_of(m);
}

inline std::vector<std::byte> raw_failed(uint64_t ts, uint32_t tgid, uint64_t pfn, int32_t refcount, uint32_t index)
{
    pt_failed_folio f{};
    f.h = raw_head(PT_REC_FAILED_FOLIO, sizeof f, PT_HOOK_MIGRATE_PAGES_EXIT, ts, tgid, "numactl");
    f.pfn = pfn;
    f.refcount = refcount;
    f.mapcount = 1;
    f.index = index;
    return bytes_of(f);
}

inline std::vector<std::byte> raw_end(uint64_t ts, uint32_t tgid, int64_t ret, uint32_t walked)
{
    pt_migrate_end e{};
    e.h = raw_head(PT_REC_MIGRATE_END, sizeof e, PT_HOOK_MIGRATE_PAGES_EXIT, ts, tgid, "numactl");
    e.ret = ret;
    e.walked = walked;
    return bytes_of(e);
}

inline std::vector<std::byte> raw_process_exit(uint64_t ts, uint32_t tgid, std::string_view comm, uint32_t tid = 0)
{
    pt_process_exit x{};
    x.h = raw_head(PT_REC_PROCESS_EXIT, sizeof x, PT_HOOK_EXIT_TP, ts, tgid, comm, tid);
    return bytes_of(x);
}

inline TraceInfo sample_info(bool walk_attached = true)
{
    TraceInfo info;
    info.meta = {{"kernel_release", "6.1.0-50-cloud-amd64"},
                 {"boot_id", "b00t"},
                 {"hostname", "db-7"},
                 {"start_monotonic_ns", "1000"},
                 {"start_realtime_ns", "1795000000000000000"}};
    info.flags = FlagLayout::before_6_3();
    info.migrate_reasons = {{0, "compaction"}, {3, "syscall_or_cpuset"}, {6, "contig_range"}};
    info.attach = {
        attach_point("try_grab_page", PT_HOOK_TRY_GRAB_PAGE, "fexit"),
        attach_point("gup_put_folio", PT_HOOK_GUP_PUT_FOLIO, "fentry"),
        attach_point("migrate:mm_migrate_pages", PT_HOOK_MIGRATE_TP, "tracepoint"),
        attach_point("migrate_pages", PT_HOOK_MIGRATE_PAGES_EXIT, walk_attached ? "kretprobe" : "missing",
                     walk_attached ? "" : "refused (EPERM)", walk_attached ? "" : "which pages failed is unknown")};
    return info;
}

// pid 4242 long-term pins pfns 0x100..0x103; 0x102 is released again by a
// kworker; then pid 77 migrates 0x100..0x107 and 0x100, 0x101, 0x103 fail.
inline void write_sample(TraceWriter& w, bool walk = true)
{
    uint32_t pin = k61Pin | k61Longterm | k61Write;
    for (uint64_t pfn = 0x100; pfn < 0x104; ++pfn) (void)w.append_kernel_record(raw_grab(2000 + pfn, 4242, pfn, pin));
    (void)w.append(
        StackEvent{1,
                   StackKind::Kernel,
                   0,
                   {{0xffffffff81000010, "try_grab_page+0x10"}, {0xffffffff81000200, "io_sqe_buffer_register+0x63"}}});
    (void)w.append_kernel_record(raw_release(3000, 99, 0x102, k61Pin));
    (void)w.append_kernel_record(raw_migrate(5000, 77, 5, 3));
    if (walk) {
        uint32_t i = 0;
        for (uint64_t pfn : {0x100, 0x101, 0x103}) (void)w.append_kernel_record(raw_failed(5001, 77, pfn, 1026, i++));
        (void)w.append_kernel_record(raw_end(5002, 77, 3, 3));
    }
}

}  // namespace pintrace::test
