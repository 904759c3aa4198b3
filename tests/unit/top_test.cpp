// pintrace top's screen model: what the keys do and what a person sees,
// without a terminal; and the replay source's pacing.
#include <gtest/gtest.h>

#include <boost/property_tree/json_parser.hpp>
#include <boost/property_tree/ptree.hpp>
#include <chrono>
#include <sstream>

#include "event_builders.hpp"
#include "explain/explainer.hpp"
#include "sample_trace.hpp"
#include "top/app.hpp"
#include "top/screen.hpp"
#include "top/source.hpp"

namespace pintrace::top {
namespace {

using test::grab;
using test::kLongPin;

constexpr uint64_t kMs = 1'000'000;

// pid 100 (iouring) pins 8 pages long-term at 0x1000..0x1007 (one code
// path, with a kernel stack); pid 200 (dio) holds 20 short-term pins; pid
// 300 (splicer) 3 references; pid 400 migrates 0x1000 and fails.
void feed_sample(Explainer& ex)
{
    ex.consume(
        StackEvent{7, StackKind::Kernel, 0, {{0x1, "try_grab_page+0x10"}, {0x2, "io_sqe_buffer_register+0x63"}}});
    for (uint64_t i = 0; i < 8; ++i) {
        GrabEvent g = grab(1 * kMs + i, 100, 0x1000 + i, kLongPin, 1, "iouring");
        g.kstack = 7;
        ex.consume(g);
    }
    for (uint64_t i = 0; i < 20; ++i) ex.consume(grab(50 * kMs + i, 200, 0x2000 + 2 * i, kFlagPin, 1, "dio"));
    for (uint64_t i = 0; i < 3; ++i) ex.consume(grab(60 * kMs + i, 300, 0x3000 + i, kFlagGet, 1, "splicer"));
    for (const auto& e : test::migration_failure(90 * kMs, {{0x1000, 1026}}, 3, 400)) ex.consume(e);
    ex.consume(grab(100 * kMs, 200, 0x9000, kFlagPin, 1, "dio"));
    ex.flush();
}

struct Fixture {
    Explainer ex{test::sample_info()};
    Report report = (feed_sample(ex), ex.snapshot());
    TopState state;
    SourceStatus src{"replay sample.trace at 1x"};
    std::vector<PinnerRow> rows;

    Fixture() { requery(); }
    void requery()
    {
        rows = pinner_rows(report, query_of(state));
        follow_selection(state, rows);
    }
    void key(Key k)
    {
        auto sort = state.sort;
        auto filter = state.filter_text;
        handle_key(state, k, rows, 10);
        if (sort != state.sort || filter != state.filter_text) requery();
    }
    void type(std::string_view keys)
    {
        for (char c : keys) key(Key::of(char32_t(c)));
    }
    // "/" opens the filter with the current one, to edit.
    void filter(std::string_view text)
    {
        key(Key::of('/'));
        while (!state.input.empty()) key({Key::Backspace});
        type(text);
        key({Key::Enter});
    }
    Screen screen(int width = 120, int height = 30)
    {
        std::vector<HeldRange> held;
        if (state.mode == Mode::Detail)
            for (const auto& row : rows)
                if (row.key == state.selected_key) held = ex.held_ranges(row.owners);
        return build_screen(report, src, state, rows, held, Layout{width, height});
    }
    // The table's data rows, as a person reads them.
    std::vector<std::string> table_rows()
    {
        std::vector<std::string> out;
        for (const auto& l : screen().lines)
            if ((l.text.starts_with("> ") || l.text.starts_with("  ")) && l.text.find("worker") == std::string::npos &&
                l.text.size() > 10 && std::isdigit(static_cast<unsigned char>(l.text[8])))
                out.push_back(l.text);
        return out;
    }
};

bool has(const std::string& text, std::string_view what) { return text.find(what) != std::string::npos; }

TEST(TopScreen, FirstScreenAnswersWhoHoldsTheMostAndWhyTheLastMigrationFailed)
{
    Fixture f;
    Screen s = f.screen(200, 30);
    ASSERT_EQ(s.lines.size(), 30u);
    std::string text = s.text();
    EXPECT_TRUE(has(s.lines[0].text, "kernel 6.1.0-50-cloud-amd64 on db-7 - replay sample.trace at 1x")) << text;
    EXPECT_TRUE(has(s.lines[1].text, "capture: complete")) << text;
    EXPECT_TRUE(has(s.lines[2].text, "BPF cost: ")) << text;
    // Default order: pages held, so dio's 21 short-term pins come first, selected.
    auto rows = f.table_rows();
    ASSERT_EQ(rows.size(), 3u) << text;
    EXPECT_TRUE(rows[0].starts_with(">     200 dio")) << text;
    EXPECT_TRUE(has(text, "RECENT FAILURES (1, newest first)")) << text;
    EXPECT_TRUE(has(text, "migration (syscall_or_cpuset) by pid 400 (numactl): 1 failed")) << text;
    EXPECT_TRUE(has(text, "held by pid 100 (iouring)")) << text;
    EXPECT_TRUE(has(text, "    next: ")) << text;
    EXPECT_TRUE(s.lines.back().text.starts_with("F1/h Help")) << text;
    EXPECT_EQ(s.lines.back().style, Style::StatusBar);
}

TEST(TopScreen, SortMenuChoosesTheColumnAndMarksIt)
{
    Fixture f;
    f.key(Key::of('s'));
    EXPECT_EQ(f.state.mode, Mode::SortMenu);
    EXPECT_TRUE(has(f.screen().text(), "> pages     pages held  (current)")) << f.screen().text();
    f.key({Key::Down});  // longterm
    f.key({Key::Enter});
    EXPECT_EQ(f.state.mode, Mode::Table);
    ASSERT_EQ(f.state.sort.front(), SortKey::Longterm);
    auto rows = f.table_rows();
    ASSERT_EQ(rows.size(), 3u);
    EXPECT_TRUE(has(rows[0], " 100 iouring")) << rows[0];
    EXPECT_TRUE(has(f.screen().text(), "LONGTERM*"));
    EXPECT_FALSE(has(f.screen().text(), "PAGES*"));
    // The selection stayed on the pinner, not the screen position.
    EXPECT_TRUE(has(f.screen().text(), ">     200 dio"));

    f.key({Key::Sort});  // F6
    for (int i = 0; i < 10; ++i) f.key({Key::Down});  // clamps at the last: cgroup
    f.key({Key::Enter});
    EXPECT_EQ(f.state.sort.front(), SortKey::Cgroup);
    EXPECT_TRUE(has(f.screen().text(), "CGROUP*")) << f.screen().text();
    f.key(Key::of('s'));  // the menu opens on the current key
    f.key({Key::Up});  // comm
    f.key({Key::Enter});
    EXPECT_EQ(f.state.sort.front(), SortKey::Comm);
    EXPECT_TRUE(has(f.table_rows()[0], " dio")) << f.table_rows()[0];

    f.key(Key::of('s'));
    f.key({Key::Escape});  // cancels
    EXPECT_EQ(f.state.sort.front(), SortKey::Comm);
    EXPECT_EQ(f.state.mode, Mode::Table);
}

TEST(TopScreen, SelectionMovesWithArrowsAndVimKeysAndStaysInRange)
{
    Fixture f;
    f.key(Key::of('k'));
    EXPECT_EQ(f.state.selected, 0u);
    f.key(Key::of('j'));
    f.key({Key::Down});
    f.key({Key::Down});
    EXPECT_EQ(f.state.selected, 2u);
    EXPECT_EQ(f.state.selected_key, "300");
    f.key({Key::Up});
    EXPECT_EQ(f.state.selected_key, "100");
    f.key({Key::Home});
    EXPECT_EQ(f.state.selected_key, "200");
    f.key({Key::End});
    EXPECT_EQ(f.state.selected_key, "300");
}

TEST(TopScreen, FilterSelectsHoldersAndTheirFailures)
{
    Fixture f;
    f.type("/iouring");
    EXPECT_EQ(f.state.mode, Mode::FilterInput);
    EXPECT_TRUE(has(f.screen().lines.back().text, "iouring_")) << "what is typed shows in the status line";
    f.key({Key::Enter});
    auto rows = f.table_rows();
    ASSERT_EQ(rows.size(), 1u);
    EXPECT_TRUE(has(rows[0], "100 iouring"));
    EXPECT_TRUE(has(f.screen().text(), "RECENT FAILURES (1 selected"));
    EXPECT_TRUE(has(f.screen().lines.back().text, "filter: iouring"));

    f.filter("splicer");
    EXPECT_TRUE(has(f.screen().text(), "RECENT FAILURES (0 selected"));
    f.type("/");
    EXPECT_EQ(f.state.input, "splicer") << "the filter opens for editing";
    f.key({Key::Backspace});
    EXPECT_EQ(f.state.input, "splice");
    f.key({Key::Escape});  // cancels: the filter stays
    EXPECT_EQ(f.state.filter.comm, "splicer");

    f.filter("pid:x");
    EXPECT_EQ(f.state.filter.comm, "splicer") << "a bad filter leaves the old one";
    EXPECT_TRUE(has(f.screen().lines.back().text, "filter: not a pid: 'x'"));

    f.filter("nobody");
    EXPECT_TRUE(has(f.screen().text(), "no holder matches the filter 'nobody'"));

    f.filter("300");
    ASSERT_EQ(f.table_rows().size(), 1u);
    EXPECT_TRUE(has(f.table_rows()[0], "300 splicer"));

    f.filter("");
    EXPECT_TRUE(f.state.filter.empty());
    EXPECT_EQ(f.table_rows().size(), 3u);
}

TEST(TopScreen, FilterTextNamesAPidACgroupOrACommand)
{
    EXPECT_EQ(parse_filter("4242").value().pid, 4242u);
    EXPECT_EQ(parse_filter("pid:7").value().pid, 7u);
    EXPECT_EQ(parse_filter("/machine.slice").value().cgroup, "/machine.slice");
    EXPECT_EQ(parse_filter("cgroup:1234").value().cgroup, "1234");
    EXPECT_EQ(parse_filter(" qemu-kvm ").value().comm, "qemu-kvm");
    EXPECT_EQ(parse_filter("comm:1234").value().comm, "1234");
    EXPECT_TRUE(parse_filter("").value().empty());
    EXPECT_FALSE(parse_filter("pid:99999999999"));
    EXPECT_FALSE(parse_filter("a-command-name-too-long"));
}

TEST(TopScreen, DetailShowsStacksPfnRangesAndHowLongEachIsHeld)
{
    Fixture f;
    f.key({Key::Down});  // iouring
    f.key({Key::Enter});
    ASSERT_EQ(f.state.mode, Mode::Detail);
    std::string text = f.screen(120, 40).text();
    EXPECT_TRUE(has(text, "pid 100 (iouring), cgroup 0")) << text;
    EXPECT_TRUE(has(text, "holds 8 page(s), 8 long-term")) << text;
    EXPECT_TRUE(has(text, "io_uring fixed buffers")) << text;
    EXPECT_TRUE(has(text, "    try_grab_page+0x10\n    io_sqe_buffer_register+0x63")) << text;
    EXPECT_TRUE(has(text, "PFN RANGES HELD (1)")) << text;
    // Held from 1 ms on, until the last event at 100 ms.
    EXPECT_TRUE(has(text, "0x1000-0x1007")) << text;
    EXPECT_TRUE(has(text, "99 ms")) << text;

    f.key({Key::Escape});
    EXPECT_EQ(f.state.mode, Mode::Table);
    EXPECT_FALSE(f.state.quit) << "Esc leaves the detail view, not top";
    f.key({Key::Escape});
    EXPECT_TRUE(f.state.quit);
}

TEST(TopScreen, PfnRangesSplitWhereAPageIsNotHeld)
{
    Explainer ex(test::sample_info());
    for (uint64_t pfn : {0x10, 0x11, 0x12, 0x14, 0x15}) ex.consume(grab(pfn * kMs, 1, pfn, kLongPin, 1, "p"));
    ex.consume(grab(0x20 * kMs, 2, 0x13, kLongPin, 1, "other"));
    ex.flush();
    Report r = ex.snapshot();
    auto rows = pinner_rows(r, {});
    auto p = std::find_if(rows.begin(), rows.end(), [](const PinnerRow& row) { return row.key == "1"; });
    ASSERT_NE(p, rows.end());
    auto held = ex.held_ranges(p->owners);
    ASSERT_EQ(held.size(), 2u);
    EXPECT_EQ(held[0].start, 0x10u);
    EXPECT_EQ(held[0].end, 0x13u);
    EXPECT_EQ(held[0].oldest_ns, 0x10 * kMs);
    EXPECT_EQ(held[0].newest_ns, 0x12 * kMs);
    EXPECT_EQ(held[1].start, 0x14u);
    EXPECT_EQ(held[1].pins, 2u);
}

TEST(TopScreen, PauseHelpAndQuitKeys)
{
    Fixture f;
    f.key(Key::of('p'));
    EXPECT_TRUE(f.state.paused);
    EXPECT_TRUE(has(f.screen().lines[0].text, "[PAUSED]"));
    f.key(Key::of(' '));
    EXPECT_FALSE(f.state.paused);
    for (Key k : {Key::of('h'), Key::of('?'), Key{Key::Help}}) {
        f.key(k);
        ASSERT_EQ(f.state.mode, Mode::Help);
        EXPECT_TRUE(has(f.screen(120, 40).text(),
                        "s, F6            sort by: pages, longterm, oldest, pins, rate, pid, comm, cgroup"));
        f.key(Key::of('x'));
        EXPECT_EQ(f.state.mode, Mode::Table);
    }
    f.key(Key::of('q'));
    EXPECT_TRUE(f.state.quit);
    Fixture g;
    g.type("/q");  // typed into the filter, not a quit
    EXPECT_FALSE(g.state.quit);
    g.key({Key::Interrupt});  // Ctrl-C quits from anywhere
    EXPECT_TRUE(g.state.quit);
}

TEST(TopScreen, HelpSaysWhatADegradedCaptureCannotSee)
{
    Fixture f;
    f.report.info = test::sample_info(false);
    std::string first = f.screen().lines[1].text;
    EXPECT_TRUE(has(first, "DEGRADED, 1 of 4 attach points missing")) << first;
    EXPECT_TRUE(has(first, "(migrate_pages)")) << first;
    f.key(Key::of('h'));
    std::string help = f.screen(120, 40).text();
    EXPECT_TRUE(has(help, "which pages failed is unknown")) << help;
}

TEST(TopScreen, NarrowTerminalKeepsWhoHoldsWhatAndNoLineOverflows)
{
    Fixture f;
    Screen s = f.screen(50, 12);
    ASSERT_EQ(s.lines.size(), 12u);
    for (const auto& l : s.lines) EXPECT_LE(l.text.size(), 50u) << l.text;
    std::string titles = s.lines[4].text;
    for (const char* c : {"PID", "COMM", "PAGES", "LONGTERM"}) EXPECT_TRUE(has(titles, c)) << titles;
    EXPECT_FALSE(has(titles, "CGROUP")) << titles;
    // The table still has a row, and the failures panel a line.
    EXPECT_TRUE(has(s.text(), ">     200 dio")) << s.text();
    EXPECT_TRUE(has(s.text(), "RECENT FAILURES")) << s.text();
    // Tiny terminals do not crash either.
    for (int w : {1, 5}) EXPECT_EQ(f.screen(w, 3).lines.size(), 3u);
}

TEST(TopScreen, NoColorKeepsSelectionAndBarsVisible)
{
    EXPECT_FALSE(colors_wanted("1", true));
    EXPECT_TRUE(colors_wanted("", true)) << "NO_COLOR set but empty does not count";
    EXPECT_TRUE(colors_wanted(nullptr, true));
    EXPECT_FALSE(colors_wanted(nullptr, false));
    for (Style st : {Style::Normal, Style::Title, Style::Warning, Style::ColumnHeader, Style::Selected, Style::Failure,
                     Style::Dim, Style::StatusBar}) {
        Appearance a = appearance(st, false);
        EXPECT_EQ(a.fg, Color::Default);
        EXPECT_EQ(a.bg, Color::Default);
    }
    EXPECT_TRUE(appearance(Style::Selected, false).reverse);
    EXPECT_TRUE(appearance(Style::ColumnHeader, false).reverse);
    EXPECT_TRUE(appearance(Style::Failure, false).bold);
    EXPECT_EQ(appearance(Style::Selected, true).bg, Color::Cyan);
    EXPECT_EQ(appearance(Style::Failure, true).fg, Color::Red);
    // The marker shows the selection even where attributes do not survive
    // (a screen reader, a copy of the screen).
    Fixture f;
    EXPECT_TRUE(has(f.screen().text(), "\n>     200 dio"));
}

TEST(TopScreen, BatchLayoutListsEverythingWithoutStatusOrSelection)
{
    Fixture f;
    Layout batch{120, 0};
    Screen s = build_screen(f.report, f.src, f.state, f.rows, {}, batch);
    std::string text = s.text();
    EXPECT_FALSE(has(text, "F1/h Help"));
    EXPECT_FALSE(has(text, "> "));
    EXPECT_TRUE(has(text, "    200 dio")) << text;
    EXPECT_TRUE(has(text, "    300 splicer")) << text;
}

TEST(TopJson, OneLineWithTheHoldersRowsOfReportsJson)
{
    Fixture f;
    std::string line = snapshot_json(f.report, f.src, f.state, f.rows);
    ASSERT_EQ(line.find('\n'), line.size() - 1) << "one object per line";
    boost::property_tree::ptree j;
    std::istringstream in(line);
    boost::property_tree::read_json(in, j);
    EXPECT_EQ(j.get<std::string>("schema"), "pintrace.top/1");
    EXPECT_EQ(j.get<std::string>("source"), "replay sample.trace at 1x");
    EXPECT_EQ(j.get<uint64_t>("failures_total"), 1u);
    bool found = false;
    for (const auto& [_, row] : j.get_child("pinners"))
        if (row.get<uint32_t>("pid") == 100) {
            found = true;
            EXPECT_EQ(row.get<uint64_t>("longterm_pages"), 8u);
            EXPECT_EQ(row.get<std::string>("origin"), "io_uring_fixed_buffers");
        }
    EXPECT_TRUE(found) << line;
    const auto& failure = j.get_child("recent_failures").front().second;
    EXPECT_EQ(failure.get<uint32_t>("pid"), 400u);
    EXPECT_TRUE(has(failure.get<std::string>("explanation"), "held by pid 100 (iouring)"));
}

// A trace of pid 4242's pins spread over 300 ms.
std::string write_paced_trace()
{
    std::string path = ::testing::TempDir() + "/top_paced.trace";
    auto w = TraceWriter::create(path, test::sample_info());
    EXPECT_TRUE(w);
    uint32_t pin = test::k61Pin | test::k61Longterm;
    for (uint64_t i = 0; i <= 6; ++i)
        EXPECT_TRUE(w->append_kernel_record(test::raw_grab(1000 + i * 50 * kMs, 4242, 0x100 + i, pin)));
    EXPECT_TRUE(w->finish(FinishEvent{1000 + 300 * kMs, 0, 0, StopReason::Duration, -1}));
    return path;
}

double replay_seconds(const std::string& path, double speed, uint64_t* events, const EventSource::Tick& tick)
{
    auto src = replay_source(TraceReader::open(path).value(), path, speed, false);
    auto t0 = std::chrono::steady_clock::now();
    EXPECT_TRUE(src->run([&](const Event&) { ++*events; }, tick));
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

TEST(TopReplay, PacesEventsAtTheRecordedSpeedOrFaster)
{
    std::string path = write_paced_trace();
    uint64_t n = 0;
    unsigned ticks = 0;
    double at_1x = replay_seconds(path, 1, &n, [&] { return ++ticks, true; });
    EXPECT_EQ(n, 8u);
    EXPECT_GE(at_1x, 0.29);
    EXPECT_GE(ticks, 2u) << "the view gets its ticks while the replay waits";
    n = 0;
    EXPECT_LT(replay_seconds(path, 4, &n, [] { return true; }), 0.2);
    EXPECT_EQ(n, 8u);
    n = 0;
    EXPECT_LT(replay_seconds(path, 0, &n, [] { return true; }), 0.05);
    n = 0;
    // The view quitting stops the replay at the next tick.
    replay_seconds(path, 1, &n, [] { return false; });
    EXPECT_LT(n, 8u);
}

}  // namespace
}  // namespace pintrace::top
