// The attach table as people read it: shared by doctor, record and report.
#pragma once

#include <string>
#include <vector>

#include "trace/trace_info.hpp"

namespace pintrace {

// One aligned line per attach point; missing ones followed by what they hide.
std::string render_attach_table(const std::vector<AttachPoint>& attach, const std::string& indent = "  ");

}  // namespace pintrace
