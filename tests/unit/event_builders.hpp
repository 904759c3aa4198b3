// Synthetic events for unit tests, shaped like what the BPF side records.
#pragma once

#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "events/event.hpp"
#include "events/gup_flags.hpp"

namespace pintrace::test {

inline EventHead head(uint64_t ts, uint32_t tgid, std::string_view comm = "proc", uint32_t tid = 0)
{
    EventHead h;
    h.ts_ns = ts;
    h.task.tgid = tgid;
    h.task.tid = tid ? tid : tgid;
    std::memcpy(h.task.comm.data(), comm.data(), std::min(comm.size(), h.task.comm.size() - 1));
    return h;
}

inline GrabEvent grab(uint64_t ts, uint32_t tgid, uint64_t pfn, uint32_t flags, uint32_t nr_pages = 1,
                      std::string_view comm = "proc")
{
    GrabEvent e;
    e.head = head(ts, tgid, comm);
    e.head.hook = PT_HOOK_TRY_GRAB_PAGE;
    e.pfn = pfn;
    e.nr_pages = nr_pages;
    e.flags = flags;
    return e;
}

inline ReleaseEvent release(uint64_t ts, uint32_t tgid, uint64_t pfn, uint32_t flags, uint32_t refs = 1,
                            uint32_t nr_pages = 1, std::string_view comm = "kworker/u4:1")
{
    ReleaseEvent e;
    e.head = head(ts, tgid, comm);
    e.head.hook = PT_HOOK_GUP_PUT_FOLIO;
    e.pfn = pfn;
    e.refs = refs;
    e.flags = flags;
    e.nr_pages = nr_pages;
    return e;
}

inline IsolationFailedEvent isolation(uint64_t ts, uint64_t start, uint64_t end, uint64_t busy,
                                      std::string_view comm = "cma-user")
{
    IsolationFailedEvent e;
    e.head = head(ts, 1, comm);
    e.start_pfn = start;
    e.end_pfn = end;
    e.busy_pfn = busy;
    return e;
}

// start_isolate_page_range() refused [start, end): unmovable names the page
// where the kernel says which (5.x's has_unmovable_pages).
inline IsolationFailedEvent isolation_refused(uint64_t ts, uint64_t start, uint64_t end,
                                              std::optional<uint64_t> unmovable, std::string_view comm = "cma-user")
{
    IsolationFailedEvent e;
    e.head = head(ts, 1, comm);
    e.start_pfn = start;
    e.end_pfn = end;
    e.busy_pfn = unmovable;
    e.stage = IsolationFailedEvent::Stage::Start;
    e.error = -16;  // EBUSY
    return e;
}

// alloc_contig_pages() of nr pages on node nid, by tid 1 of pid 1.
inline ContigAllocEvent contig(uint64_t ts, ContigAllocEvent::Op op, uint64_t nr = 262144, int32_t nid = 1,
                               std::optional<uint64_t> pfn = std::nullopt)
{
    ContigAllocEvent e;
    e.head = head(ts, 1, "cma-user");
    e.op = op;
    e.nr_pages = nr;
    e.nid = nid;
    e.pfn = pfn;
    return e;
}

// One migrate_pages() call by pid mover that left pfns behind, each with its
// refcount: the tracepoint, the failed-list walk, and the return.
struct FailedPage {
    uint64_t pfn;
    int32_t refcount = 1026;  // a pin's bias plus isolation's and one mapping's
    uint32_t nr_pages = 1;
};
inline std::vector<Event> migration_failure(uint64_t ts, std::vector<FailedPage> pages, int reason = 3,
                                            uint32_t mover = 300, std::string_view comm = "numactl")
{
    std::vector<Event> out;
    MigrateEvent m;
    m.head = head(ts, mover, comm);
    m.failed = pages.size();
    m.reason = reason;
    out.push_back(m);
    uint32_t index = 0;
    for (const auto& p : pages) {
        FailedFolioEvent f;
        f.head = m.head;
        f.pfn = p.pfn;
        f.refcount = p.refcount;
        f.mapcount = 1;
        f.nr_pages = p.nr_pages;
        f.index = index++;
        out.push_back(f);
    }
    MigrateEndEvent end;
    end.head = m.head;
    end.ret = static_cast<int64_t>(pages.size());
    out.push_back(end);
    return out;
}

// Text reports wrap at 80 columns: the same text with each line break and
// the continuation's indent folded back into one space.
inline std::string flat(const std::string& text)
{
    std::string out;
    for (size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '\n' && i + 1 < text.size() && text[i + 1] == ' ') {
            while (i + 1 < text.size() && text[i + 1] == ' ') ++i;
            out += ' ';
        } else {
            out += text[i];
        }
    }
    return out;
}

inline constexpr uint32_t kLongPin = kFlagPin | kFlagLongterm | kFlagWrite;

}  // namespace pintrace::test
