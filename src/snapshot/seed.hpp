// record --snapshot: a snapshot of all memory and its owners, as the trace
// records that seed the ledger with pins older than the recording.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "events/event.hpp"
#include "snapshot/owners.hpp"
#include "snapshot/range.hpp"
#include "snapshot/snapshot.hpp"
#include "util/result.hpp"

namespace pintrace::snapshot {

class BpfRefcounts;

struct SeedRecords {
    SnapshotPagesEvent pages;
    std::vector<SnapshotHolderEvent> holders;
    SnapshotEndEvent end;
};

// The records for a snapshot and its owner scan: the held pages (pinned,
// maybe pinned, extra references), one holder record per candidate and
// piece of evidence, "likely" only for evidence of a registered long-term
// pin, and what the snapshot could not see.
SeedRecords seed_records(const SnapshotResult& snap, const OwnerScan& owners, uint64_t start_ns, uint64_t end_ns,
                         const std::string& range);

// Takes the snapshot over the range's pages, then looks for the owners of
// the held pages. start_ns is CLOCK_MONOTONIC at the start, the clock the
// trace's records use. Without bpf, /proc only (no refcounts: the notes say so).
Result<SeedRecords> take_seed(const RangeRequest& range, uint64_t start_ns, BpfRefcounts* bpf,
                              const std::string& bpf_note = "");

}  // namespace pintrace::snapshot
