// Which pfns a snapshot covers: --pfn A-B, --node N, --zone NAME,
// --memory-block N. Parsers over the kernel's text (/proc/zoneinfo,
// /sys/devices/system/memory/block_size_bytes) are pure; resolve() reads
// the files under a root directory (tests give a fixture tree).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "util/result.hpp"

namespace pintrace::snapshot {

struct PfnSpan {
    uint64_t start = 0, end = 0;  // [start, end)
    std::string label;  // "node 0 Normal", "memory block 32", "pfn 0x100-0x1ff"
    uint64_t pages() const { return end - start; }
    bool operator==(const PfnSpan&) const = default;
};

struct ZoneSpan {
    int node = 0;
    std::string zone;  // as /proc/zoneinfo spells it: DMA, DMA32, Normal, Movable, Device
    uint64_t start_pfn = 0, spanned = 0, present = 0;
};

std::vector<ZoneSpan> parse_zoneinfo(std::string_view text);
// The zone a pfn falls in (by spanned ranges), or nullptr.
const ZoneSpan* zone_of(const std::vector<ZoneSpan>& zones, uint64_t pfn);

// The pfns of "System RAM" in /proc/iomem (root only: others see zero
// addresses, and get nothing). Pages partly outside are left out.
std::vector<PfnSpan> parse_iomem_ram(std::string_view text);
bool in_spans(const std::vector<PfnSpan>& spans, uint64_t pfn);

// The machine's "System RAM" pfns: /proc/iomem (root), else
// /sys/firmware/memmap, else the online blocks of /sys/devices/system/memory
// (root prefixes them, for tests). What a snapshot range is clipped to and
// what record writes into the trace header (ram_pfns).
Result<std::vector<PfnSpan>> system_ram(const std::string& root = "");
// The parts of span that are RAM, each labelled by its own pfns; an error
// naming the RAM ranges when no page of it is. Clipping comes before any
// work list is built: a wild range costs what the machine's RAM does.
Result<std::vector<PfnSpan>> clip_to_ram(const PfnSpan& span, const std::vector<PfnSpan>& ram);
// "0x1-0x9e, 0x100-0xbffd9" (ends included), for messages.
std::string describe_ram(const std::vector<PfnSpan>& ram);

// "A-B" (both included), "A+N" (N pages from A) or "A"; hex with 0x or decimal.
// Every pfn below 2^40 (52-bit physical addresses), so nothing wraps.
Result<PfnSpan> parse_pfn_range(std::string_view text);
Result<std::vector<PfnSpan>> node_spans(const std::vector<ZoneSpan>& zones, int node);
Result<std::vector<PfnSpan>> zone_spans(const std::vector<ZoneSpan>& zones, std::string_view name);
// block_size_bytes is hex without 0x (as sysfs prints it).
Result<PfnSpan> memory_block_span(uint64_t block, std::string_view block_size_bytes, uint64_t page_size = 4096);

struct RangeRequest {
    std::string pfn;  // --pfn
    std::optional<int> node;  // --node
    std::string zone;  // --zone
    std::optional<uint64_t> memory_block;  // --memory-block
    std::string cma;  // --cma: an area under /sys/kernel/debug/cma (CONFIG_CMA_DEBUGFS)
    bool all = false;  // --all: every "System RAM" span of /proc/iomem
};

// One range as a single word, for options that take a range as a value
// (record --snapshot-range): "all", "pfn:A-B", "node:N", "zone:NAME",
// "memory-block:N" or "cma:NAME".
Result<RangeRequest> parse_range_spec(std::string_view spec);
// What a request covers, for people: "node 1", "all memory".
std::string describe(const RangeRequest& req);

// Exactly one of the request's fields must be set. root prefixes /proc and
// /sys. A --pfn range is clipped to system_ram() (refused if none of it is).
Result<std::vector<PfnSpan>> resolve(const RangeRequest& req, const std::string& root = "");

Result<std::string> read_text_file(const std::string& path);

}  // namespace pintrace::snapshot
