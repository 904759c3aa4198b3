// The capture's own cost per event, measured natively (docs/performance.md,
// "Native capture cost"). The capture's BPF bodies (bpf/pintrace.bpf.c,
// compiled into bpf/capture_cost.bpf.c unchanged) run on real pages of a
// locked buffer, ITERATIONS times inside one BPF_PROG_TEST_RUN, timed by the
// program itself; RUNS runs per case, alternating cases so that all see the
// same machine. The empty loop's median is the floor subtracted from the
// others. What attaching costs (the fentry trampoline, the kprobe) is not
// run here: this host refuses both; the kernel's own figures are printed
// beside. Needs root.
//   bench_capture_cost [ITERATIONS] [RUNS] [DRAIN_RATE]
// then drives the capture's ring buffer at DRAIN_RATE grabs a second
// (default 1 M) for 3 s while a thread drains it into a trace file.
// Last line: grab_ns=N release_ns=N pair_ns=N failure_ns=N (floor-corrected medians),
// the line before it: paired_ns=N paired_unpin_ns=N (pairing in the kernel).
#include <bpf/bpf.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "capture/calibrate.hpp"
#include "capture/capture_constants.hpp"
#include "capture/grabbed_pages.hpp"
#include "capture/kernel_info.hpp"
#include "capture/libbpf_owners.hpp"
#include "capture_cost.h"
#include "capture_cost.skel.h"
#include "snapshot/owners.hpp"
#include "snapshot/range.hpp"
#include "trace/writer.hpp"
#include "util/fd.hpp"

using namespace pintrace;

namespace {

constexpr size_t kPages = COST_PAGES;
static_assert(sizeof(capture_cost_bpf::bss->cost_pfns) == kPages * sizeof(uint64_t));
using Skel = std::unique_ptr<capture_cost_bpf, SkelDeleter<capture_cost_bpf, capture_cost_bpf__destroy>>;
using Programs = decltype(capture_cost_bpf::progs);
using ProgramRef = bpf_program* Programs::*;

// One measured body: its program, and the records one iteration must leave
// in the ring buffer (a run that left fewer measured something else).
struct Case {
    const char* name;
    ProgramRef program;
    unsigned records;
    const char* last_line_key;  // its figure in the last line, or nullptr
    const char* what;
};

// In the order they run, each run.
constexpr Case kCases[] = {
    {"empty", &Programs::cost_empty, 0, nullptr, "bpf_loop() and the page lookup: the floor"},
    {"free_untracked", &Programs::cost_free_untracked, 0, nullptr,
     "mm_page_free of a page no grab marked (every free pays it)"},
    {"grab", &Programs::cost_grab, 1, "grab_ns", "short-term pin, the thread's sampled stacks"},
    {"grab_fresh_stacks", &Programs::cost_grab_fresh_stacks, 1, nullptr,
     "long-term pin: kernel and user stacks walked"},
    {"release", &Programs::cost_release, 1, "release_ns", "gup_put_folio's release"},
    {"pair", &Programs::cost_pair, 2, "pair_ns", "a short-lived pin: grab, then its release"},
    {"paired_pair", &Programs::cost_paired_pair, 0, nullptr,
     "the same pin paired in the kernel (record's default), 4096 pages: nothing recorded"},
    {"paired_pair_hot", &Programs::cost_paired_pair_hot, 0, nullptr,
     "the same over 8 pages, their slots in the cache (a loop reading into one buffer)"},
    {"release_unpin", &Programs::cost_release_unpin, 1, nullptr,
     "the release through unpin_user_page: its entry, gup_put_folio's, its exit"},
    {"paired_unpin", &Programs::cost_paired_unpin, 0, nullptr,
     "a direct I/O's pin paired on that path (6.12+): grab, the three release programs"},
    {"failure", &Programs::cost_failure, 1, "failure_ns", "one folio a migration could not move"},
    {"record_only", &Programs::cost_record_only, 1, nullptr,
     "not a capture body: reserve, header, submit of one record"},
    {"map_pair", &Programs::cost_map_pair, 0, nullptr,
     "not a capture body: a hash insert and delete, pairing's least cost"},
    {"ring_pair", &Programs::cost_ring_pair, 0, nullptr,
     "not a capture body: pairing in a per-CPU ring of the last 8 grabs"},
    {"parked_pair", &Programs::cost_parked_pair, 0, nullptr,
     "not a capture body: docs/pairing.md's park and claim, released on its own CPU"},
    {"parked_miss", &Programs::cost_parked_miss, 0, nullptr,
     "not a capture body: a release whose grab is parked nowhere: all 64 rows looked through"},
    {"hinted_pair", &Programs::cost_hinted_pair, 0, nullptr,
     "not a capture body: parked on another CPU's row, found by the pfn's hint"},
    // Not timed (their records vary by run): the free filter's checks below.
    {"free_tracked", &Programs::cost_free_tracked, 0, nullptr, "mm_page_free of pages the grabs marked"},
    {"free_block", &Programs::cost_free_block, 0, nullptr, "mm_page_free of an order-10 block"},
};
constexpr size_t kFreeUntracked = 1, kGrab = 2, kFreeTracked = std::size(kCases) - 2, kFreeBlock = kFreeTracked + 1;
constexpr size_t kTimedCases = kFreeTracked;

// Pairing in the kernel, checked on one page with the object loaded again
// with pairing on: the records each case leaves, in order, then what the
// flush program sends of what the case left parked.
struct PairingCheck {
    ProgramRef program;
    const char* name;
    const char* records;  // G: grab, R: release
    const char* flushed;  // sent by the flush after it
    uint64_t paired;  // pairs counted
    bool stopping = false;  // run after the recorder's last flush began (stop_parking)
};
constexpr PairingCheck kPairingChecks[] = {
    {&Programs::cost_check_pair, "a pin and its release", "", "", 1},
    {&Programs::cost_check_other_refs, "a release of other refs", "GR", "", 0},
    {&Programs::cost_check_second_pin, "a second pin of the folio", "G", "", 1},
    {&Programs::cost_check_failure, "a failure on the folio", "G", "", 0},
    {&Programs::cost_check_park, "a pin left held", "", "G", 0},
    {&Programs::cost_check_longterm, "a long-term pin", "GR", "", 0},
    {&Programs::cost_check_unpin_paired, "the unpin path, paired", "", "", 1},
    {&Programs::cost_check_unpin_order, "an unpin's own release, a pin parked meanwhile", "R", "G", 0},
    {&Programs::cost_check_park, "a pin taken once recording stops", "G", "", 0, true},
    {&Programs::cost_check_pair, "a pin and its release, after all of them", "", "", 1},
};

int fail(const std::string& why)
{
    std::fprintf(stderr, "bench_capture_cost: %s\n", why.c_str());
    return 1;
}

// pfns of n locked, present pages of this process.
Result<std::vector<uint64_t>> locked_pages(size_t n)
{
    size_t bytes = n * 4096;
    void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    if (p == MAP_FAILED) return make_error(std::string("mmap: ") + std::strerror(errno));
    if (mlock(p, bytes)) return make_error(std::string("mlock: ") + std::strerror(errno));
    for (size_t i = 0; i < n; ++i) static_cast<char*>(p)[i * 4096] = 1;
    Fd pagemap(::open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC));
    if (pagemap.get() < 0) return make_error(std::string("/proc/self/pagemap: ") + std::strerror(errno));
    std::vector<uint64_t> entries(n);
    off_t at = static_cast<off_t>(reinterpret_cast<uintptr_t>(p) / 4096 * 8);
    if (pread(pagemap.get(), entries.data(), n * 8, at) != static_cast<ssize_t>(n * 8))
        return make_error("/proc/self/pagemap: short read");
    std::vector<uint64_t> pfns;
    for (uint64_t e : entries)
        if (auto pfn = snapshot::pagemap_pfn(e)) pfns.push_back(*pfn);
    if (pfns.size() != n || std::count(pfns.begin(), pfns.end(), 0))
        return make_error("pagemap gave no pfns (not root?)");
    return pfns;
}

uint64_t lost_records(capture_cost_bpf* skel) { return per_cpu_sum(skel->maps.lost); }

double median(std::vector<double> v)
{
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

// What one test run left: its time and the records it wrote.
struct Run {
    uint64_t elapsed_ns = 0;
    uint64_t records = 0;
    uint64_t freed = 0;  // of them, PT_REC_PAGE_FREED
    uint64_t lost = 0;
    std::string types;  // "G" a grab, "R" a release, "?" another, in ring order
};

class Runner {
public:
    explicit Runner(capture_cost_bpf* skel) : skel_(skel)
    {
        ring_.reset(ring_buffer__new(bpf_map__fd(skel->maps.events), count, &run_, nullptr));
    }
    bool ok() const { return ring_ != nullptr; }

    // Runs program over `iterations` pages and reads back what it wrote.
    Result<Run> run(const Case& c, uint32_t iterations)
    {
        skel_->bss->cost_iterations = iterations;
        uint64_t ctx_args[1] = {0};
        LIBBPF_OPTS(bpf_test_run_opts, opts, .ctx_in = ctx_args, .ctx_size_in = sizeof ctx_args);
        uint64_t lost_before = lost_records(skel_);
        run_ = Run{};
        if (bpf_prog_test_run_opts(bpf_program__fd(skel_->progs.*c.program), &opts))
            return make_error(std::string(c.name) + ": test run failed: " + std::strerror(errno));
        if (int n = ring_buffer__consume(ring_.get()); n < 0)
            return make_error(std::string(c.name) + ": reading the ring buffer: " + std::strerror(-n));
        if (skel_->bss->cost_loops != iterations)
            return make_error(std::string(c.name) + ": bpf_loop ran " + std::to_string(skel_->bss->cost_loops) +
                              " iterations of " + std::to_string(iterations));
        run_.elapsed_ns = skel_->bss->cost_elapsed_ns;
        run_.lost = lost_records(skel_) - lost_before;
        return run_;
    }

    // Runs the flush program (every parked pin, as when recording stops)
    // and reads back what it sent.
    Result<Run> flush()
    {
        uint64_t ctx_args[1] = {UINT64_MAX};
        LIBBPF_OPTS(bpf_test_run_opts, opts, .ctx_in = ctx_args, .ctx_size_in = sizeof ctx_args);
        run_ = Run{};
        if (bpf_prog_test_run_opts(bpf_program__fd(skel_->progs.flush_parked), &opts))
            return make_error(std::string("flush_parked: test run failed: ") + std::strerror(errno));
        if (int n = ring_buffer__consume(ring_.get()); n < 0)
            return make_error(std::string("flush_parked: reading the ring buffer: ") + std::strerror(-n));
        return run_;
    }

private:
    static int count(void* ctx, void* data, size_t size)
    {
        auto* run = static_cast<Run*>(ctx);
        ++run->records;
        uint16_t type = size >= sizeof(pt_header) ? static_cast<const pt_header*>(data)->type : 0;
        if (type == PT_REC_PAGE_FREED) ++run->freed;
        if (run->types.size() < 16) run->types += type == PT_REC_GRAB ? 'G' : type == PT_REC_RELEASE ? 'R' : '?';
        return 0;
    }

    capture_cost_bpf* skel_;
    RingBufferPtr ring_;
    Run run_;
};

// The free filter (grabbed_regions) must let through the free of every
// page a grab marked, and only once: a free it hid would leave a
// reference in the ledger for ever. Checked before anything is timed.
Result<void> check_free_filter(Runner& runner)
{
    const Case& grab = kCases[kGrab];
    const Case& free_tracked = kCases[kFreeTracked];
    const Case& free_untracked = kCases[kFreeUntracked];
    auto grabs = runner.run(grab, kPages);
    if (!grabs) return grabs.error();
    auto first = runner.run(free_tracked, kPages);
    if (!first) return first.error();
    if (first->freed != kPages)
        return make_error("the free of " + std::to_string(kPages) + " grabbed pages reported " +
                          std::to_string(first->freed));
    auto again = runner.run(free_tracked, kPages);
    if (!again) return again.error();
    auto untracked = runner.run(free_untracked, kPages);
    if (!untracked) return untracked.error();
    if (again->records || untracked->records)
        return make_error("frees of pages no grab holds reported " + std::to_string(again->records) + " and " +
                          std::to_string(untracked->records) + " records");
    return {};
}

uint64_t pins_paired(capture_cost_bpf* skel) { return per_cpu_sum(skel->maps.pairs_elided); }

// kPairingChecks, on the object loaded again with pairing on (record's
// default), on one real page. A grab both sent and paired, or a release
// that takes another's grab, would show as a record too many or missing.
Result<void> check_pairing(const PageMapping& mapping, const KernelInfo& kernel, uint64_t end_pfn, uint64_t pfn)
{
    if (!kernel.can_pair_in_kernel) {
        std::printf("pairing: not checked (this kernel has no bpf_loop)\n");
        return {};
    }
    Skel skel(capture_cost_bpf__open());
    if (!skel) return make_error("cannot open the capture object again");
    set_capture_constants(skel.get(), mapping, kernel, CaptureOptions{}, end_pfn);
    bpf_program* prog;
    bpf_object__for_each_program(prog, skel->obj) bpf_program__set_autoload(prog, false);
    for (const auto& c : kPairingChecks) bpf_program__set_autoload(skel->progs.*c.program, true);
    bpf_program__set_autoload(skel->progs.flush_parked, true);
    if (int err = capture_cost_bpf__load(skel.get()))
        return make_error(std::string("the kernel refused the pairing checks: ") + std::strerror(-err));
    skel->bss->cost_pfns[0] = pfn;
    Runner runner(skel.get());
    if (!runner.ok()) return make_error("cannot read the ring buffer");
    for (const auto& c : kPairingChecks) {
        uint64_t paired_before = pins_paired(skel.get());
        skel->bss->stop_parking = c.stopping;
        auto r = runner.run(Case{c.name, c.program, 0, nullptr, ""}, 1);
        skel->bss->stop_parking = 0;
        if (!r) return r.error();
        std::string records = r->types;
        auto f = runner.flush();
        if (!f) return f.error();
        uint64_t paired = pins_paired(skel.get()) - paired_before;
        if (records != c.records || f->types != c.flushed || paired != c.paired)
            return make_error(std::string("pairing, ") + c.name + ": records '" + records + "', then flushed '" +
                              f->types + "', " + std::to_string(paired) + " paired; expected '" + c.records +
                              "', '" + c.flushed + "', " + std::to_string(c.paired));
    }
    std::printf("pairing: %zu checks on one page passed\n", std::size(kPairingChecks));
    return {};
}

// An order-10 free spans two regions of the filter: with the block's only
// grabbed page in the second, the filter must still let it through.
Result<void> check_block_free(Runner& runner, capture_cost_bpf* skel, uint64_t pfn)
{
    uint64_t saved = skel->bss->cost_pfns[0];
    skel->bss->cost_pfns[0] = pfn;
    auto grab = runner.run(kCases[kGrab], 1);
    skel->bss->cost_pfns[0] = saved;
    if (!grab) return grab.error();
    skel->bss->cost_block_pfn = pfn & ~uint64_t{1023};
    skel->bss->cost_block_order = 10;
    auto freed = runner.run(kCases[kFreeBlock], 1);
    if (!freed) return freed.error();
    if (freed->freed != 1)
        return make_error("the free of an order-10 block whose one grabbed page lies in its second 2 MiB reported " +
                          std::to_string(freed->freed));
    return {};
}

// record --snapshot marks the pages it found held from user space
// (mark_pages_grabbed): their frees must get through the filter as well.
Result<void> check_watched_frees(Runner& runner, capture_cost_bpf* skel, std::span<const uint64_t> watched)
{
    size_t marked =
        mark_pages_grabbed(bpf_map__fd(skel->maps.grabbed_pages), bpf_map__fd(skel->maps.grabbed_regions), watched);
    if (marked != watched.size())
        return make_error("marked " + std::to_string(marked) + " of " + std::to_string(watched.size()) + " pages");
    auto freed = runner.run(kCases[kFreeUntracked], kPages);
    if (!freed) return freed.error();
    if (freed->freed != watched.size())
        return make_error("the frees of " + std::to_string(watched.size()) + " pages marked from user space reported " +
                          std::to_string(freed->freed));
    return {};
}

// What record's drain meets at a given rate: the grab body run in bursts
// of rate/100 every 10 ms on this thread, into the capture's ring buffer
// (16 MiB, early wakeup at a quarter, as `record` sizes it), while another
// thread drains it as record does, every 100 ms or when woken, into a trace
// file through the trace writer. Not record's whole recorder (it also
// symbolizes stacks and reads new processes), but its ring buffer, its
// wakeups and its writer.
struct Throughput {
    uint64_t offered = 0, written = 0, lost = 0;
    double seconds = 0;
};

Result<Throughput> drive(capture_cost_bpf* skel, const Case& grab, uint64_t rate, double seconds, const TraceInfo& info,
                         const std::string& path)
{
    auto writer = TraceWriter::create(path, info);
    if (!writer) return writer.error();
    struct Drain {
        TraceWriter* writer;
        uint64_t written = 0;
        std::optional<Error> error;
    } drain{&writer.value()};
    RingBufferPtr ring(ring_buffer__new(
        bpf_map__fd(skel->maps.events),
        [](void* ctx, void* data, size_t size) {
            auto* d = static_cast<Drain*>(ctx);
            auto r = d->writer->append_kernel_record({static_cast<const std::byte*>(data), size});
            if (!r) {
                d->error = r.error();
                return -1;
            }
            ++d->written;
            return 0;
        },
        &drain, nullptr));
    if (!ring) return make_error("cannot read the ring buffer");
    std::atomic<bool> stop{false};
    std::thread consumer([&] {
        while (!stop.load() && !drain.error) {
            ring_buffer__poll(ring.get(), 100);
            if (auto r = drain.writer->checkpoint(); !r) drain.error = r.error();
        }
    });

    uint32_t burst = static_cast<uint32_t>(std::max<uint64_t>(rate / 100, 1));
    uint64_t lost_before = lost_records(skel);
    skel->bss->cost_iterations = burst;
    Throughput t;
    auto start = std::chrono::steady_clock::now();
    auto next = start;
    while (std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() < seconds) {
        uint64_t ctx_args[1] = {0};
        LIBBPF_OPTS(bpf_test_run_opts, opts, .ctx_in = ctx_args, .ctx_size_in = sizeof ctx_args);
        if (bpf_prog_test_run_opts(bpf_program__fd(skel->progs.*grab.program), &opts)) break;
        t.offered += burst;
        next += std::chrono::milliseconds(10);
        std::this_thread::sleep_until(next);
    }
    t.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    stop = true;
    consumer.join();
    ring_buffer__consume(ring.get());
    t.lost = lost_records(skel) - lost_before;
    t.written = drain.written;
    if (drain.error) return *drain.error;
    if (auto r = writer->finish(FinishEvent{}); !r) return r.error();
    return t;
}

}  // namespace

int main(int argc, char** argv)
{
    long iterations = argc > 1 ? std::strtol(argv[1], nullptr, 0) : 10000;
    int runs = argc > 2 ? std::atoi(argv[2]) : 15;
    long drain_rate = argc > 3 ? std::strtol(argv[3], nullptr, 0) : 1'000'000;
    // A run's records must fit in the ring buffer below its early-wakeup mark.
    if (iterations < 1 || iterations > 20000 || runs < 1 || drain_rate < 100 || drain_rate > 20'000'000) {
        std::fprintf(stderr, "usage: bench_capture_cost [ITERATIONS 1-20000] [RUNS >= 1] [DRAIN_RATE 100-20000000]\n");
        return 2;
    }
    libbpf_set_print(libbpf_print_when_debugging);
    if (std::string why = missing_privileges(); !why.empty()) return fail(why);
    auto btf = load_kernel_btf();
    if (!btf) return fail(btf.error().message);
    auto kernel = read_kernel_info(btf.value().get());
    if (!kernel) return fail(kernel.error().message);
    auto mapping = calibrate_page_mapping();
    if (!mapping) return fail(mapping.error().message);
    // The grabs' pages, then more of which the free case keeps those in
    // regions (the free filter's 2 MiB) holding none of the grabs' pages.
    auto pfns = locked_pages(kPages * 5);
    if (!pfns) return fail(pfns.error().message);

    Skel skel(capture_cost_bpf__open());
    if (!skel) return fail("cannot open the capture object");
    uint64_t end_pfn = 0;
    if (auto ram = snapshot::system_ram())
        for (const auto& r : ram.value()) end_pfn = std::max(end_pfn, r.end);
    // Pairing off: grab, release and pair measure what each records;
    // paired_pair calls the pairing itself, on a full table of slots.
    CaptureOptions options;
    options.pair_in_kernel = false;
    set_capture_constants(skel.get(), mapping.value(), kernel.value(), options, end_pfn);
    bpf_map__set_max_entries(skel->maps.parked_grabs, PT_PARK_SLOTS);
    bpf_program* prog;
    bpf_object__for_each_program(prog, skel->obj) bpf_program__set_autoload(prog, false);
    for (const Case& c : kCases) bpf_program__set_autoload(skel->progs.*c.program, true);
    if (int err = capture_cost_bpf__load(skel.get()))
        return fail(std::string("the kernel refused the cost programs: ") + std::strerror(-err) +
                    " (PINTRACE_DEBUG_LIBBPF=1 shows why)");
    std::copy_n(pfns->begin(), kPages, skel->bss->cost_pfns);
    std::set<uint64_t> grabbed_regions;
    for (size_t i = 0; i < kPages; ++i) grabbed_regions.insert(pfns.value()[i] >> PT_REGION_SHIFT);
    std::vector<uint64_t> untracked;
    for (size_t i = kPages; i < pfns->size(); ++i)
        if (!grabbed_regions.count(pfns.value()[i] >> PT_REGION_SHIFT)) untracked.push_back(pfns.value()[i]);
    // For the order-10 check: a page in the second half of its 1024-page
    // block, whose first half no grab marks; its region is kept out of the
    // untracked frees (the check's grab marks it).
    auto in_second_half = [&](uint64_t pfn) {
        return (pfn & 1023) >= 512 && !grabbed_regions.count((pfn & ~uint64_t{1023}) >> PT_REGION_SHIFT);
    };
    auto block_page = std::find_if(untracked.begin(), untracked.end(), in_second_half);
    if (block_page == untracked.end()) return fail("no page of the buffer fits the order-10 check");
    uint64_t block_pfn = *block_page;
    std::erase_if(untracked, [&](uint64_t pfn) { return pfn >> PT_REGION_SHIFT == block_pfn >> PT_REGION_SHIFT; });
    if (untracked.size() < 64) return fail("too few pages of the buffer lie outside the grabbed pages' regions");
    for (size_t i = 0; i < kPages; ++i) skel->bss->cost_untracked_pfns[i] = untracked[i % untracked.size()];
    std::printf("%zu pages for the untracked free, outside the %zu regions the grabs mark\n", untracked.size(),
                grabbed_regions.size());
    Runner runner(skel.get());
    if (!runner.ok()) return fail("cannot read the ring buffer");
    if (auto checked = check_free_filter(runner); !checked) return fail(checked.error().message);
    if (auto checked = check_block_free(runner, skel.get(), block_pfn); !checked) return fail(checked.error().message);
    if (auto checked = check_pairing(mapping.value(), kernel.value(), end_pfn, pfns.value()[0]); !checked)
        return fail(checked.error().message);

    std::printf("kernel %s, vmemmap_base 0x%" PRIx64 ", %ld iterations a run, %d runs a case\n",
                kernel->release.c_str(), mapping->vmemmap_base, iterations, runs);
    std::vector<std::vector<double>> ns(kTimedCases);
    for (int run = 0; run < runs; ++run) {
        for (size_t i = 0; i < kTimedCases; ++i) {
            const Case& c = kCases[i];
            auto r = runner.run(c, static_cast<uint32_t>(iterations));
            if (!r) return fail(r.error().message);
            uint64_t expected = uint64_t{c.records} * static_cast<uint64_t>(iterations);
            if (r->records != expected || r->lost)
                return fail(std::string(c.name) + ": " + std::to_string(r->records) + " records, " +
                            std::to_string(r->lost) + " lost, expected " + std::to_string(expected));
            ns[i].push_back(static_cast<double>(r->elapsed_ns) / static_cast<double>(iterations));
        }
    }

    // Last: it marks regions the untracked frees above must not see marked.
    std::vector<uint64_t> watched(skel->bss->cost_untracked_pfns, skel->bss->cost_untracked_pfns + 64);
    if (auto checked = check_watched_frees(runner, skel.get(), watched); !checked) return fail(checked.error().message);

    // Last: the drain at DRAIN_RATE grabs a second (issue 14's target: none lost at 1 M).
    TraceInfo info;
    info.flags = kernel->flags;
    std::string path = "/tmp/bench_capture_cost." + std::to_string(getpid()) + ".trace";
    auto t = drive(skel.get(), kCases[kGrab], static_cast<uint64_t>(drain_rate), 3.0, info, path);
    std::remove(path.c_str());
    if (!t) return fail("the drain: " + t.error().message);
    std::printf("drain: %" PRIu64 " grabs offered in %.2f s (%.2f M/s), %" PRIu64 " written to a trace, %" PRIu64
                " lost\n",
                t->offered, t->seconds, static_cast<double>(t->offered) / t->seconds / 1e6, t->written, t->lost);

    double floor = median(ns[0]);
    std::printf("%-18s %9s %9s %9s %9s  %s\n", "case", "min_ns", "median_ns", "max_ns", "net_ns", "what");
    std::vector<double> net(kTimedCases);
    for (size_t i = 0; i < kTimedCases; ++i) {
        auto [lo, hi] = std::minmax_element(ns[i].begin(), ns[i].end());
        net[i] = i ? median(ns[i]) - floor : 0;
        std::printf("%-18s %9.1f %9.1f %9.1f %9.1f  %s\n", kCases[i].name, *lo, median(ns[i]), *hi, net[i],
                    kCases[i].what);
    }
    std::printf(
        "net = median - empty's median. Not measured here (refused on this host), from the kernel's\n"
        "own figures, per call: fentry/fexit ~7-15 ns, kprobe ~18 ns, kretprobe ~46 ns.\n");
    auto net_of = [&](std::string_view name) {
        for (size_t i = 0; i < kTimedCases; ++i)
            if (kCases[i].name == name) return net[i];
        return 0.0;
    };
    std::printf("paired_ns=%.0f paired_unpin_ns=%.0f\n", net_of("paired_pair"), net_of("paired_unpin"));
    std::string last;
    for (size_t i = 0; i < kTimedCases; ++i) {
        if (!kCases[i].last_line_key) continue;
        char figure[64];
        std::snprintf(figure, sizeof figure, "%s%s=%.0f", last.empty() ? "" : " ", kCases[i].last_line_key, net[i]);
        last += figure;
    }
    std::printf("%s\n", last.c_str());
    return 0;
}
