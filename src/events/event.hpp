// Value types for everything a trace holds. Kernel records are decoded from
// the layouts in bpf/pintrace.h; the rest are written by user space.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "events/page_identity.hpp"
#include "pintrace.h"

namespace pintrace {

using Comm = std::array<char, PT_COMM_LEN>;

inline std::string_view comm_view(const Comm& comm)
{
    size_t n = 0;
    while (n < comm.size() && comm[n]) ++n;
    return {comm.data(), n};
}

// Who ran the hook that produced a record.
struct TaskRef {
    uint32_t tgid = 0;
    uint32_t tid = 0;
    uint64_t cgroup_id = 0;
    Comm comm{};
};

// A process known by pid and name only (the snapshot's candidates): its
// main thread, the name cut to what the kernel keeps.
inline TaskRef task_ref(uint32_t tgid, std::string_view comm)
{
    TaskRef t;
    t.tgid = t.tid = tgid;
    comm.copy(t.comm.data(), std::min(comm.size(), t.comm.size() - 1));
    return t;
}

struct EventHead {
    uint64_t ts_ns = 0;  // CLOCK_MONOTONIC
    uint16_t hook = 0;  // enum pt_hook
    uint16_t cpu = 0;
    TaskRef task;
};

struct GrabEvent {
    EventHead head;
    uint64_t pfn = 0;
    uint32_t nr_pages = 1;  // consecutive pages from pfn ...
    uint32_t count = 1;  // ... each given this many pins or references
    uint32_t raw_flags = 0;
    uint32_t flags = 0;  // canonical GupFlag bits
    int32_t kstack = -1;
    int32_t ustack = -1;
    bool stack_sampled = false;  // the thread's stack from an earlier grab
    uint64_t pipe_ino = 0;  // a splice's: the pipe it went into (pipe:[INO]); 0 if none or unknown
};

// Who took a pin or reference, and how: the task, its FOLL_* flags, the
// stacks and the attach point that saw it. One value for the ledger's
// owners and holders, the report's page history and the views' holder
// groups (each is a Taker and what it adds).
struct Taker {
    TaskRef task;
    uint32_t flags = 0;  // canonical GupFlag bits
    int32_t kstack = -1;
    int32_t ustack = -1;
    uint16_t hook = 0;  // the attach point that saw it (enum pt_hook)
    bool stack_sampled = false;  // stacks are the thread's from an earlier grab
    uint64_t pipe_ino = 0;  // where a splice put the reference: pipe:[INO]; 0 if none or unknown
};

inline Taker taker_of(const GrabEvent& e)
{
    return {e.head.task, e.flags, e.kstack, e.ustack, e.head.hook, e.stack_sampled, e.pipe_ino};
}

struct ReleaseEvent {
    EventHead head;
    uint64_t pfn = 0;  // folio head
    uint32_t refs = 1;
    uint32_t raw_flags = 0;
    uint32_t flags = 0;
    uint32_t nr_pages = 1;
};

struct MigrateEvent {
    EventHead head;
    uint64_t succeeded = 0;
    uint64_t failed = 0;
    uint64_t thp_succeeded = 0;
    uint64_t thp_failed = 0;
    uint64_t thp_split = 0;
    uint32_t mode = 0;
    int32_t reason = 0;
};

struct FailedFolioEvent {
    EventHead head;
    uint64_t pfn = 0;
    uint64_t page_flags = 0;
    int32_t refcount = 0;
    int32_t mapcount = 0;
    uint32_t index = 0;
    uint32_t nr_pages = 1;  // pages the folio spans
    std::optional<PageIdentity> identity;  // absent in traces of older pintraces
};

struct MigrateEndEvent {
    EventHead head;
    int64_t ret = 0;
    uint32_t walked = 0;
    bool truncated = false;
};

// A range that could not be isolated. Either test_pages_isolated() found
// busy_pfn not free after migration (Stage::Test), or
// start_isolate_page_range() refused the range at once because a pageblock
// holds a page the kernel will not move (Stage::Start): busy_pfn is that
// page where the kernel names it (5.x), else absent.
struct IsolationFailedEvent {
    enum class Stage { Test, Start };
    EventHead head;
    uint64_t start_pfn = 0;
    uint64_t end_pfn = 0;
    std::optional<uint64_t> busy_pfn;
    Stage stage = Stage::Test;
    int32_t error = 0;  // Stage::Start: the kernel's return (-EBUSY)
    std::optional<PageIdentity> identity;  // busy_pfn's; absent in traces of older pintraces
};

// alloc_contig_pages() (a gigantic page, say) began or ended; an end
// without pfn failed, possibly without trying a single range.
struct ContigAllocEvent {
    enum class Op { Start, End };
    EventHead head;
    Op op = Op::Start;
    uint64_t nr_pages = 0;
    int32_t nid = -1;  // NUMA_NO_NODE: any
    std::optional<uint64_t> pfn;  // End: the first page allocated
};

// One cma:* tracepoint: a CMA allocation began, found a range busy and
// moved on, or ended.
struct CmaEvent {
    enum class Op : uint16_t {
        AllocStart = PT_CMA_ALLOC_START,
        BusyRetry = PT_CMA_BUSY_RETRY,
        AllocEnd = PT_CMA_ALLOC_END
    };
    EventHead head;
    Op op = Op::AllocStart;
    uint64_t pfn = 0;  // BusyRetry: the busy range's first pfn
    uint64_t count = 0;  // pages requested (and the busy range's length)
    uint32_t align = 0;
    bool succeeded = false;  // AllocEnd
    std::optional<int32_t> error;  // AllocEnd, where the kernel reports it (6.3+)
    std::string area;  // empty where the kernel does not name it (before 5.11)
};

struct PageFreedEvent {
    EventHead head;
    uint64_t pfn = 0;
    uint32_t nr_pages = 1;  // 1 << order
};

// The last thread of a process that grabbed pages exited. Pins it still
// holds stay (io_uring teardown and drivers release them later, or never),
// and its pid may now be reused by an unrelated process.
struct ProcessExitEvent {
    EventHead head;
};

// What user space could read about a process that grabbed pages, at the
// drain after its first grab (best effort: a process that already exited
// has none). ts_ns is that grab's time, so the record orders with it.
struct ProcessInfoEvent {
    uint64_t ts_ns = 0;
    uint32_t tgid = 0;
    std::string exe;  // /proc/PID/exe, "" if unreadable
    std::string cgroup;  // cgroup v2 path from /proc/PID/cgroup ("/system.slice/x.service"), "" if unknown
};

// The processes that had a pipe open, as the recorder found them in
// /proc/PID/fd ("pipe:[INO]") at ts_ns: the pipes splices filled with page
// cache references, read when the first such reference is recorded, after
// a failure, and at the end. Empty openers: nobody had it open any more.
struct PipeOpener {
    uint32_t pid = 0;
    uint32_t fd = 0;
    std::string comm;
};

struct PipeOpenersEvent {
    uint64_t ts_ns = 0;  // CLOCK_MONOTONIC: when /proc was read
    uint64_t ino = 0;
    std::vector<PipeOpener> openers;
};

// record --snapshot: what the kernel's page state and /proc showed, when
// the recording began, of pages pinned or referenced before it, and who
// may hold them. Inferences, not observations: the report keeps them apart
// from the holders the trace saw. None has a place in the time order: the
// recorder writes them before every traced record.
enum class SeedClass : uint8_t {
    Pinned = 0,  // a folio pin count, or a registered long-term pin buffer
    MaybePinned = 1,  // refcount shows the 1024 pin bias (a heuristic)
    ExtraRefs = 2,  // more references than the mappings explain
};
std::string_view seed_class_name(SeedClass c);

struct SeedPage {
    uint64_t pfn = 0;
    int32_t refcount = -1;  // -1: not read (no BPF)
    int32_t mapcount = -1;
    SeedClass held_as = SeedClass::Pinned;
};

// Pages a process may hold, in pfn order; a snapshot may fill several.
struct SnapshotPagesEvent {
    uint64_t ts_ns = 0;  // CLOCK_MONOTONIC: when the snapshot began
    std::vector<SeedPage> pages;
};

// One candidate holder and one piece of its evidence, over the pages it
// names ("io_uring fd 3 registered buffer 0 ... covers them").
struct SnapshotHolderEvent {
    uint64_t ts_ns = 0;
    uint32_t pid = 0;
    bool likely = false;  // a long-term pin holder that registered them; else it maps them ("possible")
    std::string comm;
    std::string exe;
    std::string evidence;
    std::string origin;  // what the evidence shows took the pin ("io_uring_fixed_buffers"), "" if it does not say
    std::vector<uint64_t> pfns;

    std::string_view confidence() const { return likely ? "likely" : "possible"; }
};

// Closes a snapshot: without it the snapshot was cut short.
struct SnapshotEndEvent {
    uint64_t start_ns = 0;
    uint64_t end_ns = 0;
    uint64_t pages = 0;  // pages read
    uint64_t suspicious_total = 0;  // pages a process may hold
    uint64_t suspicious_kept = 0;  // of them, in the SnapshotPagesEvents
    uint64_t processes = 0;  // processes searched for owners
    std::string source;  // "/proc/kpageflags + /proc/kpagecount + BPF refcounts"
    std::string range;  // "all memory (System RAM)"
    std::vector<std::string> notes;  // what the snapshot could not see
};

enum class StackKind : uint32_t { Kernel = 0, User = 1 };

struct Frame {
    uint64_t addr = 0;
    std::string symbol;  // "func+0x1a", "libc.so.6+0x1234" or "" if unknown
};

struct StackEvent {
    int32_t id = -1;
    StackKind kind = StackKind::Kernel;
    uint32_t tgid = 0;  // user stacks: the process whose maps resolved it
    std::vector<Frame> frames;
};

// Records the ring buffer dropped between two drains.
struct LostEvent {
    uint64_t from_ns = 0;
    uint64_t to_ns = 0;
    uint64_t count = 0;
};

// WriteFailed: the trace file could not be written (disk full, quota,
// I/O error); FinishEvent::error holds the errno.
enum class StopReason : uint32_t {
    Unknown = 0,
    Duration = 1,
    Signal = 2,
    CommandExited = 3,
    Error = 4,
    WriteFailed = 5
};

struct FinishEvent {
    uint64_t end_ns = 0;
    uint64_t records = 0;
    uint64_t lost = 0;
    StopReason reason = StopReason::Unknown;
    int32_t command_status = -1;  // exit status of the traced command, if any
    int32_t error = 0;  // errno behind StopReason::WriteFailed
    uint64_t skipped_runs = 0;  // capture program runs the kernel skipped: their events are missing
    // Short-term pins released within the pairing threshold, dropped in the
    // kernel with their releases (docs/pairing.md): never in the trace.
    uint64_t paired_pins = 0;
};

using Event =
    std::variant<GrabEvent, ReleaseEvent, MigrateEvent, FailedFolioEvent, MigrateEndEvent, IsolationFailedEvent,
                 ContigAllocEvent, CmaEvent, PageFreedEvent, ProcessExitEvent, ProcessInfoEvent, StackEvent, LostEvent,
                 FinishEvent, SnapshotPagesEvent, SnapshotHolderEvent, SnapshotEndEvent, PipeOpenersEvent>;

// The kernel function or tracepoint a hook attaches to (bpf/pintrace.h's
// PT_HOOKS row), "unknown" for a number it does not have.
std::string_view hook_name(uint16_t hook);
std::string_view stop_reason_name(StopReason reason);

}  // namespace pintrace
