// Decoding the kernel's ring buffer records (bpf/pintrace.h) into events.
#pragma once

#include <cstddef>
#include <optional>
#include <span>

#include "events/event.hpp"
#include "events/gup_flags.hpp"
#include "util/result.hpp"

namespace pintrace {

// nullopt: a record type this version does not know (skipped, not an error).
Result<std::optional<Event>> decode_kernel_record(std::span<const std::byte> bytes, const FlagLayout& layout);

}  // namespace pintrace
