#include "events/decode.hpp"

#include <cstring>
#include <string>

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

}  // namespace

Result<bool> decode_kernel_record(std::span<const std::byte> bytes, const FlagLayout& layout, Event& out)
{
    pt_header h;
    if (!read_raw(bytes, h)) return too_short("kernel", bytes.size(), sizeof(h));

    switch (h.type) {
    case PT_REC_GRAB: {
        pt_grab r;
        if (!read_raw(bytes, r)) return too_short("grab", bytes.size(), sizeof(r));
        GrabEvent e{decode_head(r.h), r.pfn, r.nr_pages ? r.nr_pages : 1, r.count ? r.count : 1, r.gup_flags,
                    layout.canonical(r.gup_flags), r.kstack_id, r.ustack_id,
                    (r.stack_flags & PT_STACK_SAMPLED) != 0};
        out = e;
        return true;
    }
    case PT_REC_RELEASE: {
        pt_release r;
        if (!read_raw(bytes, r)) return too_short("release", bytes.size(), sizeof(r));
        ReleaseEvent e{decode_head(r.h), r.pfn, r.refs, r.gup_flags, layout.canonical(r.gup_flags),
                       r.nr_pages ? r.nr_pages : 1};
        out = e;
        return true;
    }
    case PT_REC_MIGRATE: {
        pt_migrate r;
        if (!read_raw(bytes, r)) return too_short("migrate", bytes.size(), sizeof(r));
        MigrateEvent e{decode_head(r.h), r.succeeded, r.failed, r.thp_succeeded, r.thp_failed,
                       r.thp_split, r.mode, r.reason};
        out = e;
        return true;
    }
    case PT_REC_FAILED_FOLIO: {
        pt_failed_folio r;
        if (!read_raw(bytes, r)) return too_short("failed-folio", bytes.size(), sizeof(r));
        FailedFolioEvent e{decode_head(r.h), r.pfn, r.page_flags, r.refcount, r.mapcount, r.index,
                           r.nr_pages ? r.nr_pages : 1};
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
        IsolationFailedEvent e{decode_head(r.h), r.start_pfn, r.end_pfn, r.busy_pfn};
        out = e;
        return true;
    }
    case PT_REC_ISOLATION_REFUSED: {
        pt_isolation_refused r;
        if (!read_raw(bytes, r)) return too_short("isolation-refused", bytes.size(), sizeof(r));
        IsolationFailedEvent e{decode_head(r.h), r.start_pfn, r.end_pfn, std::nullopt,
                               IsolationFailedEvent::Stage::Start, r.error};
        if (r.unmovable_pfn != PT_NO_PFN) e.busy_pfn = r.unmovable_pfn;
        out = e;
        return true;
    }
    case PT_REC_CONTIG_ALLOC: {
        pt_contig_alloc r;
        if (!read_raw(bytes, r)) return too_short("contig-alloc", bytes.size(), sizeof(r));
        if (r.op != PT_CONTIG_START && r.op != PT_CONTIG_END) return false;  // an operation a newer pintrace records
        ContigAllocEvent e{decode_head(r.h), r.op == PT_CONTIG_START ? ContigAllocEvent::Op::Start : ContigAllocEvent::Op::End,
                           r.nr_pages, r.nid, std::nullopt};
        if (r.pfn != PT_NO_PFN) e.pfn = r.pfn;
        out = e;
        return true;
    }
    case PT_REC_CMA: {
        pt_cma r;
        if (!read_raw(bytes, r)) return too_short("cma", bytes.size(), sizeof(r));
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
        PageFreedEvent e{decode_head(r.h), r.pfn, 1u << (r.order & 31)};
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
    case PT_HOOK_TRY_GRAB_PAGE: return "try_grab_page";
    case PT_HOOK_TRY_GRAB_FOLIO: return "try_grab_folio";
    case PT_HOOK_GUP_PUT_FOLIO: return "gup_put_folio";
    case PT_HOOK_FOLLOW_PAGE: return "follow_page";
    case PT_HOOK_TRY_GRAB_FOLIO_FAST: return "try_grab_folio_fast";
    case PT_HOOK_TRY_GRAB_COMPOUND_HEAD: return "try_grab_compound_head";
    case PT_HOOK_PUT_COMPOUND_HEAD: return "put_compound_head";
    case PT_HOOK_EXEC_TP: return "sched:sched_process_exec";
    case PT_HOOK_EXIT_TP: return "sched:sched_process_exit";
    case PT_HOOK_ISOLATION_TP: return "page_isolation:test_pages_isolated";
    case PT_HOOK_PAGE_FREE_TP: return "kmem:mm_page_free";
    case PT_HOOK_CMA_ALLOC_START_TP: return "cma:cma_alloc_start";
    case PT_HOOK_CMA_BUSY_RETRY_TP: return "cma:cma_alloc_busy_retry";
    case PT_HOOK_CMA_ALLOC_FINISH_TP: return "cma:cma_alloc_finish";
    case PT_HOOK_CMA_ALLOC_TP: return "cma:cma_alloc";
    case PT_HOOK_MIGRATE_TP: return "migrate:mm_migrate_pages";
    case PT_HOOK_MIGRATE_PAGES_EXIT: return "migrate_pages (return)";
    case PT_HOOK_ISOLATE_RANGE: return "start_isolate_page_range";
    case PT_HOOK_UNMOVABLE_PAGE: return "has_unmovable_pages";
    case PT_HOOK_CONTIG_PAGES: return "alloc_contig_pages";
    case PT_HOOK_CONTIG_PAGES_NOPROF: return "alloc_contig_pages_noprof";
    case PT_HOOK_CONTIG_FROZEN_PAGES: return "alloc_contig_frozen_pages_noprof";
    case PT_HOOK_UNPIN_USER_PAGE: return "unpin_user_page";
    case PT_HOOK_UNPIN_FOLIO: return "unpin_folio";
    case PT_HOOK_UNPIN_USER_FOLIO: return "unpin_user_folio";
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
