// Renderings of a Report. Each takes the whole model and returns text.
#pragma once

#include <string>

#include "explain/report.hpp"

namespace pintrace {

inline constexpr const char* kReportSchema = "pintrace.report/1";

std::string render_report_json(const Report& report);
std::string render_report_text(const Report& report, bool show_stacks = true);

}  // namespace pintrace
