// top's redraw benchmark (issue 5): a screen over 100 000 pinners holding
// 1 000 000 pages. Not a timed test: run it by hand, figures go to
// docs/performance.md.
//
//   bench_top_redraw [--pinners N] [--pages-each N] [--runs N]
//
// Times, median of the runs, one core:
//   snapshot  Explainer::snapshot(): the ledger walk each refresh does
//   redraw    what every refresh and key press does: the pinners rows
//             (sorted, filtered), the screen model, and painting it into an
//             off-screen ncurses pad of 200x60
// The last line is `redraw_ms=N`.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "explain/explainer.hpp"
#include "explain/pinners.hpp"
#include "top/screen.hpp"
#include "top/terminal.hpp"

using namespace pintrace;

namespace {

double ms_since(std::chrono::steady_clock::time_point t0)
{
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

double median(std::vector<double> v)
{
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv)
{
    uint64_t pinners = 100'000, pages_each = 10;
    int runs = 5;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (i + 1 >= argc)
            return std::fprintf(stderr, "usage: bench_top_redraw [--pinners N] [--pages-each N] [--runs N]\n"), 2;
        uint64_t v = std::strtoull(argv[++i], nullptr, 10);
        if (a == "--pinners")
            pinners = v;
        else if (a == "--pages-each")
            pages_each = v;
        else if (a == "--runs")
            runs = int(std::max<uint64_t>(v, 1));
        else
            return std::fprintf(stderr, "bench_top_redraw: unknown option %s\n", a.c_str()), 2;
    }

    TraceInfo info;
    info.meta = {{"kernel_release", "bench"}, {"hostname", "bench"}};
    Explainer ex(info);
    auto t0 = std::chrono::steady_clock::now();
    // Pages one at a time, as pin_user_pages() reports them; every tenth
    // pinner's pins are long-term, the rest short-term (two owners' kinds).
    for (uint64_t p = 0; p < pinners; ++p) {
        GrabEvent g;
        g.head.task.tgid = uint32_t(1000 + p);
        g.head.task.tid = g.head.task.tgid;
        g.head.task.cgroup_id = 100 + p % 64;
        std::snprintf(g.head.task.comm.data(), g.head.task.comm.size(), "worker%llu", (unsigned long long)(p % 997));
        g.flags = p % 10 == 0 ? kFlagPin | kFlagLongterm : uint32_t{kFlagPin};
        for (uint64_t i = 0; i < pages_each; ++i) {
            g.head.ts_ns = 1'000'000 + (p * pages_each + i) * 10;
            g.pfn = 0x100000 + p * (pages_each + 1) + i;  // a hole between pinners: one range each
            ex.consume(g);
        }
    }
    ex.flush();
    std::printf("built ledger: %llu pinners, %llu pages in %.0f ms\n", (unsigned long long)pinners,
                (unsigned long long)(pinners * pages_each), ms_since(t0));

    std::FILE* devnull = std::fopen("/dev/null", "w+");
    SCREEN* screen = newterm("xterm", devnull, devnull);
    if (!screen) return std::fprintf(stderr, "bench_top_redraw: no terminfo entry for xterm\n"), 1;
    WINDOW* pad = newpad(60, 200);
    top::Layout layout{200, 60};
    top::SourceStatus src{"live"};
    top::TopState state;

    std::vector<double> snap, rows_ms, model_ms, paint_ms, total;
    Report report;
    for (int run = 0; run < runs; ++run) {
        t0 = std::chrono::steady_clock::now();
        report = ex.snapshot();
        snap.push_back(ms_since(t0));

        // Each run sorts by another key, as a user choosing columns would.
        state.sort = {sort_keys()[size_t(run) % sort_keys().size()].key, SortKey::Pages};
        auto t1 = std::chrono::steady_clock::now();
        auto rows = pinner_rows(report, top::query_of(state));
        top::follow_selection(state, rows);
        rows_ms.push_back(ms_since(t1));
        auto t2 = std::chrono::steady_clock::now();
        top::Screen s = top::build_screen(report, src, state, rows, {}, layout);
        model_ms.push_back(ms_since(t2));
        auto t3 = std::chrono::steady_clock::now();
        top::paint_window(pad, s, false);
        pnoutrefresh(pad, 0, 0, 0, 0, 59, 199);
        paint_ms.push_back(ms_since(t3));
        total.push_back(ms_since(t1));
        if (rows.size() != pinners) return std::fprintf(stderr, "bench_top_redraw: %zu rows\n", rows.size()), 1;
    }
    delwin(pad);
    endwin();
    delscreen(screen);
    std::fclose(devnull);

    std::printf("snapshot (ledger walk, each refresh): %.1f ms\n", median(snap));
    std::printf("pinner rows (group, sort): %.1f ms; screen model: %.2f ms; paint: %.2f ms\n", median(rows_ms),
                median(model_ms), median(paint_ms));
    std::printf("redraw_ms=%.1f\n", median(total));
    return 0;
}
