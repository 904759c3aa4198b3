#include "top/screen.hpp"

#include <algorithm>
#include <charconv>
#include <cstdio>

#include "events/gup_flags.hpp"
#include "render/attach_table.hpp"
#include "render/format.hpp"
#include "render/ledger_views.hpp"
#include "render/report_views.hpp"

namespace pintrace::top {
namespace {

constexpr size_t kHeaderLines = 4;

bool all_digits(std::string_view s)
{
    return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

size_t columns_of(std::string_view s)
{
    return static_cast<size_t>(std::count_if(s.begin(), s.end(), [](char c) { return (c & 0xc0) != 0x80; }));
}

std::string pad(std::string_view s, size_t width, bool right)
{
    std::string cut = fit(s, width);
    std::string fill(width - columns_of(cut), ' ');
    return right ? fill + cut : cut + fill;
}

std::vector<std::string> split_lines(const std::string& text)
{
    std::vector<std::string> out;
    size_t start = 0;
    while (start < text.size()) {
        size_t end = text.find('\n', start);
        if (end == std::string::npos) end = text.size();
        out.push_back(text.substr(start, end - start));
        start = end + 1;
    }
    return out;
}

std::string rate_text(double per_s)
{
    char buf[32];
    std::snprintf(buf, sizeof buf, per_s >= 10 ? "%.0f" : "%.1f", per_s);
    return buf;
}

// Rows of the recent-failures panel, the failures and the newest one's advice.
size_t failure_panel_lines(const Layout& layout)
{
    if (!layout.height) return 0;  // batch: as many as there are
    return layout.height < 14 ? 2 : 1 + layout.failures;
}

size_t table_rows_for(const Layout& layout)
{
    size_t fixed = kHeaderLines + 1 /* column titles */ + failure_panel_lines(layout) + 1 /* status */;
    return size_t(layout.height) > fixed ? size_t(layout.height) - fixed : 1;
}

// The selected row's index in rows, or rows.size() when nothing is selected.
size_t selected_index(const TopState& s, std::span<const PinnerRow> rows)
{
    if (rows.empty()) return 0;
    return std::min(s.selected, rows.size() - 1);
}

size_t first_visible(const TopState& s, size_t selected, size_t page)
{
    size_t first = s.scroll;
    if (selected < first) first = selected;
    if (selected >= first + page) first = selected + 1 - page;
    return first;
}

void header(std::vector<Line>& out, const Report& r, const SourceStatus& src, const TopState& s)
{
    std::string title = "pintrace top - kernel " + r.info.get("kernel_release", "?") + " on " +
                        r.info.get("hostname", "?") + " - " + src.mode;
    if (src.ended) title += " (ended)";
    if (r.end_ns) title += " - " + format_clock(r, r.end_ns);
    if (s.paused) title += "  [PAUSED]";
    out.push_back({title, Style::Title});

    // Pairing keeps short-lived pins out of every column: said, not hidden.
    std::string paired;
    if (const PairingMode* m = pairing_mode(r); m && !m->complete)
        paired = "; pins released within " + pairing_threshold(r) +
                 " are paired in the kernel, not counted";
    if (r.capture_complete()) {
        out.push_back({"capture: complete (" + std::to_string(r.info.attach.size()) + " attach points)" + paired});
    } else {
        std::string missing;
        for (const auto& a : r.info.attach)
            if (!a.attached()) missing += (missing.empty() ? "" : ", ") + a.target;
        out.push_back({"capture: DEGRADED, " + std::to_string(missing_attach_points(r.info.attach)) + " of " +
                           std::to_string(r.info.attach.size()) +
                           " attach points missing, what they see is not shown (" + missing + "); h: what each hides",
                       Style::Warning});
    }

    std::string stats = "events: " + std::to_string(src.events) + " (" + rate_text(src.events_per_s) +
                        "/s)  lost: " + std::to_string(r.lost_total) + "  BPF cost: ";
    if (src.bpf_known) {
        char buf[128];
        std::snprintf(buf, sizeof buf, "%.0f ns/run, %.2f%% of a CPU (%llu runs)", src.bpf_ns_per_run,
                      src.bpf_cpu_fraction * 100, static_cast<unsigned long long>(src.bpf_runs));
        stats += buf;
    } else {
        stats += src.bpf_note.empty() ? "unknown" : src.bpf_note;
    }
    out.push_back({stats, r.lost_total ? Style::Warning : Style::Normal});
    out.push_back({report_summary(r), r.failures.empty() ? Style::Normal : Style::Failure});
}

struct Column {
    const char* title;
    size_t width;  // 0: the rest of the line
    bool right;
    int priority;  // the lowest go first when the terminal is narrow
    SortKey key;
    bool sortable;
};

// PID, COMM, PAGES and LONGTERM stay on any terminal: they answer "who holds the most long-term pins".
constexpr Column kColumns[] = {
    {"PID", 7, true, 9, SortKey::Pid, true},           {"COMM", 15, false, 8, SortKey::Comm, true},
    {"CGROUP", 22, false, 1, SortKey::Cgroup, true},   {"PAGES", 9, true, 7, SortKey::Pages, true},
    {"LONGTERM", 9, true, 6, SortKey::Longterm, true}, {"PINS", 9, true, 2, SortKey::Pins, true},
    {"OLDEST", 9, true, 5, SortKey::Oldest, true},     {"PINS/S", 8, true, 4, SortKey::Rate, true},
    {"WHO / HOW", 0, false, 3, SortKey::Pages, false},
};
constexpr size_t kNumColumns = sizeof kColumns / sizeof kColumns[0];

std::vector<size_t> columns_that_fit(size_t width)
{
    std::vector<size_t> shown(kNumColumns);
    for (size_t i = 0; i < kNumColumns; ++i) shown[i] = i;
    auto need = [&] {
        size_t w = 2;  // selection marker
        for (size_t i : shown) w += (kColumns[i].width ? kColumns[i].width : 12) + 1;
        return w;
    };
    while (need() > width && shown.size() > 4) {
        auto lowest = std::min_element(shown.begin(), shown.end(),
                                       [](size_t a, size_t b) { return kColumns[a].priority < kColumns[b].priority; });
        shown.erase(lowest);
    }
    return shown;
}

std::string table_line(const std::vector<size_t>& shown, const std::vector<std::string>& cells, std::string marker)
{
    std::string line = std::move(marker);
    for (size_t i : shown) {
        const Column& c = kColumns[i];
        line += c.width ? pad(cells[i], c.width, c.right) + " " : cells[i];
    }
    return line;
}

void table(std::vector<Line>& out, const Report& r, const TopState& s, std::span<const PinnerRow> rows,
           const Layout& layout)
{
    auto shown = columns_that_fit(layout.width);
    std::vector<std::string> titles;
    for (const auto& c : kColumns)
        titles.push_back(std::string(c.title) + (c.sortable && c.key == s.sort.front() ? "*" : ""));
    bool batch = layout.height == 0;
    out.push_back({table_line(shown, titles, batch ? "" : "  "), Style::ColumnHeader});

    size_t page = batch ? rows.size() : table_rows_for(layout);
    size_t selected = selected_index(s, rows);
    size_t first = batch ? 0 : first_visible(s, selected, page);
    size_t last = std::min(rows.size(), first + page);
    // The shared holders table words PAGES .. WHO / HOW as report does.
    std::vector<PinnerRow> visible(rows.begin() + std::ptrdiff_t(first), rows.begin() + std::ptrdiff_t(last));
    Table shared = pinners_table(r, visible, GroupBy::Pid, 0);
    for (size_t i = 0; i < visible.size(); ++i) {
        const PinnerRow& row = visible[i];
        const auto& t = shared.rows[i];  // PID PAGES LONGTERM HELD-FOR PINS/S WHO
        std::vector<std::string> cells{
            t[0], std::string(comm_view(row.task.comm)), row.cgroup, t[1], t[2], std::to_string(row.pins), t[3], t[4],
            t[5]};
        bool sel = !batch && first + i == selected && s.mode != Mode::SortMenu;
        out.push_back({table_line(shown, cells,
                                  batch ? "" :
                                  sel   ? "> " :
                                          "  "),
                       sel ? Style::Selected : Style::Normal});
    }
    if (rows.empty()) {
        std::string why = s.filter.empty() ? "no process holds pinned or referenced pages" :
                                             "no holder matches the filter '" + s.filter_text + "'";
        out.push_back({(batch ? "" : "  ") + why, Style::Dim});
    }
    if (!batch)
        while (out.size() < kHeaderLines + 1 + page) out.push_back({});
}

void failures_panel(std::vector<Line>& out, const Report& r, const TopState& s, const Layout& layout)
{
    FailureFilter filter;
    filter.holders = s.filter;
    std::vector<const Failure*> selected;
    for (const auto& f : r.failures)
        if (filter.matches(r, f)) selected.push_back(&f);
    std::string title = "RECENT FAILURES (" + std::to_string(selected.size()) + (s.filter.empty() ? "" : " selected") +
                        ", newest first)";
    out.push_back({title, Style::ColumnHeader});
    size_t room = layout.height ? failure_panel_lines(layout) - 1 : selected.size() + 1;
    size_t start = out.size();
    if (selected.empty()) out.push_back({"  no migration failure so far", Style::Dim});
    for (auto it = selected.rbegin(); it != selected.rend() && out.size() - start < room; ++it) {
        const Failure& f = **it;
        out.push_back({format_clock(r, f.head.ts_ns) + " " + failure_sentence(r, f), Style::Failure});
        if (it == selected.rbegin()) {
            auto steps = next_steps(r, f);
            if (!steps.empty() && out.size() - start < room) out.push_back({"    next: " + steps.front()});
        }
    }
    if (layout.height)
        while (out.size() - start < room) out.push_back({});
}

std::string status_bar(const TopState& s)
{
    if (s.mode == Mode::FilterInput)
        return "Filter (PID, command name, /cgroup; empty clears; Enter applies, Esc cancels): " + s.input + "_";
    std::string bar;
    switch (s.mode) {
    case Mode::Table: bar = "F1/h Help  Enter Detail  F6/s Sort  / Filter  p Pause  q Quit"; break;
    case Mode::Detail: bar = "Up/Down Scroll  Esc/q/Enter Back  p Pause  Ctrl-C Quit"; break;
    case Mode::SortMenu: bar = "Up/Down Choose  Enter Sort  Esc Cancel"; break;
    case Mode::Help: bar = "Up/Down Scroll  any other key: Back"; break;
    case Mode::FilterInput: break;
    }
    std::string sort;
    for (SortKey k : s.sort) sort += (sort.empty() ? "" : ",") + std::string(sort_key_name(k));
    bar += "   sort: " + sort;
    if (!s.filter.empty()) bar += "  filter: " + s.filter_text;
    if (s.paused) bar += "  [PAUSED]";
    if (!s.message.empty()) bar = s.message + "   " + bar;
    return bar;
}

void sort_menu(std::vector<Line>& body, const TopState& s)
{
    body.push_back({"SORT BY (the other keys break ties)", Style::ColumnHeader});
    for (size_t i = 0; i < sort_keys().size(); ++i) {
        const SortKeyInfo& key = sort_keys()[i];
        std::string name = pad(std::string(key.name), 9, false) + " " + std::string(key.description);
        if (key.key == s.sort.front()) name += "  (current)";
        bool at = i == s.menu_cursor;
        body.push_back({(at ? "> " : "  ") + name, at ? Style::Selected : Style::Normal});
    }
}

void detail(std::vector<Line>& body, const Report& r, const TopState& s, std::span<const PinnerRow> rows,
            std::span<const HeldRange> held)
{
    auto it = std::find_if(rows.begin(), rows.end(), [&](const PinnerRow& row) { return row.key == s.selected_key; });
    if (it == rows.end()) {
        body.push_back({"pid " + s.selected_key + " holds nothing any more (or the filter hides it): Esc goes back",
                        Style::Warning});
        return;
    }
    const PinnerRow& row = *it;
    body.push_back(
        {pid_comm(row.task.tgid, comm_view(row.task.comm)) + (row.exe.empty() ? "" : " " + row.exe) + ", " + row.cgroup,
         Style::ColumnHeader});
    body.push_back({"holds " + std::to_string(row.pages) + " page(s), " + std::to_string(row.longterm_pages) +
                    " long-term, " + std::to_string(row.pins) + " pin(s)/reference(s); oldest held " +
                    (row.oldest_ns ? format_duration(r.end_ns - std::min(r.end_ns, row.oldest_ns)) : "-") + "; " +
                    rate_text(row.pins_per_s) + " pins/s (" + std::to_string(row.pins_taken) + " taken)"});
    body.push_back({"as " + flag_string(row.flags, " ") +
                    (row.origin != Origin::Unknown ? ": " + std::string(origin_description(row.origin)) : "")});
    if (row.all_exited && row.pages)
        body.push_back({"its process exited; the pins remain", Style::Warning});
    else if (row.all_exited)
        body.push_back({"its process exited, after releasing everything it held"});
    if (row.uncertain)
        body.push_back(
            {"UNCERTAIN: events were lost while it held pages; some may have been released unseen", Style::Warning});

    for (size_t i = 0; i < row.owners.size(); ++i) {
        const Owner& o = r.owner(row.owners[i]);
        if (!o.pages_held) continue;
        body.push_back({});
        body.push_back({"code path: " + flag_string(o.flags, " ") + ", " + std::to_string(o.pages_held) +
                            " page(s) now, first pin at " + format_clock(r, o.first_ns) + ", seen by " +
                            std::string(hook_name(o.hook)) + (o.stack_sampled ? " (stack sampled)" : ""),
                        Style::Title});
        auto kernel = r.kernel_frames(o.kstack), user = r.user_frames(o.ustack, o.task.tgid);
        body.push_back({"  kernel stack:" + std::string(kernel.empty() ? " not recorded" : "")});
        for (const auto& f : kernel) body.push_back({"    " + f});
        body.push_back({"  user stack:" + std::string(user.empty() ? " not recorded" : "")});
        for (const auto& f : user) body.push_back({"    " + f});
    }

    body.push_back({});
    body.push_back({"PFN RANGES HELD (" + std::to_string(held.size()) +
                        "): FIRST-LAST  PAGES  PINS  HELD FOR (oldest / newest pin)",
                    Style::ColumnHeader});
    for (const auto& h : held) {
        std::string range = format_pfn(h.start) + (h.end - h.start > 1 ? "-" + format_pfn(h.end - 1) : "");
        std::string age = format_duration(r.end_ns - std::min(r.end_ns, h.oldest_ns));
        std::string newest = format_duration(r.end_ns - std::min(r.end_ns, h.newest_ns));
        if (newest != age) age += " / " + newest;
        body.push_back({"  " + pad(range, 28, false) + pad(std::to_string(h.end - h.start), 7, true) +
                        pad(std::to_string(h.pins), 7, true) + "  " + age});
    }
}

void help(std::vector<Line>& body, const Report& r)
{
    // The sort keys from their table (explain/pinners.cpp), like the menu.
    const std::string sort_line = "  s, F6            sort by: " + sort_key_names();
    const char* text[] = {
        "PINTRACE TOP: who pins pages now, and why migrations fail",
        "",
        "  Up/Down, j/k     select a pinner        PgUp/PgDn, Home/End  page",
        "  Enter            its details: code paths (stacks), pfn ranges, how long each is held",
        sort_line.c_str(),
        "  /                filter: a PID, a command name, or a cgroup path (/system.slice/...)",
        "  p, Space         pause (the screen stops changing; recording goes on)",
        "  h, ?, F1         this help              q, Esc, Ctrl-C   quit",
        "",
        "COLUMNS",
        "  PAGES     pages the process holds pinned or referenced now",
        "  LONGTERM  of them, long-term pins (FOLL_LONGTERM: io_uring buffers, RDMA, VFIO): these block migration",
        "  PINS      pins and references outstanding (a page can hold several)",
        "  OLDEST    how long its oldest pin has been held",
        "  PINS/S    pins taken per second while pintrace watched",
        "  RECENT FAILURES  each failed migration / isolation / CMA allocation and who held its pages",
        "",
    };
    for (const char* t : text) body.push_back({t, t[0] && t[0] != ' ' ? Style::ColumnHeader : Style::Normal});
    if (r.capture_complete()) {
        body.push_back({"CAPTURE: every attach point is live on this kernel", Style::ColumnHeader});
        return;
    }
    body.push_back({"CAPTURE: what pintrace cannot see on this kernel", Style::ColumnHeader});
    for (auto& l : split_lines(render_attach_table(r.info.attach))) body.push_back({l});
}

}  // namespace

Result<HolderFilter> parse_filter(std::string_view text)
{
    HolderFilter f;
    while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
    while (!text.empty() && text.back() == ' ') text.remove_suffix(1);
    if (text.empty()) return f;
    auto value_of = [&](std::string_view prefix) -> std::optional<std::string_view> {
        if (!text.starts_with(prefix)) return std::nullopt;
        return text.substr(prefix.size());
    };
    if (auto v = value_of("pid:"); v || all_digits(text)) {
        std::string_view digits = v ? *v : text;
        uint32_t pid = 0;
        auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), pid);
        if (!all_digits(digits) || ec != std::errc() || end != digits.data() + digits.size())
            return make_error("not a pid: '" + std::string(digits) + "'");
        f.pid = pid;
    } else if (auto c = value_of("cgroup:"); c || text.front() == '/') {
        f.cgroup = std::string(c ? *c : text);
        if (f.cgroup.empty()) return make_error("cgroup: needs a path or an id");
    } else {
        std::string_view comm = value_of("comm:").value_or(text);
        if (comm.empty() || comm.size() >= PT_COMM_LEN)
            return make_error("command names are 1 to " + std::to_string(PT_COMM_LEN - 1) +
                              " characters (the kernel's TASK_COMM_LEN)");
        f.comm = std::string(comm);
    }
    return f;
}

PinnerQuery query_of(const TopState& s)
{
    PinnerQuery q;
    q.filter = s.filter;
    q.group_by = GroupBy::Pid;
    q.sort = s.sort;
    return q;
}

void follow_selection(TopState& s, std::span<const PinnerRow> rows)
{
    if (rows.empty()) {
        s.selected = 0;
        return;
    }
    auto it = std::find_if(rows.begin(), rows.end(), [&](const PinnerRow& r) { return r.key == s.selected_key; });
    if (it != rows.end()) {
        s.selected = size_t(it - rows.begin());
    } else {
        // Gone (released everything, filtered out): the row now at its place.
        s.selected = std::min(s.selected, rows.size() - 1);
        if (s.mode != Mode::Detail) s.selected_key = rows[s.selected].key;
    }
}

namespace {

void select(TopState& s, std::span<const PinnerRow> rows, size_t index, size_t page)
{
    if (rows.empty()) return;
    s.selected = std::min(index, rows.size() - 1);
    s.selected_key = rows[s.selected].key;
    s.scroll = first_visible(s, s.selected, std::max<size_t>(page, 1));
}

bool is(const Key& k, char32_t c) { return k.kind == Key::Char && k.ch == c; }

}  // namespace

void handle_key(TopState& s, const Key& k, std::span<const PinnerRow> rows, size_t page)
{
    s.message.clear();
    if (k.kind == Key::Interrupt) {
        s.quit = true;
        return;
    }
    if (k.kind == Key::Resize) return;
    switch (s.mode) {
    case Mode::FilterInput:
        if (k.kind == Key::Escape) {
            s.mode = Mode::Table;
        } else if (k.kind == Key::Enter) {
            auto f = parse_filter(s.input);
            s.mode = Mode::Table;
            if (!f) {
                s.message = "filter: " + f.error().message;
                return;
            }
            s.filter = f.value();
            s.filter_text = s.filter.empty() ? "" : s.input;
            s.selected = s.scroll = 0;
            s.selected_key.clear();
        } else if (k.kind == Key::Backspace) {
            // Whole UTF-8 characters.
            while (!s.input.empty() && (s.input.back() & 0xc0) == 0x80) s.input.pop_back();
            if (!s.input.empty()) s.input.pop_back();
        } else if (k.kind == Key::Char && k.ch >= 0x20 && k.ch < 0x7f) {
            s.input += char(k.ch);
        }
        return;
    case Mode::SortMenu:
        if (k.kind == Key::Up || is(k, 'k'))
            s.menu_cursor = s.menu_cursor ? s.menu_cursor - 1 : 0;
        else if (k.kind == Key::Down || is(k, 'j'))
            s.menu_cursor = std::min(s.menu_cursor + 1, sort_keys().size() - 1);
        else if (k.kind == Key::Enter) {
            SortKey key = sort_keys()[s.menu_cursor].key;
            s.sort = {key, key == SortKey::Pages ? SortKey::Longterm : SortKey::Pages};
            s.mode = Mode::Table;
        } else if (k.kind == Key::Escape || k.kind == Key::Sort || is(k, 'q') || is(k, 's'))
            s.mode = Mode::Table;
        return;
    case Mode::Help:
        if (k.kind == Key::Up || is(k, 'k'))
            s.detail_scroll = s.detail_scroll ? s.detail_scroll - 1 : 0;
        else if (k.kind == Key::Down || is(k, 'j'))
            ++s.detail_scroll;
        else
            s.mode = Mode::Table;
        return;
    case Mode::Detail:
        if (k.kind == Key::Up || is(k, 'k'))
            s.detail_scroll = s.detail_scroll ? s.detail_scroll - 1 : 0;
        else if (k.kind == Key::Down || is(k, 'j'))
            ++s.detail_scroll;
        else if (k.kind == Key::PageUp)
            s.detail_scroll -= std::min(s.detail_scroll, page);
        else if (k.kind == Key::PageDown)
            s.detail_scroll += page;
        else if (k.kind == Key::Home)
            s.detail_scroll = 0;
        else if (k.kind == Key::Escape || k.kind == Key::Enter || is(k, 'q'))
            s.mode = Mode::Table;
        else if (is(k, 'p') || is(k, ' '))
            s.paused = !s.paused;
        return;
    case Mode::Table: break;
    }
    if (k.kind == Key::Escape || is(k, 'q'))
        s.quit = true;
    else if (k.kind == Key::Up || is(k, 'k'))
        select(s, rows, s.selected ? s.selected - 1 : 0, page);
    else if (k.kind == Key::Down || is(k, 'j'))
        select(s, rows, s.selected + 1, page);
    else if (k.kind == Key::PageUp)
        select(s, rows, s.selected - std::min(s.selected, page), page);
    else if (k.kind == Key::PageDown)
        select(s, rows, s.selected + page, page);
    else if (k.kind == Key::Home || is(k, 'g'))
        select(s, rows, 0, page);
    else if (k.kind == Key::End || is(k, 'G'))
        select(s, rows, rows.empty() ? 0 : rows.size() - 1, page);
    else if (k.kind == Key::Enter) {
        if (rows.empty()) return;
        select(s, rows, s.selected, page);
        s.mode = Mode::Detail;
        s.detail_scroll = 0;
    } else if (k.kind == Key::Sort || is(k, 's')) {
        s.mode = Mode::SortMenu;
        auto keys = sort_keys();
        s.menu_cursor = size_t(
            std::find_if(keys.begin(), keys.end(), [&](const SortKeyInfo& k) { return k.key == s.sort.front(); }) -
            keys.begin());
    } else if (is(k, '/')) {
        s.mode = Mode::FilterInput;
        s.input = s.filter_text;
    } else if (is(k, 'p') || is(k, ' '))
        s.paused = !s.paused;
    else if (k.kind == Key::Help || is(k, 'h') || is(k, '?')) {
        s.mode = Mode::Help;
        s.detail_scroll = 0;
    }
}

size_t table_page(const Report&, const Layout& layout) { return table_rows_for(layout); }

Screen build_screen(const Report& r, const SourceStatus& src, const TopState& s, std::span<const PinnerRow> rows,
                    std::span<const HeldRange> held, const Layout& layout)
{
    Screen screen;
    auto& out = screen.lines;
    header(out, r, src, s);
    bool batch = layout.height == 0;
    if (batch || s.mode == Mode::Table || s.mode == Mode::FilterInput || s.mode == Mode::SortMenu) {
        std::vector<Line> menu;
        if (!batch && s.mode == Mode::SortMenu) sort_menu(menu, s);
        table(out, r, s, rows, layout);
        // The menu covers the top of the table, as htop's setup panels do.
        for (size_t i = 0; i < menu.size() && kHeaderLines + 1 + i < out.size(); ++i)
            out[kHeaderLines + 1 + i] = menu[i];
        failures_panel(out, r, s, layout);
    } else {
        std::vector<Line> body;
        if (s.mode == Mode::Detail)
            detail(body, r, s, rows, held);
        else
            help(body, r);
        size_t room = size_t(layout.height) > kHeaderLines + 1 ? size_t(layout.height) - kHeaderLines - 1 : 0;
        size_t first = std::min(s.detail_scroll, body.size() > room ? body.size() - room : 0);
        for (size_t i = first; i < body.size() && out.size() < kHeaderLines + room; ++i) out.push_back(body[i]);
    }
    if (!batch) {
        out.resize(std::max<size_t>(layout.height, 1) - 1);
        out.push_back({status_bar(s), s.message.empty() ? Style::StatusBar : Style::Warning});
    }
    for (auto& l : out) l.text = fit(l.text, size_t(std::max(layout.width, 1)));
    return screen;
}

std::string Screen::text() const
{
    std::string out;
    for (const auto& l : lines) {
        std::string t = l.text;
        while (!t.empty() && t.back() == ' ') t.pop_back();
        out += t + "\n";
    }
    while (out.size() >= 2 && out[out.size() - 1] == '\n' && out[out.size() - 2] == '\n') out.pop_back();
    return out;
}

Appearance appearance(Style style, bool colors)
{
    Appearance a;
    switch (style) {
    case Style::Normal:
    case Style::Dim: break;
    case Style::Title: a.bold = true; break;
    case Style::Warning:
        a.bold = true;
        if (colors) a.fg = Color::Yellow;
        break;
    case Style::Failure:
        if (colors)
            a.fg = Color::Red;
        else
            a.bold = true;
        break;
    case Style::ColumnHeader:
        if (colors)
            a.bg = Color::Green;
        else
            a.reverse = true;
        break;
    case Style::Selected:
        if (colors)
            a.bg = Color::Cyan;
        else
            a.reverse = a.bold = true;
        break;
    case Style::StatusBar:
        if (colors)
            a.bg = Color::Cyan;
        else
            a.reverse = true;
        break;
    }
    return a;
}

bool colors_wanted(const char* no_color_env, bool terminal_has_colors)
{
    if (no_color_env && *no_color_env) return false;
    return terminal_has_colors;
}

std::string fit(std::string_view text, size_t width)
{
    size_t cols = 0, i = 0;
    for (; i < text.size(); ++i) {
        if ((text[i] & 0xc0) == 0x80) continue;
        if (cols == width) break;
        ++cols;
    }
    std::string out(text.substr(0, i));
    for (auto& c : out)
        if (c == '\t' || c == '\n' || c == '\r') c = ' ';
    return out;
}

}  // namespace pintrace::top
