#include "top/app.hpp"

#include <chrono>

#include "explain/explainer.hpp"
#include "render/format.hpp"
#include "render/json_writer.hpp"
#include "render/report_views.hpp"

namespace pintrace::top {
namespace {

using Clock = std::chrono::steady_clock;

constexpr size_t kJsonFailures = 10;

// The explainer and what the header counts, between two snapshots.
class Feed {
public:
    explicit Feed(EventSource& source) : source_(source), explainer_(source.info()) { source_.describe(status_); }

    void consume(const Event& e)
    {
        explainer_.consume(e);
        ++status_.events;
    }
    Explainer& explainer() { return explainer_; }

    // The ledger now, and the rates since the previous snapshot.
    Report snapshot()
    {
        auto now = Clock::now();
        double s = std::chrono::duration<double>(now - last_).count();
        status_.events_per_s = s > 0 ? double(status_.events - last_events_) / s : 0;
        last_ = now;
        last_events_ = status_.events;
        source_.describe(status_);
        return explainer_.snapshot();
    }
    void ended()
    {
        explainer_.flush();
        status_.ended = true;
    }
    const SourceStatus& status() const { return status_; }

private:
    EventSource& source_;
    Explainer explainer_;
    SourceStatus status_;
    Clock::time_point last_ = Clock::now();
    uint64_t last_events_ = 0;
};

Clock::duration interval_of(const TopOptions& o)
{
    return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.interval_s));
}

bool stop_requested(const TopOptions& o) { return o.stop && o.stop->load(); }

}  // namespace

std::string snapshot_json(const Report& r, const SourceStatus& src, const TopState& s, std::span<const PinnerRow> rows)
{
    JsonWriter j;
    j.begin_object().field("schema", "pintrace.top/1");
    j.field("source", src.mode).field("ended", src.ended);
    j.field("at_ns", r.end_ns).field("at", format_wall_time(r, r.end_ns));
    j.field("kernel_release", r.info.get("kernel_release")).field("hostname", r.info.get("hostname"));
    j.key("capture").begin_object().field("complete", r.capture_complete()).key("missing").begin_array();
    for (const auto& a : r.info.attach)
        if (!a.attached())
            j.begin_object()
                .field("target", a.target)
                .field("mode", a.mode())
                .field("detail", a.detail)
                .field("hides", a.hides)
                .end_object();
    j.end_array().end_object();
    j.field("events", src.events).field("events_per_second", src.events_per_s).field("lost_events", r.lost_total);
    j.key("bpf");
    if (src.bpf_known)
        j.begin_object()
            .field("runs", src.bpf_runs)
            .field("ns_per_run", src.bpf_ns_per_run)
            .field("cpu_fraction", src.bpf_cpu_fraction)
            .end_object();
    else
        j.null();
    j.field("summary", report_summary(r));
    j.key("sort").begin_array();
    for (SortKey k : s.sort) j.value(sort_key_name(k));
    j.end_array();
    j.field("filter", s.filter_text);
    j.key("pinners").begin_array();
    for (const auto& row : rows) write_pinner_row_json(j, r, row);
    j.end_array();

    FailureFilter filter;
    filter.holders = s.filter;
    std::vector<const Failure*> selected;
    for (const auto& f : r.failures)
        if (filter.matches(r, f)) selected.push_back(&f);
    j.field("failures_total", uint64_t{selected.size()});
    j.key("recent_failures").begin_array();
    for (size_t i = selected.size() > kJsonFailures ? selected.size() - kJsonFailures : 0; i < selected.size(); ++i) {
        const Failure& f = *selected[i];
        j.begin_object()
            .field("at_ns", f.head.ts_ns)
            .field("at", format_wall_time(r, f.head.ts_ns))
            .field("kind", failure_kind_name(f.kind))
            .field("reason", f.reason)
            .field("pid", f.head.task.tgid)
            .field("comm", comm_view(f.head.task.comm))
            .field("explanation", failure_sentence(r, f))
            .string_array("next_steps", next_steps(r, f))
            .end_object();
    }
    j.end_array().end_object();
    return j.str() + "\n";
}

Result<void> run_batch(EventSource& source, TopState state, const TopOptions& o, std::FILE* out)
{
    Feed feed(source);
    uint64_t printed = 0;
    auto print = [&] {
        Report r = feed.snapshot();
        auto rows = pinner_rows(r, query_of(state));
        std::string text;
        if (o.json) {
            text = snapshot_json(r, feed.status(), state, rows);
        } else {
            Layout layout;
            layout.width = o.width;
            layout.height = 0;
            text = (printed ? "\n" : "") + build_screen(r, feed.status(), state, rows, {}, layout).text();
        }
        std::fwrite(text.data(), 1, text.size(), out);
        std::fflush(out);
        ++printed;
    };
    auto next = Clock::now() + interval_of(o);
    bool done = false;
    auto run = source.run([&](const Event& e) { feed.consume(e); },
                          [&] {
                              if (stop_requested(o)) return false;
                              if (Clock::now() < next) return true;
                              print();
                              next += interval_of(o);
                              done = o.iterations && printed >= o.iterations;
                              return !done;
                          });
    if (!run) return run.error();
    // The end of a replay (or a signal) still gets its snapshot, unless
    // the count of them was reached.
    if (!done) {
        feed.ended();
        print();
    }
    return {};
}

Result<void> run_interactive(EventSource& source, Terminal& term, TopState state, const TopOptions& o)
{
    Feed feed(source);
    Report report = feed.snapshot();
    std::vector<PinnerRow> rows;
    std::vector<HeldRange> held;
    auto requery = [&] {
        rows = pinner_rows(report, query_of(state));
        follow_selection(state, rows);
    };
    // Paused, the report stays as it was; the ranges are read from the
    // ledger as it is now, so a pin taken since can show an age of 0.
    auto reread_held = [&] {
        held.clear();
        if (state.mode != Mode::Detail) return;
        for (const auto& row : rows)
            if (row.key == state.selected_key) held = feed.explainer().held_ranges(row.owners);
    };
    auto refresh = [&] {
        report = feed.snapshot();
        requery();
        reread_held();
    };
    auto draw = [&] { term.paint(build_screen(report, feed.status(), state, rows, held, term.layout())); };
    refresh();
    draw();

    auto next = Clock::now() + interval_of(o);
    auto handle_input = [&](int wait_ms) {
        auto keys = term.read_keys(wait_ms);
        for (const Key& k : keys) {
            auto sort = state.sort;
            auto filter = state.filter_text;
            Mode mode = state.mode;
            handle_key(state, k, rows, table_page(report, term.layout()));
            if (state.sort != sort || state.filter_text != filter) requery();
            if (state.mode == Mode::Detail && mode != Mode::Detail) reread_held();
        }
        return !keys.empty();
    };
    auto tick = [&] {
        bool dirty = handle_input(0);
        if (state.quit || stop_requested(o)) return false;
        if (Clock::now() >= next) {
            if (!state.paused) refresh();
            dirty = true;
            next = Clock::now() + interval_of(o);
        }
        if (dirty) draw();
        return true;
    };
    auto run = source.run([&](const Event& e) { feed.consume(e); }, tick);
    if (!run) return run.error();
    if (state.quit || stop_requested(o)) return {};
    // The replay is over: the last state stays on screen until the user quits.
    feed.ended();
    if (!state.paused) refresh();
    draw();
    while (!state.quit && !stop_requested(o))
        if (handle_input(200)) {
            if (!state.paused) refresh();
            draw();
        }
    return {};
}

}  // namespace pintrace::top
