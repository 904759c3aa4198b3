// The BPF side of a snapshot: what /proc does not show, read by a raw_tp
// program run on demand (bpf/snapshot.bpf.c) at the calibrated vmemmap
// base: refcounts, large folios' pin counts and orders, and the pageblock
// migratetype bits (where the kernel names `mem_section` in kallsyms).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "snapshot.h"
#include "snapshot/page_state.hpp"
#include "util/result.hpp"

namespace pintrace::snapshot {

inline constexpr int32_t kNoPage = SNAP_NONE;  // no readable struct page
inline constexpr uint16_t kNoBlock = SNAP_NO_BLOCK;  // pageblock bits unreadable
inline constexpr uint64_t kNoHead = SNAP_NO_HEAD;  // a tail page whose head was not found

// What to read for one page of a run (bpf/snapshot.h enum snap_op).
enum class PageOp : uint8_t {
    Skip = SNAP_SKIP,  // free, hole, or a tail page whose head was read already
    Small = SNAP_SMALL,  // refcount and mapcount
    Head = SNAP_HEAD,  // a folio head: also the folio's order and pin count
    Tail = SNAP_TAIL,  // a tail whose head is not in the run: read its head
};

// One page as the BPF program read it.
struct BpfPage {
    int32_t refcount = kNoPage;
    int32_t mapcount = 0;  // _mapcount + 1: a typed page (slab, buddy, ...) reads < 0
    std::optional<int32_t> pincount;  // Head/Tail, where the kernel keeps one for the folio's order
    uint8_t order = 0;  // Head/Tail
};

// Time spent opening, for the benchmark.
struct BpfOpenTimes {
    double calibrate = 0, load = 0, kernel_facts = 0, total = 0;
};

class BpfRefcounts {
public:
    // Calibrates (about 10 ms), loads the program and, in parallel, looks
    // up what the migratetype needs (kallsyms, BTF, /proc/pagetypeinfo);
    // an error says why BPF cannot be used (privileges, no BTF,
    // calibration failed). root prefixes /proc for tests.
    static Result<std::unique_ptr<BpfRefcounts>> open();
    ~BpfRefcounts();

    // Runs of at most run_pages() pages; slot < slots(): one per thread
    // reading at the same time. ops.size() pages from start; out and
    // blocks (one per pageblock from start's, pageblocks_in(start, n))
    // receive the result; *tail_head the head pfn of the last Tail op.
    Result<void> read(unsigned slot, uint64_t start, std::span<const PageOp> ops, std::span<BpfPage> out,
                      std::span<uint16_t> blocks, uint64_t* tail_head = nullptr);
    static size_t run_pages();
    static unsigned slots();
    size_t pageblocks_in(uint64_t start, size_t n) const;

    uint64_t vmemmap_base() const { return base_; }
    // Migratetype: visible only where mem_section was found.
    bool migratetype_visible() const { return mem_section_ != 0; }
    const std::string& migratetype_unavailable() const { return no_migratetype_; }
    const PageblockLayout& pageblocks() const { return layout_; }
    // Where this kernel keeps large-folio pin counts ("folio._pincount").
    std::string pincount_field() const;
    // How a tail page names its head here (page.compound_head, or 7.x's
    // compound_info as a pointer or a mask: bpf/compound_head.h).
    std::string head_field() const;
    // Tail pages read since the program was loaded whose head word fit
    // neither form: their folio's order and pin count are unknown.
    uint64_t heads_not_found() const;
    const BpfOpenTimes& open_times() const { return times_; }

private:
    struct Impl;
    explicit BpfRefcounts(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
    uint64_t base_ = 0, mem_section_ = 0;
    std::string no_migratetype_;
    PageblockLayout layout_;
    BpfOpenTimes times_;
};

// `mem_section`'s address in /proc/kallsyms text (0 when absent: data
// symbols appear only with CONFIG_KALLSYMS_ALL).
uint64_t find_kallsyms_symbol(std::string_view kallsyms, std::string_view name);
// "Page block order: 9" from /proc/pagetypeinfo.
std::optional<unsigned> parse_pageblock_order(std::string_view pagetypeinfo);

}  // namespace pintrace::snapshot
