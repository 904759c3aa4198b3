// The BPF side of a snapshot: page refcounts, which /proc does not show,
// read by a raw_tp program run on demand (bpf/snapshot.bpf.c) at the
// calibrated vmemmap base.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "util/result.hpp"

namespace pintrace::snapshot {

inline constexpr int32_t kNoPage = INT32_MIN;  // no readable struct page

class BpfRefcounts {
public:
    // Calibrates (about 10 ms) and loads the program; an error says why
    // BPF cannot be used (privileges, no BTF, calibration failed).
    static Result<std::unique_ptr<BpfRefcounts>> open();
    ~BpfRefcounts();
    // out.size() refcounts from start; with want, only pages whose flag
    // is set are read (the others get kNoPage).
    Result<void> read(uint64_t start, std::span<int32_t> out, const std::vector<bool>* want = nullptr);
    uint64_t vmemmap_base() const { return base_; }

private:
    struct Impl;
    explicit BpfRefcounts(std::unique_ptr<Impl> impl, uint64_t base);
    std::unique_ptr<Impl> impl_;
    uint64_t base_ = 0;
};

}  // namespace pintrace::snapshot
