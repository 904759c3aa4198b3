// Replay benchmark (issue 4): how fast `report` digests a trace, and how much
// memory the ledger keeps per live pinned page. Not a timed test: run it by
// hand, figures go to docs/performance.md.
//
//   bench_replay [--events N] [--live-pins N] [--trace FILE] [--keep] [--no-decode-pass]
//
// Writes a synthetic trace (tests/bench/synthetic_trace.hpp), then times the
// replay: file read, decode, and the explainer (ledger included), one core.
// The last line is `events_per_second=N bytes_per_live_pin=M`.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "explain/explainer.hpp"
#include "synthetic_trace.hpp"
#include "trace/reader.hpp"

using namespace pintrace;

namespace {

// Anonymous memory the process has resident: the heap and the ledger's own
// mappings, not the trace file's page cache.
size_t anon_resident_bytes()
{
    std::FILE* f = std::fopen("/proc/self/status", "r");
    if (!f) return 0;
    char line[256];
    size_t kib = 0;
    while (std::fgets(line, sizeof line, f))
        if (std::sscanf(line, "RssAnon: %zu kB", &kib) == 1) break;
    std::fclose(f);
    return kib * 1024;
}

double seconds_since(std::chrono::steady_clock::time_point t0)
{
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

int usage()
{
    std::fprintf(stderr, "usage: bench_replay [--events N] [--live-pins N] [--trace FILE] [--keep]\n");
    return 2;
}

}  // namespace

int main(int argc, char** argv)
{
    bench::SyntheticSpec spec;
    std::string path = "/tmp/pintrace-bench-" + std::to_string(getpid()) + ".pt";
    bool keep = false, reuse = false, decode_pass = true;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        auto next = [&]() -> const char* { return i + 1 < argc ? argv[++i] : nullptr; };
        if (a == "--events" || a == "--live-pins") {
            const char* v = next();
            if (!v) return usage();
            (a == "--events" ? spec.events : spec.live_pins) = std::strtoull(v, nullptr, 10);
        } else if (a == "--trace") {
            const char* v = next();
            if (!v) return usage();
            path = v;
            reuse = access(v, R_OK) == 0;
            keep = true;
        } else if (a == "--no-decode-pass") {  // for profiling the replay alone
            decode_pass = false;
        } else if (a == "--keep") {
            keep = true;
        } else {
            return usage();
        }
    }

    bench::SyntheticTruth truth;
    if (!reuse) {
        auto t0 = std::chrono::steady_clock::now();
        auto written = bench::write_synthetic_trace(path, spec);
        if (!written) {
            std::fprintf(stderr, "bench_replay: %s\n", written.error().message.c_str());
            return 1;
        }
        truth = written.value();
        std::printf("wrote %s: %llu records in %.1f s\n", path.c_str(), (unsigned long long)truth.records,
                    seconds_since(t0));
    }

    auto reader = TraceReader::open(path);
    if (!reader) {
        std::fprintf(stderr, "bench_replay: %s: %s\n", path.c_str(), reader.error().message.c_str());
        return 1;
    }
    // Decode alone, to tell the reader's cost from the ledger's. The first
    // pass also brings the file into the page cache.
    auto t0 = std::chrono::steady_clock::now();
    uint64_t decoded = 0;
    if (!decode_pass) {
    } else if (auto r = reader->read([&](const Event&) { ++decoded; }); !r) {
        std::fprintf(stderr, "bench_replay: %s\n", r.error().message.c_str());
        return 1;
    }
    double decode_s = seconds_since(t0);

    size_t heap_before = anon_resident_bytes();
    Explainer explainer(reader->info());
    // Page operations: a grab or release of a 512-page folio is one event but
    // 512 pages for the ledger.
    uint64_t page_ops = 0;
    t0 = std::chrono::steady_clock::now();
    auto read = reader->read([&](const Event& e) {
        if (auto* g = std::get_if<GrabEvent>(&e))
            page_ops += g->nr_pages;
        else if (auto* r = std::get_if<ReleaseEvent>(&e))
            page_ops += r->nr_pages;
        else if (auto* f = std::get_if<PageFreedEvent>(&e))
            page_ops += f->nr_pages;
        explainer.consume(e);
    });
    double replay_s = seconds_since(t0);
    size_t heap_after = anon_resident_bytes();
    if (!read) {
        std::fprintf(stderr, "bench_replay: %s\n", read.error().message.c_str());
        return 1;
    }
    uint64_t events = read.value().records;
    Report report = std::move(explainer).finish();
    if (!keep) std::remove(path.c_str());

    uint64_t live = report.stats.pages_held_at_end;
    std::printf("records=%llu decode_only=%.2f s (%.0f events/s) replay=%.2f s page_operations=%llu (%.0f/s)\n",
                (unsigned long long)events, decode_s, decoded / decode_s, replay_s, (unsigned long long)page_ops,
                page_ops / replay_s);
    std::printf("pages_held_at_end=%llu failures=%zu anonymous_memory_growth=%zu bytes\n", (unsigned long long)live,
                report.failures.size(), heap_after - heap_before);
    if (!reuse && (live != truth.pages_held_at_end || report.failures.size() != truth.failures)) {
        std::fprintf(stderr,
                     "bench_replay: the replay disagrees with the generator: %llu pages held (want %llu), "
                     "%zu failures (want %llu)\n",
                     (unsigned long long)live, (unsigned long long)truth.pages_held_at_end, report.failures.size(),
                     (unsigned long long)truth.failures);
        return 1;
    }
    std::printf("events_per_second=%.0f bytes_per_live_pin=%.1f\n", events / replay_s,
                live ? double(heap_after - heap_before) / live : 0.0);
    return 0;
}
