// Decoding the kernel's ring buffer records (bpf/pintrace.h) into events.
#pragma once

#include <cstddef>
#include <optional>
#include <span>

#include "events/bounds.hpp"
#include "events/event.hpp"
#include "events/gup_flags.hpp"
#include "util/result.hpp"

namespace pintrace {

// Decodes into out, which a reader reuses record after record (a replay
// decodes millions). false: a record type this version does not know
// (skipped, not an error). A count or pfn the kernel cannot produce
// (events/bounds.hpp) is an error naming the record and the field: pfns
// are checked against bounds (the recorded machine's RAM, when known).
Result<bool> decode_kernel_record(std::span<const std::byte> bytes, const FlagLayout& layout, Event& out,
                                  const PfnBounds& bounds = PfnBounds());

}  // namespace pintrace
