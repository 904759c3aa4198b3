// How long pins were held, in power-of-two buckets of microseconds (the
// shape of bcc's log2 histograms): cheap to keep per owner, and merges by
// addition for any grouping a view asks for.
#pragma once

#include <array>
#include <bit>
#include <cstdint>

namespace pintrace {

struct DurationHistogram {
    // Bucket 0 holds [0, 2) us; bucket i >= 1 holds [2^i, 2^(i+1)) us. The
    // last one also holds everything longer (2^40 us is 12.7 days).
    static constexpr size_t kBuckets = 41;
    std::array<uint64_t, kBuckets> buckets{};

    static size_t bucket_of(uint64_t ns)
    {
        uint64_t us = ns / 1000;
        if (us < 2) return 0;
        size_t b = std::bit_width(us) - 1;
        return b < kBuckets ? b : kBuckets - 1;
    }
    // The lower bound of bucket b, in nanoseconds.
    static uint64_t bucket_floor_ns(size_t b) { return b == 0 ? 0 : (uint64_t{1} << b) * 1000; }

    void add(uint64_t ns, uint64_t n = 1) { buckets[bucket_of(ns)] += n; }
    DurationHistogram& operator+=(const DurationHistogram& o)
    {
        for (size_t i = 0; i < kBuckets; ++i) buckets[i] += o.buckets[i];
        return *this;
    }
    uint64_t total() const
    {
        uint64_t t = 0;
        for (auto b : buckets) t += b;
        return t;
    }
};

}  // namespace pintrace
