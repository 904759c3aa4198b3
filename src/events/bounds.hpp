// What the kernel can put in a record, as a reader checks it. Every count
// read from a trace drives a loop or an allocation somewhere (the ledger
// walks a grab page by page), so a count the kernel cannot produce is not a
// bigger job but a corrupt record: refusing it is what keeps the cost of a
// trace of N bytes O(N). See docs/trace-format.md and docs/ledger.md.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "util/result.hpp"

namespace pintrace {

// x86-64's largest folio is a 1 GiB page (PUD): order 18. A grab covers at
// most one folio's pages, a release or a failed migration names one folio,
// and a freed block is one buddy block or folio.
inline constexpr uint32_t kMaxFolioOrder = 18;
inline constexpr uint32_t kMaxFolioPages = uint32_t{1} << kMaxFolioOrder;  // 262144
// 52-bit physical addresses (x86-64 MAXPHYADDR) and 4 KiB pages: the pfn
// limit of any trace whose header does not name the machine's RAM.
inline constexpr uint64_t kMaxPhysPfn = uint64_t{1} << 40;

// The pfns a record may name: the recorded machine's "System RAM" (the
// header's ram_pfns) or, for a trace without it, everything below the
// architecture's limit.
class PfnBounds {
public:
    PfnBounds() = default;  // the architecture limit
    // [start, end) ranges; sorted and merged here.
    explicit PfnBounds(std::vector<std::pair<uint64_t, uint64_t>> ram);

    // The meta value "0x1000-0x9ffff,0x100000-0x63fffff" (ends included).
    static Result<PfnBounds> parse(std::string_view text);
    static std::string format(const std::vector<std::pair<uint64_t, uint64_t>>& ram);

    // [pfn, pfn + pages) lies in one RAM range (a folio never spans a hole).
    bool contains(uint64_t pfn, uint64_t pages = 1) const;
    bool from_header() const { return !ram_.empty(); }
    // For errors: "outside the recorded RAM (0x1000-0x9ffff, ...)".
    std::string describe() const;

private:
    std::vector<std::pair<uint64_t, uint64_t>> ram_;
};

}  // namespace pintrace
