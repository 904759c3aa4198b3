// JSON sections more than one document writes: explain's JSON is made of
// snapshot's candidates and report's page history, in the same shape.
#pragma once

#include "explain/report.hpp"
#include "render/json_writer.hpp"
#include "snapshot/owners.hpp"

namespace pintrace {

// "candidates", "unowned_pfns", "owner_notes" and the owner scan's figures
// (snapshot_views.cpp).
void write_candidates(JsonWriter& j, const snapshot::OwnerScan& owners);
// "history": the --pfn pages' events and their holders at the end (report_json.cpp).
void write_history(JsonWriter& j, const Report& r);
// What a page was at a failure, as an object: kind, type, the file
// ({fs, dev "MAJ:MIN", inode, path, offset_pages}) or slab cache, the
// page's counts and the raw page_type word (report_json.cpp).
void write_identity(JsonWriter& j, const PageIdentity& id);

}  // namespace pintrace
