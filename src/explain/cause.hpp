// Why a failed page could not move, as far as the trace can tell, and what
// a page's own state says about it.
//
// Everything pintrace says about one cause is one row of the table in
// cause.cpp (its JSON name, its heading, its next step, the few words of
// that step a summary line has room for); everything it says about a page
// flag that keeps a page in place is one row of the page-state table. A
// new cause is one enum value and one row.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "pintrace.h"

namespace pintrace {

// The first three are ordered by how long they keep a page (classify
// relies on it).
enum class Cause {
    LongtermPin,  // FOLL_PIN | FOLL_LONGTERM: io_uring buffers, RDMA, VFIO
    ShortPin,  // FOLL_PIN without LONGTERM: in-flight O_DIRECT / DMA
    Reference,  // FOLL_GET: vmsplice, KVM, older drivers
    PinnedUnknown,  // refcount shows a pin (>= 1024) but no grab was seen
    ExtraRefUnknown,  // more references than mappings, origin not seen
    NoHolderSeen,  // nothing explains it in the trace
    NotAttempted,  // left on the list of a migration that gave up (ret < 0) before trying it
    Unmovable,  // the kernel refused to isolate its range because of it (kernel memory, not on an LRU)
    // What the page was at the failure (PageIdentity) explains it:
    FileReferenced,  // a file's page with references no traced holder took (a pipe, a socket)
    PageTable,  // a page-table page
    KernelMemory,  // slab or another kernel allocation
    DriverMovable,  // moved only by its driver (zsmalloc, a balloon), which did not
};

struct CauseInfo {
    Cause cause;
    std::string_view name;  // in JSON and the text's "(...)": "longterm_pin"
    std::string_view heading;  // a noun phrase: "long-term pins (FOLL_LONGTERM)"
    // What to do, as a sentence; "{who}" stands for the holder ("pid 7 (fio)").
    std::string_view next_step;
    std::string_view short_action;  // the few words of next_step that fit a summary line; "" for none
    // The next step for a page stuck the same way in an earlier failure too,
    // where next_step would call it transient; "" where next_step holds.
    std::string_view persistent_step = {};
};

// Every cause, in enum order.
std::span<const CauseInfo> causes();
const CauseInfo& cause_info(Cause c);
std::string_view cause_name(Cause c);  // "longterm_pin", ...
std::string_view cause_heading(Cause c);  // "long-term pins (FOLL_LONGTERM)", ...

// A page flag that keeps a page from moving on its own, without any holder.
struct PageStateInfo {
    std::string_view flag;  // as the recording kernel names the bit: "PG_writeback"
    std::string_view what;  // "under writeback"
    // Kernel memory never moves (no retry helps); otherwise the state is
    // I/O in flight, which ends by itself.
    bool kernel_memory;
};

std::span<const PageStateInfo> page_states();

// A kernel page type (pt_page_type) and what it means for a stuck page.
struct PageTypeInfo {
    pt_page_type type;
    std::string_view what;  // "a page-table page"
    std::optional<Cause> cause;  // the cause it decides, where it decides one
};
// The row of a type; null for PT_TYPE_NONE and a number no row has.
const PageTypeInfo* page_type_info(pt_page_type type);

// What folio->mapping said of a page (pt_page_kind), in words: "anonymous
// memory"; "" for PT_PAGE_UNREAD and a number no row has.
std::string_view page_kind_what(pt_page_kind kind);
// The row of a flag's name; null for a flag that does not keep a page in place.
const PageStateInfo* page_state_of(std::string_view flag);

}  // namespace pintrace
