#include "explain/cause.hpp"

#include <algorithm>
#include <cstddef>
#include <iterator>

namespace pintrace {

namespace {

constexpr CauseInfo kCauses[] = {
    {Cause::LongtermPin, "longterm_pin", "long-term pins (FOLL_LONGTERM)",
     "long-term pins (io_uring fixed buffers, RDMA memory regions, VFIO DMA mappings) stay until released: have "
     "{who} unregister them, or restart it",
     "have it release them, or restart it"},
    {Cause::ShortPin, "short_term_pin", "short-term pins (in-flight I/O or DMA)",
     "short-term pins of in-flight I/O (O_DIRECT, DMA) end with the I/O: retry the operation; if it keeps failing, "
     "look for I/O stuck in {who}",
     "retry once its I/O completes"},
    {Cause::Reference, "extra_reference", "extra references (FOLL_GET)",
     "extra page references (FOLL_GET: vmsplice into an unread pipe, KVM, drivers) last until the holder drops "
     "them: check {who} for pipes nobody reads, or restart it",
     "check it for pipes nobody reads, or restart it"},
    {Cause::PinnedUnknown, "pinned_before_trace", "pinned before the trace began",
     "the page carries a pin taken before the trace began (its refcount has the pin bias): look for the long-term "
     "pinner among processes holding io_uring rings, VFIO or RDMA devices "
     "(ls -l /proc/*/fd | grep -E 'io_uring|vfio|infiniband'), or record from before the pin",
     ""},
    {Cause::ExtraRefUnknown, "reference_of_unknown_origin", "references of unknown origin",
     "the page has references nobody in the trace took: often pages still in a per-CPU LRU batch (transient; "
     "retry), or a reference taken before the trace began",
     "",
     "the page stayed referenced across failures, so it is no per-CPU LRU batch: a reference taken before the "
     "trace began, or by a kernel path pintrace does not trace (a driver, a socket); record from before it was "
     "taken, or look for such holders among the processes mapping it"},
    {Cause::NoHolderSeen, "no_holder_seen", "not movable, no pin or reference seen",
     "no pin or reference explains it: the page may be unmovable for another reason (locked, under writeback, or a "
     "transient race); retry",
     "",
     "it failed the same way before, so it is no transient race: look at its state now (pintrace snapshot --pfn "
     "PFN) for what keeps it"},
    {Cause::NotAttempted, "not_attempted", "never tried (the migration gave up)",
     "the migration gave up before trying this page (no free target memory, or interrupted): nothing holds it that "
     "pintrace saw; retry when memory is available",
     ""},
    {Cause::Unmovable, "unmovable_at_isolation", "refused at isolation (a page the kernel will not move)",
     "the kernel refused to isolate the range: it holds a page it will not move (slab, page tables, reserved or "
     "other kernel memory, or a page still in a per-CPU LRU batch, which a retry can fix); retry, or use another "
     "range (another memory block, a zone made movable with movablecore=, or a CMA area)",
     "",
     "the kernel refused this range before, so a retry will not help: use another range (another memory block, a "
     "zone made movable with movablecore=, or a CMA area)"},
    {Cause::FileReferenced, "file_page_referenced", "file pages referenced outside any traced pin",
     "a page of a file with references no traced pin or reference explains, beyond its page tables and the page "
     "cache: usually a pipe that splice() or sendfile() filled from the file and nobody drained, or data a socket "
     "still sends; find the pipe (ls -l /proc/*/fd | grep pipe:) and drain or close it, then retry",
     "",
     "the references survived earlier failures, so they are no I/O in flight: find the pipe or socket holding the "
     "file's pages (ls -l /proc/*/fd | grep -e pipe: -e socket:) and drain or close it"},
    {Cause::PageTable, "page_table", "page-table pages",
     "page-table memory of a process that maps memory nearby: it moves only when that process unmaps the memory "
     "or exits; use another range, or keep kernel allocations out of it (movablecore=, a CMA area)",
     ""},
    {Cause::KernelMemory, "kernel_memory", "kernel memory (slab and other kernel allocations)",
     "kernel memory never moves: this range cannot be vacated; use another range or node, or keep kernel "
     "allocations out of it (movablecore=, a CMA area)",
     ""},
    {Cause::DriverMovable, "driver_movable", "pages only their driver moves (zsmalloc, balloon)",
     "the page belongs to a driver that moves it itself (zsmalloc under zram or zswap, a memory balloon), and the "
     "driver had it busy: transient; retry",
     "",
     "its driver refused it in earlier failures too: look at that driver (zram or zswap compaction, the balloon) "
     "or use another range"},
};

constexpr PageTypeInfo kPageTypes[] = {
    {PT_TYPE_TABLE, "a page-table page", Cause::PageTable},
    {PT_TYPE_SLAB, "a slab page", Cause::KernelMemory},
    {PT_TYPE_LARGE_KMALLOC, "a large kmalloc page", Cause::KernelMemory},
    {PT_TYPE_KMEMCG, "a kernel allocation charged to a cgroup", Cause::KernelMemory},
    {PT_TYPE_ZSMALLOC, "a zsmalloc page (zram, zswap)", Cause::DriverMovable},
    {PT_TYPE_OFFLINE, "a logically offline page (balloon, virtio-mem)", Cause::DriverMovable},
    {PT_TYPE_BUDDY, "a free page (in the page allocator)", std::nullopt},
    {PT_TYPE_GUARD, "a guard page (debug_pagealloc: free memory)", std::nullopt},
    {PT_TYPE_HUGETLB, "a hugetlb page", std::nullopt},
    {PT_TYPE_UNACCEPTED, "unaccepted memory (a confidential guest's)", Cause::KernelMemory},
};

constexpr PageStateInfo kPageStates[] = {
    {"PG_locked", "locked", false},
    {"PG_writeback", "under writeback", false},
    {"PG_reserved", "reserved", true},
    {"PG_slab", "kernel slab memory", true},
};

struct PageKindInfo {
    pt_page_kind kind;
    std::string_view what;
};

constexpr PageKindInfo kPageKinds[] = {
    {PT_PAGE_NO_MAPPING, "a page with no mapping (kernel or driver memory, or page cache cut from its file)"},
    {PT_PAGE_ANON, "anonymous memory"},
    {PT_PAGE_FILE, "page cache"},
    {PT_PAGE_KSM, "a KSM-merged page"},
    {PT_PAGE_MOVABLE_OPS, "a page its driver moves (non-LRU movable)"},
};

constexpr bool in_enum_order()
{
    for (size_t i = 0; i < std::size(kCauses); ++i)
        if (kCauses[i].cause != static_cast<Cause>(i)) return false;
    return true;
}
static_assert(std::size(kCauses) == static_cast<size_t>(Cause::DriverMovable) + 1, "a row for every Cause");
static_assert(in_enum_order(), "kCauses is indexed by Cause");

}  // namespace

std::span<const CauseInfo> causes() { return kCauses; }

const CauseInfo& cause_info(Cause c) { return kCauses[static_cast<size_t>(c)]; }

std::string_view cause_name(Cause c) { return cause_info(c).name; }
std::string_view cause_heading(Cause c) { return cause_info(c).heading; }

std::span<const PageStateInfo> page_states() { return kPageStates; }

const PageStateInfo* page_state_of(std::string_view flag)
{
    auto it = std::find_if(std::begin(kPageStates), std::end(kPageStates),
                           [&](const PageStateInfo& s) { return s.flag == flag; });
    return it == std::end(kPageStates) ? nullptr : it;
}

std::string_view page_kind_what(pt_page_kind kind)
{
    for (const auto& k : kPageKinds)
        if (k.kind == kind) return k.what;
    return "";
}

const PageTypeInfo* page_type_info(pt_page_type type)
{
    auto it = std::find_if(std::begin(kPageTypes), std::end(kPageTypes),
                           [&](const PageTypeInfo& t) { return t.type == type; });
    return it == std::end(kPageTypes) ? nullptr : it;
}

}  // namespace pintrace
