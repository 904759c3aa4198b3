// pintrace top's screen as data: what the user chose (TopState), what the
// keys do to it, and the lines a screen of a given size shows. Everything
// here is pure (no terminal), so tests can read the screen a person would
// see; the ncurses layer only paints these lines.
//
// The numbers come from the same views as `report` (pinner_rows,
// failure_sentence, next_steps, report_summary): top adds layout, nothing
// else.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "explain/pinners.hpp"
#include "explain/report.hpp"

namespace pintrace::top {

enum class Mode { Table, Detail, SortMenu, FilterInput, Help };

struct TopState {
    Mode mode = Mode::Table;
    std::vector<SortKey> sort{SortKey::Pages, SortKey::Longterm};  // report's default order
    HolderFilter filter;
    std::string filter_text;  // as typed, shown in the status line
    // The selection follows a pinner (its row key), not a screen position:
    // rows move as the numbers change.
    std::string selected_key;
    size_t selected = 0;  // its index in the last rows, kept when the key vanishes
    size_t scroll = 0;  // first table row on screen
    size_t detail_scroll = 0;
    bool paused = false;
    bool quit = false;
    size_t menu_cursor = 0;  // sort menu
    std::string input;  // filter being typed
    std::string message;  // one-line feedback (bad filter), cleared by the next key
};

// Bare "1234" is a pid, "/..." a cgroup path, anything else a command name;
// "pid:", "comm:" and "cgroup:" say it explicitly. Empty clears the filter.
Result<HolderFilter> parse_filter(std::string_view text);

// The state's query over the ledger: the rows the table lists, in order.
PinnerQuery query_of(const TopState& s);

struct Key {
    enum Kind { Char, Up, Down, PageUp, PageDown, Home, End, Enter, Escape, Backspace, Help, Sort, Interrupt, Resize };
    Kind kind = Char;
    char32_t ch = 0;
    static Key of(char32_t c) { return {Char, c}; }
};

// Applies one key. rows are the rows on screen (the selection moves over
// them); page is how many table rows the screen shows.
void handle_key(TopState& s, const Key& k, std::span<const PinnerRow> rows, size_t page);
// After new rows arrive: the selection stays on the same pinner.
void follow_selection(TopState& s, std::span<const PinnerRow> rows);

// What the header says about where events come from.
struct SourceStatus {
    std::string mode;  // "live", "replay pins.trace at 2x"
    bool ended = false;  // the replay reached the end of the trace
    uint64_t events = 0;
    double events_per_s = 0;
    // pintrace's own BPF programs, over the last interval (live only).
    bool bpf_known = false;
    uint64_t bpf_runs = 0;
    double bpf_ns_per_run = 0;
    double bpf_cpu_fraction = 0;  // of one CPU
    std::string bpf_note;  // why it is unknown
};

enum class Style { Normal, Title, Warning, ColumnHeader, Selected, Failure, Dim, StatusBar };

struct Line {
    std::string text;
    Style style = Style::Normal;
};

// One screen: exactly height lines (or, in batch mode, height 0, as many
// as the content needs), none wider than width columns.
struct Screen {
    std::vector<Line> lines;
    std::string text() const;  // lines joined, trailing blanks trimmed
};

struct Layout {
    int width = 80;
    int height = 24;  // 0: batch (no paging, no selection, no status bar)
    size_t failures = 5;  // lines of the recent-failures panel
};

// held: the selected pinner's pages (Explainer::held_ranges), for the detail view.
Screen build_screen(const Report& r, const SourceStatus& src, const TopState& s, std::span<const PinnerRow> rows,
                    std::span<const HeldRange> held, const Layout& layout);
// Table rows the screen has room for (for paging keys).
size_t table_page(const Report& r, const Layout& layout);

// How a style looks: with colors, or (NO_COLOR, monochrome terminals) with
// bold and reverse only.
enum class Color { Default, Red, Yellow, Green, Cyan };
struct Appearance {
    bool bold = false;
    bool reverse = false;
    bool underline = false;
    Color fg = Color::Default;
    Color bg = Color::Default;
};
Appearance appearance(Style style, bool colors);
// NO_COLOR (https://no-color.org): set and not empty disables colors.
bool colors_wanted(const char* no_color_env, bool terminal_has_colors);

// Cuts text to width terminal columns (UTF-8 aware, no wide characters
// expected in what pintrace prints).
std::string fit(std::string_view text, size_t width);

}  // namespace pintrace::top
