#include "synthetic_trace.hpp"

#include <cstring>
#include <deque>
#include <span>
#include <vector>

#include "pintrace.h"
#include "trace/writer.hpp"

namespace pintrace::bench {
namespace {

// FOLL_* as 6.1 numbers them (the header's flag layout says so).
constexpr uint32_t kWrite = 0x01, kGet = 0x04, kPin = 0x40000, kLongterm = 0x10000;

// Physical memory as 2^14 blocks of 512 pages (32 GiB): long-term buffers
// take whole blocks, churn uses the others, so the two never share a page.
constexpr uint64_t kBlockPages = 512;
constexpr uint64_t kBlocks = 1 << 14;
constexpr uint64_t kBlockStride = 10007;  // prime: i -> i * stride mod kBlocks visits every block once

uint64_t block_base(uint64_t i) { return ((i * kBlockStride) % kBlocks) * kBlockPages + 0x100000; }

class Rng {
public:
    explicit Rng(uint64_t seed) : s_(seed * 0x9E3779B97F4A7C15ull + 1) {}
    uint64_t next()
    {
        s_ ^= s_ << 13;
        s_ ^= s_ >> 7;
        s_ ^= s_ << 17;
        return s_;
    }
    uint64_t below(uint64_t n) { return next() % n; }

private:
    uint64_t s_;
};

class Emitter {
public:
    explicit Emitter(TraceWriter& w) : w_(w) {}

    uint64_t tick(Rng& rng) { return ts_ += 50 + rng.below(100); }
    uint64_t now() const { return ts_; }

    pt_header head(uint16_t type, uint16_t size, uint16_t hook, uint64_t ts, uint32_t tgid, uint32_t tid)
    {
        pt_header h{};
        h.type = type;
        h.size = size;
        h.hook = hook;
        h.cpu = tid & 1;
        h.ts_ns = ts;
        h.tgid = tgid;
        h.tid = tid;
        std::memcpy(h.comm, "worker", 6);
        h.cgroup_id = 1000 + tgid % 16;
        return h;
    }

    template <class Raw>
    void put(const Raw& r)
    {
        if (!status_) return;
        status_ = w_.append_kernel_record(std::as_bytes(std::span(&r, 1)));
        ++records_;
    }

    void grab(uint64_t ts, uint32_t tgid, uint32_t tid, uint64_t pfn, uint32_t nr, uint32_t flags, int32_t kstack,
              int32_t ustack)
    {
        pt_grab g{};
        g.h = head(PT_REC_GRAB, sizeof g, nr > 1 ? PT_HOOK_TRY_GRAB_FOLIO : PT_HOOK_TRY_GRAB_PAGE, ts, tgid, tid);
        g.pfn = pfn;
        g.nr_pages = nr;
        g.count = 1;
        g.gup_flags = flags;
        g.kstack_id = kstack;
        g.ustack_id = ustack;
        put(g);
    }

    void release(uint64_t ts, uint32_t tgid, uint32_t tid, uint64_t pfn, uint32_t nr, uint32_t flags)
    {
        pt_release r{};
        r.h = head(PT_REC_RELEASE, sizeof r, PT_HOOK_GUP_PUT_FOLIO, ts, tgid, tid);
        r.pfn = pfn;
        r.refs = nr;  // one pin per page of the folio
        r.gup_flags = flags;
        r.nr_pages = nr;
        put(r);
    }

    void freed(uint64_t ts, uint64_t pfn)
    {
        pt_page_freed f{};
        f.h = head(PT_REC_PAGE_FREED, sizeof f, PT_HOOK_PAGE_FREE_TP, ts, 0, 0);
        f.pfn = pfn;
        put(f);
    }

    Result<void> status() const { return status_; }
    uint64_t records() const { return records_; }

private:
    TraceWriter& w_;
    uint64_t ts_ = 1'000'000;
    uint64_t records_ = 0;
    Result<void> status_;
};

TraceInfo synthetic_info()
{
    TraceInfo info;
    info.meta = {{"kernel_release", "synthetic"},
                 {"hostname", "bench"},
                 {"start_monotonic_ns", "1000000"},
                 {"start_realtime_ns", "1795000000000000000"}};
    info.flags = FlagLayout::before_6_3();
    info.migrate_reasons = {{0, "compaction"}, {3, "syscall_or_cpuset"}};
    info.attach = {attach_point("try_grab_page", PT_HOOK_TRY_GRAB_PAGE, "fexit"),
                   attach_point("try_grab_folio", PT_HOOK_TRY_GRAB_FOLIO, "fexit"),
                   attach_point("gup_put_folio", PT_HOOK_GUP_PUT_FOLIO, "fentry"),
                   attach_point("kmem:mm_page_free", PT_HOOK_PAGE_FREE_TP, "tracepoint"),
                   attach_point("migrate:mm_migrate_pages", PT_HOOK_MIGRATE_TP, "tracepoint"),
                   attach_point("migrate_pages", PT_HOOK_MIGRATE_PAGES_EXIT, "fexit")};
    return info;
}

// Something taken now and given back a few hundred records later.
struct InFlight {
    uint64_t pfn;
    uint32_t nr;
    uint32_t flags;
    uint32_t tgid;
    bool freed;  // a FOLL_GET reference: its page is freed, no release is seen
};

}  // namespace

Result<SyntheticTruth> write_synthetic_trace(const std::string& path, const SyntheticSpec& spec)
{
    // Long-term blocks, the folio blocks and at least one churn block must
    // fit in kBlocks; every count below divides by one of them.
    constexpr uint64_t kFolioBlocks = 64;
    const uint64_t max_live = (kBlocks - kFolioBlocks - 1) * kBlockPages;
    if (spec.live_pins > max_live)
        return make_error("--live-pins " + std::to_string(spec.live_pins) + ": at most " + std::to_string(max_live) +
                          " (the synthetic machine's 32 GiB, less the churn's blocks)");
    if (spec.processes == 0) return make_error("no long-term pinner processes");
    auto writer = TraceWriter::create(path, synthetic_info());
    if (!writer) return writer.error();
    TraceWriter& w = writer.value();
    Emitter out(w);
    Rng rng(spec.seed);
    SyntheticTruth truth;

    for (int32_t id = 1; id <= 4; ++id) {
        static const char* paths[] = {"io_sqe_buffer_register+0x63", "__iov_iter_get_pages_alloc+0x101",
                                      "ib_umem_get+0x1a0", "vfio_pin_pages_remote+0x55"};
        if (auto r =
                w.append(StackEvent{id,
                                    StackKind::Kernel,
                                    0,
                                    {{0xffffffff81000010, "try_grab_page+0x10"}, {0xffffffff81000200, paths[id - 1]}}});
            !r)
            return r.error();
    }

    // Long-term pinners: process p owns blocks p, p + P, p + 2P, ...
    const uint64_t longterm_blocks = (spec.live_pins + kBlockPages - 1) / kBlockPages;
    const uint32_t lt_flags = kPin | kLongterm | kWrite;
    auto owner_of_block = [&](uint64_t b) { return uint32_t(1000 + b % spec.processes); };
    uint64_t pinned = 0;
    for (uint64_t b = 0; b < longterm_blocks && pinned < spec.live_pins; ++b) {
        uint32_t tgid = owner_of_block(b);
        for (uint64_t i = 0; i < kBlockPages && pinned < spec.live_pins; ++i, ++pinned)
            out.grab(out.tick(rng), tgid, tgid, block_base(b) + i, 1, lt_flags, 1 + int32_t(b % 4) / 2 * 2,
                     int32_t(b % 7));
    }
    const uint64_t last_block_pages = longterm_blocks ? spec.live_pins - (longterm_blocks - 1) * kBlockPages : 0;
    // A failure names the first four long-term pages of a full block (the
    // last one too when it is the only one and has four).
    const uint64_t failable_blocks = longterm_blocks > 1 ? longterm_blocks - 1 : (last_block_pages >= 4 ? 1 : 0);

    // Churn: THP folios in 64 blocks of their own (a release names the
    // folio, not the page: pins of single pages inside a pinned folio would
    // make which one it closes ambiguous), single pages in the rest.
    std::deque<InFlight> inflight;
    const uint64_t churn_blocks = kBlocks - longterm_blocks - kFolioBlocks;
    auto churn_pfn = [&] {
        return block_base(longterm_blocks + kFolioBlocks + rng.below(churn_blocks)) + rng.below(kBlockPages);
    };
    while (out.records() < spec.events && out.status().ok()) {
        uint64_t dice = rng.below(10000);
        uint32_t tgid = 5000 + uint32_t(rng.below(64));
        // Without long-term pages (--live-pins below 4) their releases and
        // failures become direct I/O.
        if (dice >= 7050 && dice < 9998 && !longterm_blocks) dice = 0;
        if (dice >= 9998 && !failable_blocks) dice = 0;
        if (dice < 4500) {  // direct I/O: a short-term pin
            InFlight f{churn_pfn(), 1, kPin | kWrite, tgid, false};
            out.grab(out.tick(rng), tgid, tgid + 1, f.pfn, 1, f.flags, 2, 7);
            inflight.push_back(f);
        } else if (dice < 7000) {  // vmsplice: a reference, freed later
            InFlight f{churn_pfn(), 1, kGet, tgid, true};
            out.grab(out.tick(rng), tgid, tgid, f.pfn, 1, f.flags, 2, 8);
            inflight.push_back(f);
        } else if (dice < 7050) {  // a 2 MiB THP folio pinned for I/O
            InFlight f{block_base(longterm_blocks + rng.below(kFolioBlocks)), kBlockPages, kPin, tgid, false};
            out.grab(out.tick(rng), tgid, tgid, f.pfn, f.nr, f.flags, 2, 7);
            inflight.push_back(f);
        } else if (dice < 9998) {  // a long-term pin released (by a kworker) and taken again
            uint64_t b = rng.below(longterm_blocks);
            uint64_t pfn = block_base(b) + rng.below(b + 1 == longterm_blocks ? last_block_pages : kBlockPages);
            uint32_t owner = owner_of_block(b);
            out.release(out.tick(rng), 7, 7, pfn, 1, kPin);
            out.grab(out.tick(rng), owner, owner, pfn, 1, lt_flags, 1, int32_t(b % 7));
        } else {  // a migration fails on four long-term pages
            uint64_t ts = out.tick(rng);
            uint32_t mover = 9000;
            pt_migrate m{};
            m.h = out.head(PT_REC_MIGRATE, sizeof m, PT_HOOK_MIGRATE_TP, ts, mover, mover);
            m.succeeded = 12;
            m.failed = 4;
            m.reason = 3;
            out.put(m);
            uint64_t b = rng.below(failable_blocks);
            for (uint32_t i = 0; i < 4; ++i) {
                pt_failed_folio f{};
                f.h = out.head(PT_REC_FAILED_FOLIO, sizeof f, PT_HOOK_MIGRATE_PAGES_EXIT, ts + 1 + i, mover, mover);
                f.pfn = block_base(b) + i;
                f.refcount = 1026;
                f.mapcount = 1;
                f.index = i;
                f.nr_pages = 1;
                out.put(f);
            }
            pt_migrate_end e{};
            e.h = out.head(PT_REC_MIGRATE_END, sizeof e, PT_HOOK_MIGRATE_PAGES_EXIT, ts + 5, mover, mover);
            e.ret = 4;
            e.walked = 4;
            out.put(e);
            ++truth.failures;
            truth.failed_pages += 4;
        }
        // Completions run on other CPUs: every 64th one is recorded with a
        // timestamp a little before the record written just ahead of it.
        while (inflight.size() > 256) {
            InFlight f = inflight.front();
            inflight.pop_front();
            uint64_t ts = out.tick(rng);
            if (rng.below(64) == 0) ts -= 120;
            if (f.freed)
                out.freed(ts, f.pfn);
            else
                out.release(ts, f.tgid, 3, f.pfn, f.nr, f.flags);
        }
    }
    for (const auto& f : inflight) {
        if (f.freed)
            out.freed(out.tick(rng), f.pfn);
        else
            out.release(out.tick(rng), f.tgid, 3, f.pfn, f.nr, f.flags);
    }
    if (auto r = out.status(); !r) return r.error();
    if (auto r = w.finish(FinishEvent{out.now() + 1000, out.records(), 0, StopReason::Duration, -1}); !r)
        return r.error();
    truth.records = out.records();
    truth.pages_held_at_end = pinned;
    return truth;
}

}  // namespace pintrace::bench
