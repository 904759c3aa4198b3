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
     ""},
    {Cause::NoHolderSeen, "no_holder_seen", "not movable, no pin or reference seen",
     "no pin or reference explains it: the page may be unmovable for another reason (locked, under writeback, or a "
     "transient race); retry",
     ""},
    {Cause::NotAttempted, "not_attempted", "never tried (the migration gave up)",
     "the migration gave up before trying this page (no free target memory, or interrupted): nothing holds it that "
     "pintrace saw; retry when memory is available",
     ""},
    {Cause::Unmovable, "unmovable_at_isolation", "refused at isolation (a page the kernel will not move)",
     "the kernel refused to isolate the range: it holds a page it will not move (slab, page tables, reserved or "
     "other kernel memory, or a page still in a per-CPU LRU batch, which a retry can fix); retry, or use another "
     "range (another memory block, a zone made movable with movablecore=, or a CMA area)",
     ""},
};

constexpr PageStateInfo kPageStates[] = {
    {"PG_locked", "locked", false},
    {"PG_writeback", "under writeback", false},
    {"PG_reserved", "reserved", true},
    {"PG_slab", "kernel slab memory", true},
};

constexpr bool in_enum_order()
{
    for (size_t i = 0; i < std::size(kCauses); ++i)
        if (kCauses[i].cause != static_cast<Cause>(i)) return false;
    return true;
}
static_assert(std::size(kCauses) == static_cast<size_t>(Cause::Unmovable) + 1, "a row for every Cause");
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

}  // namespace pintrace
