#include "events/decode.hpp"

#include <bit>
#include <cstdio>
#include <cstring>
#include <string>

#include "events/bounds.hpp"
#include "util/hex.hpp"

namespace pintrace {
namespace {

template <class Raw>
bool read_raw(std::span<const std::byte> bytes, Raw& raw)
{
    // A shorter record is malformed; a longer one comes from a newer
    // pintrace that appended fields, which we ignore.
    if (bytes.size() < sizeof(Raw)) return false;
    std::memcpy(&raw, bytes.data(), sizeof(Raw));
    return true;
}

// The identity a newer record carries after its base layout (Identified
// is the base record followed by struct pt_page_identity).
template <class Identified>
std::optional<PageIdentity> identity_after(std::span<const std::byte> bytes)
{
    Identified r;
    if (!read_raw(bytes, r)) return std::nullopt;
    return decode_page_identity(r.identity);
}

EventHead decode_head(const pt_header& h)
{
    EventHead head;
    head.ts_ns = h.ts_ns;
    head.hook = h.hook;
    head.cpu = h.cpu;
    head.task.tgid = h.tgid;
    head.task.tid = h.tid;
    head.task.cgroup_id = h.cgroup_id;
    std::memcpy(head.task.comm.data(), h.comm, PT_COMM_LEN);
    head.task.comm[PT_COMM_LEN - 1] = '\0';
    return head;
}

Error too_short(const char* what, size_t got, size_t want)
{
    return make_error(std::string(what) + " record of " + std::to_string(got) + " bytes, expected at least " +
                      std::to_string(want));
}

// The checks of every count and pfn a kernel record carries against what
// the kernel can produce (events/bounds.hpp). Each names the record and the
// field; the reader adds "corrupt" and the byte offset.
Error out_of_bounds(const char* what, const char* field, const std::string& value, const std::string& limit)
{
    return make_error(std::string(what) + " record: " + field + " " + value + " " + limit);
}
Error out_of_bounds(const char* what, const char* field, uint64_t value, const std::string& limit)
{
    return out_of_bounds(what, field, std::to_string(value), limit);
}

// The checks below run on every record: each tests inline and builds its
// message out of line, only for a record that fails it.

[[gnu::cold, gnu::noinline]] Error pages_error(const char* what, uint32_t pages)
{
    if (pages > kMaxFolioPages)
        return out_of_bounds(what, "nr_pages", pages,
                             "is more than the largest folio (" + std::to_string(kMaxFolioPages) + " pages)");
    return out_of_bounds(what, "nr_pages", pages, "is not a folio size");
}

// A folio's page count: at most the largest folio; where it comes from
// folio_nr_pages() (releases, failed migrations), a power of two.
[[gnu::always_inline]] inline std::optional<Error> check_pages(const char* what, uint32_t pages, bool folio_size)
{
    if (pages <= kMaxFolioPages && (!folio_size || std::has_single_bit(pages))) [[likely]]
        return std::nullopt;
    return pages_error(what, pages);
}

[[gnu::cold, gnu::noinline]] Error refs_error(const char* what, const char* field, uint32_t refs)
{
    return out_of_bounds(what, field, refs, "is more than a page's reference count holds (2^31 - 1)");
}

// Pins or references taken or dropped at once: a folio's _refcount and
// _pincount are atomic_t, so no call moves them by more than INT_MAX.
[[gnu::always_inline]] inline std::optional<Error> check_refs(const char* what, const char* field, uint32_t refs)
{
    if (refs <= uint32_t{INT32_MAX}) [[likely]]
        return std::nullopt;
    return refs_error(what, field, refs);
}

[[gnu::cold, gnu::noinline]] Error pfn_error(const char* what, uint64_t pfn, uint64_t pages)
{
    return out_of_bounds(
        what, "pfn", hex(pfn),
        (pages > 1 ? "+ " + std::to_string(pages) + " pages " : std::string()) + PfnBounds().describe());
}

// Pages the record names: they exist, so they lie below the architecture's
// largest pfn. Most are System RAM (bounds); the rest, device memory or
// memory added while recording, are noted, not refused.
[[gnu::always_inline]] inline std::optional<Error> check_pfn(const char* what, uint64_t pfn, uint64_t pages,
                                                             const PfnBounds& bounds, DecodeNotes* notes)
{
    // The architecture's limit (what a default PfnBounds checks), inline.
    if (!pages || pfn >= kMaxPhysPfn || pages > kMaxPhysPfn - pfn) [[unlikely]]
        return pfn_error(what, pfn, pages);
    if (notes && !bounds.contains(pfn, pages)) notes->outside_ram = true;
    return std::nullopt;
}

// A range the kernel scanned (pageblock-aligned: it may start or end in a
// hole), so only against the architecture's limit.
std::optional<Error> check_range(const char* what, uint64_t start, uint64_t end)
{
    if (start <= end && end <= kMaxPhysPfn) return std::nullopt;
    return out_of_bounds(
        what, "range end", hex(end),
        "does not follow its start " + hex(start) + " below the largest pfn (" + hex(kMaxPhysPfn - 1) + ")");
}

}  // namespace

Result<bool> decode_kernel_record(std::span<const std::byte> bytes, const FlagLayout& layout, Event& out,
                                  const PfnBounds& bounds, DecodeNotes* notes)
{
    pt_header h;
    if (!read_raw(bytes, h)) return too_short("kernel", bytes.size(), sizeof(h));

    switch (h.type) {
    case PT_REC_GRAB: {
        pt_grab r;
        if (!read_raw(bytes, r)) return too_short("grab", bytes.size(), sizeof(r));
        uint32_t nr_pages = r.nr_pages ? r.nr_pages : 1;
        if (auto e = check_pages("grab", nr_pages, false)) return *e;
        if (auto e = check_refs("grab", "count", r.count)) return *e;
        if (auto e = check_pfn("grab", r.pfn, nr_pages, bounds, notes)) return *e;
        GrabEvent e{decode_head(r.h),      r.pfn,       nr_pages,
                    r.count ? r.count : 1, r.gup_flags, layout.canonical(r.gup_flags),
                    r.kstack_id,           r.ustack_id, (r.stack_flags & PT_STACK_SAMPLED) != 0};
        // A splice's grab ends with its pipe (pt_grab_in_pipe).
        if (pt_grab_in_pipe piped; read_raw(bytes, piped)) e.pipe_ino = piped.pipe_ino;
        out = e;
        return true;
    }
    case PT_REC_RELEASE: {
        pt_release r;
        if (!read_raw(bytes, r)) return too_short("release", bytes.size(), sizeof(r));
        uint32_t nr_pages = r.nr_pages ? r.nr_pages : 1;
        if (auto e = check_pages("release", nr_pages, true)) return *e;
        if (auto e = check_refs("release", "refs", r.refs)) return *e;
        if (auto e = check_pfn("release", r.pfn, nr_pages, bounds, notes)) return *e;
        ReleaseEvent e{decode_head(r.h), r.pfn, r.refs, r.gup_flags, layout.canonical(r.gup_flags), nr_pages};
        out = e;
        return true;
    }
    case PT_REC_MIGRATE: {
        pt_migrate r;
        if (!read_raw(bytes, r)) return too_short("migrate", bytes.size(), sizeof(r));
        MigrateEvent e{decode_head(r.h), r.succeeded, r.failed, r.thp_succeeded,
                       r.thp_failed,     r.thp_split, r.mode,   r.reason};
        out = e;
        return true;
    }
    case PT_REC_FAILED_FOLIO: {
        pt_failed_folio r;
        if (!read_raw(bytes, r)) return too_short("failed-folio", bytes.size(), sizeof(r));
        uint32_t nr_pages = r.nr_pages ? r.nr_pages : 1;
        if (auto e = check_pages("failed-folio", nr_pages, true)) return *e;
        if (auto e = check_pfn("failed-folio", r.pfn, nr_pages, bounds, notes)) return *e;
        FailedFolioEvent e{decode_head(r.h), r.pfn,   r.page_flags, r.refcount,
                           r.mapcount,       r.index, nr_pages,     identity_after<pt_failed_folio_identified>(bytes)};
        out = e;
        return true;
    }
    case PT_REC_MIGRATE_END: {
        pt_migrate_end r;
        if (!read_raw(bytes, r)) return too_short("migrate-end", bytes.size(), sizeof(r));
        MigrateEndEvent e{decode_head(r.h), r.ret, r.walked, r.truncated != 0};
        out = e;
        return true;
    }
    case PT_REC_ISOLATION_FAILED: {
        pt_isolation_failed r;
        if (!read_raw(bytes, r)) return too_short("isolation", bytes.size(), sizeof(r));
        if (auto e = check_range("isolation", r.start_pfn, r.end_pfn)) return *e;
        // The busy page may be a firmware-reserved one inside the zone, not
        // System RAM: only the architecture's limit holds.
        if (auto e = check_pfn("isolation", r.busy_pfn, 1, PfnBounds(), notes)) return *e;
        IsolationFailedEvent e{decode_head(r.h), r.start_pfn, r.end_pfn, r.busy_pfn};
        e.identity = identity_after<pt_isolation_failed_identified>(bytes);
        out = e;
        return true;
    }
    case PT_REC_ISOLATION_REFUSED: {
        pt_isolation_refused r;
        if (!read_raw(bytes, r)) return too_short("isolation-refused", bytes.size(), sizeof(r));
        if (auto e = check_range("isolation-refused", r.start_pfn, r.end_pfn)) return *e;
        if (r.unmovable_pfn != PT_NO_PFN)
            if (auto e = check_pfn("isolation-refused", r.unmovable_pfn, 1, PfnBounds(), notes)) return *e;
        IsolationFailedEvent e{
            decode_head(r.h), r.start_pfn, r.end_pfn, std::nullopt, IsolationFailedEvent::Stage::Start, r.error};
        if (r.unmovable_pfn != PT_NO_PFN) {
            e.busy_pfn = r.unmovable_pfn;
            e.identity = identity_after<pt_isolation_refused_identified>(bytes);
        }
        out = e;
        return true;
    }
    case PT_REC_CONTIG_ALLOC: {
        pt_contig_alloc r;
        if (!read_raw(bytes, r)) return too_short("contig-alloc", bytes.size(), sizeof(r));
        if (r.op != PT_CONTIG_START && r.op != PT_CONTIG_END) return false;  // an operation a newer pintrace records
        if (r.nr_pages > kMaxPhysPfn)
            return out_of_bounds("contig-alloc", "nr_pages", r.nr_pages, "is more pages than a machine has");
        if (r.pfn != PT_NO_PFN)
            if (auto e = check_pfn("contig-alloc", r.pfn, 1, bounds, notes)) return *e;
        ContigAllocEvent e{decode_head(r.h),
                           r.op == PT_CONTIG_START ? ContigAllocEvent::Op::Start : ContigAllocEvent::Op::End,
                           r.nr_pages, r.nid, std::nullopt};
        if (r.pfn != PT_NO_PFN) e.pfn = r.pfn;
        out = e;
        return true;
    }
    case PT_REC_CMA: {
        pt_cma r;
        if (!read_raw(bytes, r)) return too_short("cma", bytes.size(), sizeof(r));
        if (r.count > kMaxPhysPfn) return out_of_bounds("cma", "count", r.count, "is more pages than a machine has");
        // The busy range [pfn, pfn + count) is kept by the report. An end's
        // pfn is -1 for a failure on 5.x kernels: not a range to check.
        if (r.op == PT_CMA_BUSY_RETRY)
            if (auto e = check_range("cma", r.pfn, r.pfn + r.count)) return *e;
        CmaEvent e;
        e.head = decode_head(r.h);
        e.op = static_cast<CmaEvent::Op>(r.op);
        e.pfn = r.pfn;
        e.count = r.count;
        e.align = r.align;
        e.succeeded = r.flags & PT_CMA_SUCCEEDED;
        if (r.flags & PT_CMA_HAS_ERRNO) e.error = r.errorno;
        if (r.flags & PT_CMA_HAS_NAME) e.area.assign(r.name, strnlen(r.name, sizeof(r.name)));
        if (e.op != CmaEvent::Op::AllocStart && e.op != CmaEvent::Op::BusyRetry && e.op != CmaEvent::Op::AllocEnd)
            return false;  // an operation a newer pintrace records
        out = e;
        return true;
    }
    case PT_REC_PAGE_FREED: {
        pt_page_freed r;
        if (!read_raw(bytes, r)) return too_short("page-freed", bytes.size(), sizeof(r));
        if (r.order > kMaxFolioOrder)
            return out_of_bounds("page-freed", "order", r.order,
                                 "is more than the largest folio's (" + std::to_string(kMaxFolioOrder) + ")");
        if (auto e = check_pfn("page-freed", r.pfn, uint64_t{1} << r.order, bounds, notes)) return *e;
        PageFreedEvent e{decode_head(r.h), r.pfn, 1u << r.order};
        out = e;
        return true;
    }
    case PT_REC_PROCESS_EXIT: {
        pt_process_exit r;
        if (!read_raw(bytes, r)) return too_short("process-exit", bytes.size(), sizeof(r));
        out = ProcessExitEvent{decode_head(r.h)};
        return true;
    }
    default:
        // Includes PT_REC_EXEC: only the recorder needs it.
        return false;
    }
}

std::string_view hook_name(uint16_t hook)
{
    switch (hook) {
#define PT_HOOK_CASE(name, number, target) \
    case PT_HOOK_##name: return target;
        PT_HOOKS(PT_HOOK_CASE)
#undef PT_HOOK_CASE
    default: return "unknown";
    }
}

std::string_view seed_class_name(SeedClass c)
{
    switch (c) {
    case SeedClass::Pinned: return "pinned";
    case SeedClass::MaybePinned: return "maybe_pinned";
    case SeedClass::ExtraRefs: return "extra_refs";
    }
    return "unknown";
}

std::string_view stop_reason_name(StopReason reason)
{
    switch (reason) {
    case StopReason::Duration: return "duration elapsed";
    case StopReason::Signal: return "interrupted by signal";
    case StopReason::CommandExited: return "traced command exited";
    case StopReason::Error: return "capture error";
    case StopReason::WriteFailed: return "the trace file could not be written";
    default: return "unknown";
    }
}

}  // namespace pintrace
