// Who holds a failure's pages, grouped, and what the failures add up to:
// the explainer's conclusions that every view words in its own way
// (render/format.hpp and the views build their sentences on these).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "explain/origin.hpp"
#include "explain/pinners.hpp"
#include "explain/report.hpp"

namespace pintrace {

// Its Taker is its owner's.
struct CulpritGroup : Taker {
    OwnerId owner = 0;
    Cause cause = Cause::NoHolderSeen;
    Origin origin = Origin::Unknown;
    std::vector<uint64_t> pfns;
    uint64_t oldest_ns = 0;
    bool uncertain = false;  // events were lost while it held them: it may have released some
    uint64_t exited_ns = 0;  // its process had exited by the failure: the pins outlived it
};
// Holders of pages grouped by owner (process, flags, code path), the
// longest-lasting cause first, then the most pages: a failure's stuck
// pages, or the pages held elsewhere in an isolation range. at_ns is the
// failure's time; filter keeps only matching owners.
std::vector<CulpritGroup> group_culprits(const Report& r, std::span<const StuckPage> pages, uint64_t at_ns,
                                         const HolderFilter* filter = nullptr);
inline std::vector<CulpritGroup> group_culprits(const Report& r, const Failure& f)
{
    return group_culprits(r, f.pages, f.head.ts_ns);
}
Origin holder_origin(const Report& r, const Holder& h);
// Whether the trace would show this taker's release: a pin's always; a
// reference's (FOLL_GET) only where its origin has a release hook and the
// trace attached it, else it is an inline put_page() no probe sees.
bool release_traced(const Report& r, const Taker& t);

// Stuck pages no traced holder explains whose holder the snapshot at the
// start of the recording inferred (record --snapshot), by process: the
// likely first, then the most pages. Never certain: the pin was taken
// before the trace, and the evidence is what user space showed then.
struct InferredGroup {
    uint32_t pid = 0;
    std::string comm;
    std::string exe;
    bool likely = false;  // some evidence is a registered long-term pin of these pages
    Origin origin = Origin::Unknown;  // what the evidence says took the pin
    Cause cause = Cause::PinnedUnknown;
    std::vector<uint32_t> evidence;  // indices into Report::snapshot->holders
    std::vector<uint64_t> pfns;
};
std::vector<InferredGroup> group_inferred(const Report& r, std::span<const StuckPage> pages);
// Pages the snapshot found held for which it found no candidate either.
std::vector<uint64_t> held_without_candidate(std::span<const StuckPage> pages);

// Pages neither a traced holder nor the snapshot explains.
std::vector<const StuckPage*> unexplained_pages(const Failure& f);

// Exit codes of `report`: rows of the table in util/exit_codes.hpp.
// Over the failures filter selects (all of them without one).
int report_exit_code(const Report& r, const FailureFilter* filter = nullptr);

}  // namespace pintrace
