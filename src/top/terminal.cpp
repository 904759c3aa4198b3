#include "top/terminal.hpp"

#include <unistd.h>

#include <clocale>
#include <cstdlib>
#include <string>

namespace pintrace::top {
namespace {

short curses_color(Color c)
{
    switch (c) {
    case Color::Default: return -1;
    case Color::Red: return COLOR_RED;
    case Color::Yellow: return COLOR_YELLOW;
    case Color::Green: return COLOR_GREEN;
    case Color::Cyan: return COLOR_CYAN;
    }
    return -1;
}

// Pair n + 1 for fg/bg index n: every combination appearance() can return.
constexpr Color kColors[] = {Color::Default, Color::Red, Color::Yellow, Color::Green, Color::Cyan};
constexpr short kNumColors = 5;

short pair_of(const Appearance& a) { return short(1 + short(a.fg) * kNumColors + short(a.bg)); }

attr_t attributes(const Appearance& a, bool colors)
{
    attr_t attr = A_NORMAL;
    if (a.bold) attr |= A_BOLD;
    if (a.reverse) attr |= A_REVERSE;
    if (a.underline) attr |= A_UNDERLINE;
    if (colors && (a.fg != Color::Default || a.bg != Color::Default)) attr |= COLOR_PAIR(pair_of(a));
    return attr;
}

Key key_of(int ch)
{
    switch (ch) {
    case KEY_UP: return {Key::Up};
    case KEY_DOWN: return {Key::Down};
    case KEY_PPAGE: return {Key::PageUp};
    case KEY_NPAGE: return {Key::PageDown};
    case KEY_HOME: return {Key::Home};
    case KEY_END: return {Key::End};
    case KEY_ENTER:
    case '\n':
    case '\r': return {Key::Enter};
    case 27: return {Key::Escape};
    case KEY_BACKSPACE:
    case 127:
    case 8: return {Key::Backspace};
    case KEY_RESIZE: return {Key::Resize};
    case 3: return {Key::Interrupt};
    }
    if (ch == KEY_F(1)) return {Key::Help};
    if (ch == KEY_F(6)) return {Key::Sort};
    return Key::of(char32_t(ch));
}

}  // namespace

void init_color_pairs()
{
    for (Color fg : kColors)
        for (Color bg : kColors) {
            // Text on a colored bar is black, as in htop.
            short f = bg != Color::Default && fg == Color::Default ? COLOR_BLACK : curses_color(fg);
            init_pair(pair_of({false, false, false, fg, bg}), f, curses_color(bg));
        }
}

Result<std::unique_ptr<Terminal>> Terminal::open()
{
    if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO)) return make_error("not a terminal");
    const char* term = std::getenv("TERM");
    if (!term || !*term) return make_error("TERM is not set");
    std::setlocale(LC_ALL, "");
    // newterm, unlike initscr, returns an error instead of exiting.
    SCREEN* screen = newterm(nullptr, stdout, stdin);
    if (!screen) return make_error(std::string("unknown terminal type '") + term + "' (no terminfo entry)");
    cbreak();  // Ctrl-C still raises SIGINT: top's handler ends the loop cleanly
    noecho();
    keypad(stdscr, TRUE);
    set_escdelay(25);
    curs_set(0);
    bool colors = colors_wanted(std::getenv("NO_COLOR"), has_colors());
    if (colors) {
        start_color();
        use_default_colors();
        init_color_pairs();
    }
    return std::unique_ptr<Terminal>(new Terminal(screen, colors));
}

Terminal::~Terminal()
{
    endwin();
    delscreen(screen_);
}

Layout Terminal::layout() const
{
    Layout l;
    l.width = COLS;
    l.height = LINES;
    return l;
}

std::vector<Key> Terminal::read_keys(int wait_ms)
{
    std::vector<Key> keys;
    timeout(wait_ms);
    for (int ch = getch(); ch != ERR; ch = getch()) {
        keys.push_back(key_of(ch));
        timeout(0);
    }
    return keys;
}

void Terminal::paint(const Screen& screen)
{
    paint_window(stdscr, screen, colors_);
    refresh();
}

void paint_window(WINDOW* w, const Screen& screen, bool colors)
{
    werase(w);
    int rows = getmaxy(w), cols = getmaxx(w);
    for (int y = 0; y < rows && size_t(y) < screen.lines.size(); ++y) {
        const Line& line = screen.lines[size_t(y)];
        Appearance a = appearance(line.style, colors);
        attr_t attr = attributes(a, colors);
        wattrset(w, attr);
        mvwaddnstr(w, y, 0, line.text.c_str(), int(line.text.size()));
        // Bars span the whole width, as htop's do.
        if (a.reverse || a.bg != Color::Default)
            for (int x = getcurx(w); x < cols && getcury(w) == y; ++x) waddch(w, ' ');
        wattrset(w, A_NORMAL);
    }
}

}  // namespace pintrace::top
