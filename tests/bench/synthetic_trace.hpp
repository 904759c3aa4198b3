// A synthetic trace with the shape of a busy host, written through the real
// trace writer: many processes holding long-term pins on buffers, churn of
// short-term pins (direct I/O), FOLL_GET references freed later, THP folio
// grabs, releases from kworkers, records slightly out of timestamp order, and
// a migration failure now and then. Deterministic for a given seed; what it
// leaves held at the end is known exactly, so a test can check the replay.
#pragma once

#include <cstdint>
#include <string>

#include "util/result.hpp"

namespace pintrace::bench {

struct SyntheticSpec {
    uint64_t events = 50'000'000;  // kernel records, roughly (the tail drains what is in flight)
    uint64_t live_pins = 1'000'000;  // long-term pinned pages held at once, from the first tenth on
    uint32_t processes = 1000;  // long-term pinners
    uint64_t seed = 1;
};

struct SyntheticTruth {
    uint64_t records = 0;  // kernel records written
    uint64_t pages_held_at_end = 0;  // exactly the long-term pages
    uint64_t failures = 0;  // migrations that left pages behind
    uint64_t failed_pages = 0;
};

Result<SyntheticTruth> write_synthetic_trace(const std::string& path, const SyntheticSpec& spec);

}  // namespace pintrace::bench
