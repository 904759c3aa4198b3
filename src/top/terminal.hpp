// The ncurses side of top: paints a Screen and turns key presses into
// Keys. Deliberately thin: what is on screen is decided in screen.cpp.
#pragma once

#include <curses.h>

#include <memory>
#include <vector>

#include "top/screen.hpp"
#include "util/result.hpp"

namespace pintrace::top {

class Terminal {
public:
    // Fails (one line saying why) when stdin/stdout is not a terminal or
    // the terminal type has no terminfo entry: top then prints batch output.
    static Result<std::unique_ptr<Terminal>> open();
    ~Terminal();
    Terminal(const Terminal&) = delete;
    Terminal& operator=(const Terminal&) = delete;

    Layout layout() const;
    // Keys pressed so far, waiting up to wait_ms for the first one.
    std::vector<Key> read_keys(int wait_ms);
    void paint(const Screen& screen);

private:
    Terminal(SCREEN* screen, bool colors) : screen_(screen), colors_(colors) {}
    SCREEN* screen_;
    bool colors_;
};

// Sets up the color pairs paint_window uses (after start_color()).
void init_color_pairs();
// Paints a screen into any window: the terminal, or an off-screen pad (the
// redraw benchmark).
void paint_window(WINDOW* w, const Screen& screen, bool colors);

}  // namespace pintrace::top
