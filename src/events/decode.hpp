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

// What decoding noticed of a record without refusing it.
struct DecodeNotes {
    // It names a page outside the recorded machine's System RAM: device
    // memory (persistent memory, a PCI BAR, HMM) that a driver or a DAX
    // file lets GUP take, or memory added while recording.
    bool outside_ram = false;
};

// Decodes into out, which a reader reuses record after record (a replay
// decodes millions). false: a record type this version does not know
// (skipped, not an error). A count or pfn the kernel cannot produce
// (events/bounds.hpp: past the architecture's largest pfn) is an error
// naming the record and the field. A pfn outside bounds (the recorded
// machine's RAM, when known) is not: it costs no more than any other, and
// notes say so.
Result<bool> decode_kernel_record(std::span<const std::byte> bytes, const FlagLayout& layout, Event& out,
                                  const PfnBounds& bounds = PfnBounds(), DecodeNotes* notes = nullptr);

}  // namespace pintrace
