// The two clocks a trace uses: CLOCK_MONOTONIC, which BPF's
// bpf_ktime_get_ns() reads (every record's time), and CLOCK_REALTIME, to
// turn those into wall-clock times.
#pragma once

#include <time.h>

#include <cstdint>

namespace pintrace {

inline uint64_t clock_ns(clockid_t clock)
{
    timespec ts;
    clock_gettime(clock, &ts);
    return uint64_t(ts.tv_sec) * 1000000000ull + uint64_t(ts.tv_nsec);
}
inline uint64_t monotonic_now_ns() { return clock_ns(CLOCK_MONOTONIC); }
inline uint64_t realtime_now_ns() { return clock_ns(CLOCK_REALTIME); }

}  // namespace pintrace
