// Renderings of a page-state snapshot (pintrace snapshot, explain --pfn).
#pragma once

#include <string>

#include "snapshot/owners.hpp"
#include "snapshot/snapshot.hpp"

namespace pintrace {

inline constexpr const char* kSnapshotSchema = "pintrace.snapshot/1";

std::string render_snapshot_text(const snapshot::SnapshotResult& r, const snapshot::OwnerScan* owners);
std::string render_snapshot_json(const snapshot::SnapshotResult& r, const snapshot::OwnerScan* owners);
// The candidates section alone (explain --pfn shares it).
std::string render_candidates_text(const snapshot::OwnerScan& owners, const std::string& indent = "  ");

}  // namespace pintrace
