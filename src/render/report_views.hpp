// Renderings of a Report. Each takes the whole model and what the user
// asked to see, and returns text.
#pragma once

#include <string>

#include "explain/pinners.hpp"
#include "explain/report.hpp"

namespace pintrace {

inline constexpr const char* kReportSchema = "pintrace.report/1";

// What `report`'s options select; the defaults show everything.
struct ReportView {
    FailureFilter failures;
    PinnerQuery pinners;
    size_t top = 10;  // rows per table in text and markdown (0: all); JSON has all
    bool show_stacks = true;
};

std::string render_report_json(const Report& report, const ReportView& view = {});
std::string render_report_text(const Report& report, const ReportView& view = {});
std::string render_report_markdown(const Report& report, const ReportView& view = {});
// Only the --pfn history section (explain --pfn).
std::string render_history_text(const Report& report, const ReportView& view = {});

// How the recording treated short-term pins (the trace's "pairing" meta,
// docs/pairing.md): one row per mode. Traces before pairing have none.
struct PairingMode {
    const char* meta;  // the value record writes
    bool complete;  // every grab and release is in the trace
    const char* text;  // what the report says of it
};
const PairingMode* pairing_mode(const Report& report);
// The pairing threshold as text ("300 ms").
std::string pairing_threshold(const Report& report);
// "pins: ..." for the report's header, or empty for a trace without pairing.
std::string pairing_line(const Report& report);

class JsonWriter;
// One row of the holders table as an object (docs/report-json.md,
// holders.rows[]): report's JSON and top's JSON lines share it.
void write_pinner_row_json(JsonWriter& j, const Report& r, const PinnerRow& row);

}  // namespace pintrace
