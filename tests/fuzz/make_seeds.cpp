// Writes the hand-made seeds of tests/fuzz/corpus/ (docs/fuzzing.md):
//
//   build-fuzz/make_seeds tests/fuzz/corpus
//
// Each is a small trace through the real TraceWriter: every record type
// (kernel and user space), snapshot records, a trace never closed and one
// cut mid-record, so the fuzzer starts from every branch of the reader.
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>

#include "../unit/sample_trace.hpp"
#include "pintrace.h"
#include "trace/writer.hpp"

using namespace pintrace;
using namespace pintrace::test;

namespace {

std::vector<std::byte> raw_exec(uint64_t ts, uint32_t tgid)
{
    pt_exec x{};
    x.h = raw_head(PT_REC_EXEC, sizeof x, PT_HOOK_EXEC_TP, ts, tgid, "sh");
    return bytes_of(x);
}

std::vector<std::byte> raw_isolation(uint64_t ts, uint64_t start, uint64_t end, uint64_t busy)
{
    pt_isolation_failed x{};
    x.h = raw_head(PT_REC_ISOLATION_FAILED, sizeof x, PT_HOOK_ISOLATION_TP, ts, 77, "echo");
    x.start_pfn = start;
    x.end_pfn = end;
    x.busy_pfn = busy;
    return bytes_of(x);
}

std::vector<std::byte> raw_refused(uint64_t ts, uint64_t start, uint64_t end, uint64_t pfn)
{
    pt_isolation_refused x{};
    x.h = raw_head(PT_REC_ISOLATION_REFUSED, sizeof x, PT_HOOK_ISOLATE_RANGE, ts, 77, "echo");
    x.start_pfn = start;
    x.end_pfn = end;
    x.unmovable_pfn = pfn;
    x.error = -16;
    return bytes_of(x);
}

std::vector<std::byte> raw_contig(uint64_t ts, uint32_t op, uint64_t nr, uint64_t pfn)
{
    pt_contig_alloc x{};
    x.h = raw_head(PT_REC_CONTIG_ALLOC, sizeof x, PT_HOOK_CONTIG_PAGES, ts, 77, "echo");
    x.nr_pages = nr;
    x.pfn = pfn;
    x.nid = 1;
    x.op = op;
    return bytes_of(x);
}

std::vector<std::byte> raw_freed(uint64_t ts, uint64_t pfn, uint32_t order)
{
    pt_page_freed x{};
    x.h = raw_head(PT_REC_PAGE_FREED, sizeof x, PT_HOOK_PAGE_FREE_TP, ts, 0, "swapper/0");
    x.pfn = pfn;
    x.order = order;
    return bytes_of(x);
}

std::vector<std::byte> raw_cma(uint64_t ts, uint16_t op, uint64_t pfn, uint64_t count, uint16_t flags, int32_t err)
{
    pt_cma x{};
    uint16_t hook = op == PT_CMA_ALLOC_START ? PT_HOOK_CMA_ALLOC_START_TP :
                    op == PT_CMA_BUSY_RETRY  ? PT_HOOK_CMA_BUSY_RETRY_TP :
                                               PT_HOOK_CMA_ALLOC_FINISH_TP;
    x.h = raw_head(PT_REC_CMA, sizeof x, hook, ts, 88, "cma_test", 89);
    x.pfn = pfn;
    x.count = count;
    x.align = 4;
    x.op = op;
    x.flags = flags | PT_CMA_HAS_NAME;
    x.errorno = err;
    std::snprintf(x.name, sizeof x.name, "hugetlb1");
    return bytes_of(x);
}

bool write(const std::string& path, void (*body)(TraceWriter&), bool finish = true, bool paired = false)
{
    TraceInfo info = sample_info();
    if (paired) {  // recorded with pairing in the kernel (docs/pairing.md)
        info.meta["pairing"] = "kernel";
        info.meta["pairing_threshold_ns"] = "300000000";
    }
    auto w = TraceWriter::create(path, info);
    if (!w) {
        std::fprintf(stderr, "%s: %s\n", path.c_str(), w.error().message.c_str());
        return false;
    }
    body(w.value());
    FinishEvent end{9000, w->records(), 1, StopReason::CommandExited, 0};
    end.paired_pins = paired ? 4217 : 0;
    if (finish) (void)w->finish(end);
    return true;
}

void all_kernel_records(TraceWriter& w)
{
    write_sample(w);
    uint32_t pin = k61Pin | k61Longterm;
    (void)w.append(ProcessInfoEvent{2100, 4242, "/usr/bin/qemu-system-x86_64", "/machine.slice/vm1.scope"});
    (void)w.append(StackEvent{-14, StackKind::User, 4242, {{0x401000, "qemu+0x1000"}}});
    (void)w.append_kernel_record(raw_exec(6000, 4242));
    (void)w.append_kernel_record(raw_grab(6100, 4243, 0x200, pin, "fio"));
    (void)w.append_kernel_record(raw_contig(6200, PT_CONTIG_START, 512, PT_NO_PFN));
    (void)w.append_kernel_record(raw_refused(6300, 0x200, 0x400, 0x200));
    (void)w.append_kernel_record(raw_isolation(6400, 0x200, 0x400, 0x201));
    (void)w.append_kernel_record(raw_contig(6500, PT_CONTIG_END, 512, PT_NO_PFN));
    (void)w.append_kernel_record(raw_cma(6600, PT_CMA_ALLOC_START, 0, 512, 0, 0));
    (void)w.append_kernel_record(raw_cma(6700, PT_CMA_BUSY_RETRY, 0x200, 512, 0, 0));
    (void)w.append_kernel_record(raw_cma(6800, PT_CMA_ALLOC_END, 0x200, 512, PT_CMA_HAS_ERRNO, -16));
    (void)w.append_kernel_record(raw_freed(6900, 0x102, 0));
    (void)w.append_kernel_record(raw_process_exit(7000, 4243, "fio"));
    (void)w.append(LostEvent{7100, 7200, 3});
}

void snapshot_records(TraceWriter& w)
{
    SnapshotPagesEvent pages{1500,
                             {{0x300, 1025, 1, SeedClass::Pinned},
                              {0x301, -1, -1, SeedClass::MaybePinned},
                              {0x302, 3, 1, SeedClass::ExtraRefs}}};
    (void)w.append(pages);
    (void)w.append(SnapshotHolderEvent{1500,
                                       4242,
                                       true,
                                       "qemu-kvm",
                                       "/usr/bin/qemu",
                                       "io_uring fd 3 buffer 0",
                                       "io_uring_fixed_buffers",
                                       {0x300, 0x301}});
    (void)w.append(SnapshotHolderEvent{1500, 99, false, "cat", "", "maps it", "", {0x302}});
    (void)w.append(SnapshotEndEvent{1400,
                                    1600,
                                    4096,
                                    3,
                                    3,
                                    12,
                                    "/proc/kpageflags + /proc/kpagecount",
                                    "all memory (System RAM)",
                                    {"no BPF refcounts", "a second note"}});
    (void)w.append_kernel_record(raw_migrate(5000, 77, 1, 2, 6));
    (void)w.append_kernel_record(raw_failed(5001, 77, 0x300, 1025, 0));
    (void)w.append_kernel_record(raw_failed(5001, 77, 0x302, 3, 1));
    (void)w.append_kernel_record(raw_end(5002, 77, 2, 2));
}

// The records that end with a page identity: a migration's failed folio
// (a file's page: tmpfs, a path cut short), an isolation's busy page (a
// page-table page) and a refusal's page (slab).
template <class Identified, class Base>
std::vector<std::byte> identified(const std::vector<std::byte>& base_bytes, const pt_page_identity& id)
{
    Identified x{};
    std::memcpy(&x.base, base_bytes.data(), sizeof(Base));
    x.base.h.size = sizeof x;
    x.identity = id;
    return bytes_of(x);
}

void identity_records(TraceWriter& w)
{
    write_sample(w);
    pt_page_identity file{};
    file.kind = PT_PAGE_FILE;
    file.refcount = 4;
    file.mapcount = 1;
    file.dev = 26;
    file.ino = 14;
    file.index = 3;
    std::snprintf(file.fs, sizeof file.fs, "tmpfs");
    std::snprintf(file.path[0], sizeof file.path[0], "data");
    std::snprintf(file.path[1], sizeof file.path[1], "dir");
    file.path_depth = 2;
    (void)w.append_kernel_record(raw_migrate(6000, 77, 0, 1));
    (void)w.append_kernel_record(
        identified<pt_failed_folio_identified, pt_failed_folio>(raw_failed(6001, 77, 0x400, 4, 0), file));
    (void)w.append_kernel_record(raw_end(6002, 77, 1, 1));
    pt_page_identity table{};
    table.kind = PT_PAGE_NO_MAPPING;
    table.type = PT_TYPE_TABLE;
    table.page_type = 0xf2000000;
    (void)w.append_kernel_record(identified<pt_isolation_failed_identified, pt_isolation_failed>(
        raw_isolation(6100, 0x400, 0x600, 0x410), table));
    pt_page_identity slab{};
    slab.kind = PT_PAGE_NO_MAPPING;
    slab.type = PT_TYPE_SLAB;
    std::snprintf(slab.slab_cache, sizeof slab.slab_cache, "dentry");
    (void)w.append_kernel_record(identified<pt_isolation_refused_identified, pt_isolation_refused>(
        raw_refused(6200, 0x600, 0x800, 0x610), slab));
}

void sample(TraceWriter& w) { write_sample(w); }
void sample_nowalk(TraceWriter& w) { write_sample(w, false); }

}  // namespace

int main(int argc, char** argv)
{
    std::string dir = argc > 1 ? argv[1] : ".";
    bool ok = write(dir + "/hand-sample.trace", sample) && write(dir + "/hand-no-walk.trace", sample_nowalk) &&
              write(dir + "/hand-all-records.trace", all_kernel_records) &&
              write(dir + "/hand-snapshot.trace", snapshot_records) &&
              write(dir + "/hand-identity.trace", identity_records) &&
              write(dir + "/hand-paired.trace", sample, true, true) &&
              write(dir + "/hand-not-closed.trace", all_kernel_records, false);
    if (!ok) return 1;
    // Cut mid-record: what a recorder killed in a write leaves.
    std::ifstream in(dir + "/hand-all-records.trace", std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), {});
    std::ofstream(dir + "/hand-truncated.trace", std::ios::binary).write(bytes.data(), bytes.size() * 2 / 3 + 5);
    std::ofstream(dir + "/hand-header-only.trace", std::ios::binary).write(bytes.data(), 32);
    return 0;
}
