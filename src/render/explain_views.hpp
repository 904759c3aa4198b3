// pintrace explain --pfn: one page's whole story, as text or JSON. What it
// is now (the live kernel), who may hold it now (candidates with
// evidence), and, given a trace, everything recorded about it.
#pragma once

#include <string>
#include <vector>

#include "explain/report.hpp"
#include "render/report_views.hpp"
#include "snapshot/owners.hpp"
#include "snapshot/snapshot.hpp"

namespace pintrace {

inline constexpr const char* kExplainSchema = "pintrace.explain/1";

struct PageNow {
    snapshot::SuspiciousPage page;
    std::string migratetype;  // its pageblock's, "" when the source cannot tell
    bool blocks_migration = false;
    std::vector<snapshot::PageHolderNow> holders;
};

struct Explanation {
    std::vector<PageNow> pages;
    const snapshot::OwnerScan* owners = nullptr;
    // Given a trace: its file, whether it was closed, and its report
    // (with the pages' history); null without one.
    const Report* recorded = nullptr;
    std::string trace;
    bool trace_complete = true;
    ReportView view;
    std::string source;  // "BPF refcounts ..." or "/proc/..."
    std::vector<std::string> not_visible;  // what that source cannot show
    int exit_code = 0;
};

std::string render_explain_text(const Explanation& e);
std::string render_explain_json(const Explanation& e);

}  // namespace pintrace
