// The ledger's views as tables and lines: who holds pages, how long pins
// were held, which were held too long, and one page's history. Text,
// markdown and top render the same tables.
#pragma once

#include <string>
#include <vector>

#include "explain/pinners.hpp"
#include "explain/report.hpp"
#include "render/document.hpp"
#include "render/table.hpp"

namespace pintrace {

std::string format_clock(const Report& r, uint64_t monotonic_ns);  // "02:17:05.478" (UTC), or "+1.2 s" without clocks
// "pid 4242 (qemu-kvm)", plus ", exited" when its process was seen to exit.
std::string owner_label(const Report& r, OwnerId id);

Table pinners_table(const Report& r, const std::vector<PinnerRow>& rows, GroupBy group_by, size_t limit);
// Buckets from the shortest to the longest non-empty one.
Table durations_table(const DurationHistogram& released, const DurationHistogram& held);
Table long_holds_table(const Report& r, const HolderFilter& filter, size_t limit);

// One line per event in the pages' histories, its stack below it.
void history_lines(Document& d, const Report& r, bool show_stacks);

// "held longer than 300 ms: 12 pin(s) on 9 page(s), 4 still held" and the like.
std::string long_holds_headline(const Report& r, const HolderFilter& filter);

}  // namespace pintrace
