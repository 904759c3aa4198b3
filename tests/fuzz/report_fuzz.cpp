// libFuzzer target over the whole report pipeline (docs/fuzzing.md):
//
//   bytes -> TraceReader::from_bytes -> read as they are (checksums), then
//   resealed -> read (strict, then allow_incomplete)
//         -> Explainer (ledger replay) -> report text, markdown or JSON
//         -> explain --pfn's history for pfns the trace itself names
//         -> top --replay: batch snapshots (text, JSON) and the detail screen
//
// Each step calls the library functions the CLI calls (cli/cmd_report.cpp,
// cli/cmd_explain.cpp, cli/cmd_top.cpp), never a copy of them. Nothing here
// loads BPF or touches the live kernel.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <type_traits>
#include <variant>
#include <vector>

#include "explain/explainer.hpp"
#include "explain/pinners.hpp"
#include "render/explain_views.hpp"
#include "render/format.hpp"
#include "render/report_views.hpp"
#include "top/app.hpp"
#include "top/screen.hpp"
#include "top/source.hpp"
#include "trace/reader.hpp"

using namespace pintrace;

namespace {

// Where top's batch snapshots go: the bytes are made, then dropped.
std::FILE* sink_file()
{
    static std::FILE* f = std::fopen("/dev/null", "w");
    return f;
}

// The report's views under options picked from the input (so every option
// gets exercised without a second corpus): like `report [--format F] ...`.
ReportView view_for(size_t variant)
{
    ReportView view;
    switch (variant % 5) {
    case 0: break;  // the defaults
    case 1:
        view.top = 0;
        view.show_stacks = false;
        view.pinners.group_by = GroupBy::Stack;
        break;
    case 2:
        view.pinners.group_by = GroupBy::Comm;
        view.pinners.sort = {SortKey::Oldest, SortKey::Rate};
        view.failures.reason = "compaction";
        break;
    case 3:
        view.pinners.group_by = GroupBy::Cgroup;
        view.pinners.sort = {SortKey::Pins, SortKey::Pid, SortKey::Comm};
        view.failures.holders.pid = 4242;
        view.pinners.filter.pid = 4242;
        break;
    case 4:
        view.top = 1;
        view.failures.since_ns = 1;
        view.failures.until_ns = UINT64_MAX / 2;
        view.pinners.filter.comm = "qemu-kvm";
        break;
    }
    return view;
}

// `pintrace report [--allow-incomplete]`: cmd_report.cpp's run_report.
void run_report(const TraceReader& reader, bool allow_incomplete, size_t variant, std::vector<uint64_t>* pfns)
{
    ExplainOptions options;
    if (variant % 3 == 1) options.threshold_ns = 300'000'000;
    if (variant % 7 == 3) options.until_ns = UINT64_MAX / 3;
    Explainer explainer(reader.info(), options);
    auto read = reader.read(
        [&](const Event& e) {
            explainer.consume(e);
            if (!pfns || pfns->size() >= 4) return;
            std::visit(
                [&](const auto& ev) {
                    using T = std::decay_t<decltype(ev)>;
                    if constexpr (std::is_same_v<T, GrabEvent> || std::is_same_v<T, ReleaseEvent> ||
                                  std::is_same_v<T, FailedFolioEvent> || std::is_same_v<T, PageFreedEvent>)
                        pfns->push_back(ev.pfn);
                },
                e);
        },
        {allow_incomplete});
    if (!read) return;  // the CLI prints the error and exits 1
    Report report = std::move(explainer).finish();
    ReportView view = view_for(variant);
    // One rendering per input, picked apart from the other choices: each
    // walks the same report, and libFuzzer reaches all three by length.
    switch (variant / 3 % 3) {
    case 0: (void)render_report_json(report, view); break;
    case 1: (void)render_report_markdown(report, view); break;
    case 2: (void)render_report_text(report, view); break;
    }
    (void)report_exit_code(report, &view.failures);
}

// `pintrace explain --pfn PFNS TRACE [--format json]`, its trace half (the
// live half reads the running kernel): cmd_explain.cpp, through the same
// Explanation and both its renderings.
void run_explain_pfn(const TraceReader& reader, const std::vector<uint64_t>& pfns)
{
    ExplainOptions options;
    options.history_pfns = pfns;
    Explainer explainer(reader.info(), options);
    auto read = reader.read([&](const Event& e) { explainer.consume(e); }, {true});
    if (!read) return;
    Report report = std::move(explainer).finish();
    Explanation e;
    e.recorded = &report;
    e.trace = "fuzz.trace";
    e.trace_complete = read->finished;
    (void)render_explain_text(e);
    e.view.show_stacks = false;
    (void)render_explain_json(e);
}

// `pintrace top --replay TRACE --speed 0 --batch [--format json]`:
// cmd_top.cpp, through top::run_batch.
void run_top_batch(const TraceReader& reader, bool json)
{
    auto source = top::replay_source(reader, "fuzz.trace", 0, true);
    top::TopOptions options;
    options.interval_s = 3600;  // one snapshot, at the end of the replay
    options.json = json;
    options.width = json ? 120 : 60;
    (void)top::run_batch(*source, top::TopState{}, options, sink_file());
}

// The full-screen view's screens (what run_interactive paints), table and
// detail of the first row, from the explainer top keeps.
void run_top_screens(const TraceReader& reader)
{
    Explainer explainer(reader.info());
    uint64_t events = 0;
    auto read = reader.read(
        [&](const Event& e) {
            explainer.consume(e);
            ++events;
        },
        {true});
    if (!read) return;  // top stops with the error
    explainer.flush();
    Report report = explainer.snapshot();
    top::SourceStatus status;
    status.mode = "replay fuzz.trace (unpaced)";
    status.ended = true;
    status.events = events;
    top::TopState state;
    auto rows = pinner_rows(report, top::query_of(state));
    top::follow_selection(state, rows);
    top::Layout layout;
    (void)build_screen(report, status, state, rows, {}, layout);
    if (rows.empty()) return;
    top::handle_key(state, top::Key{top::Key::Enter}, rows, top::table_page(report, layout));
    std::vector<HeldRange> held = explainer.held_ranges(rows.front().owners);
    layout.width = 40;
    layout.height = 12;
    (void)build_screen(report, status, state, rows, held, layout);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    // Format 1.3 seals every block with a checksum, which a mutation almost
    // never keeps right: the input as it is goes through one read (the
    // checksum and framing checks), and the pipeline gets it resealed, so
    // the decoders, the ledger and the views meet the mutation.
    std::string bytes(reinterpret_cast<const char*>(data), size);
    if (auto as_is = TraceReader::from_bytes(bytes)) (void)as_is->read([](const Event&) {}, {.allow_incomplete = true});
    auto reader = TraceReader::from_bytes(reseal(std::move(bytes)));
    if (!reader) return 0;
    size_t variant = size;
    std::vector<uint64_t> pfns;
    // Every input gets the report (strict read, then --allow-incomplete with
    // one of its three renderings); one of the other commands, picked by the input's
    // length, replays it again: each replay is the costly part (a 1 GiB
    // folio's grab is 2^18 page operations), and libFuzzer needs no more
    // than one of them per input to reach all of them.
    (void)reader->read([](const Event&) {});
    run_report(reader.value(), true, variant, &pfns);
    switch (variant % 3) {
    case 0:
        if (!pfns.empty()) run_explain_pfn(reader.value(), pfns);
        break;
    case 1: run_top_batch(reader.value(), variant & 4); break;
    case 2: run_top_screens(reader.value()); break;
    }
    return 0;
}
