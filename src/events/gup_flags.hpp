// FOLL_* flags as the kernel passes them, and pintrace's own stable bits.
//
// The kernel renumbered FOLL_* in 6.3 (FOLL_GET 0x04 -> 0x02, FOLL_LONGTERM
// 0x10000 -> 0x100, FOLL_PIN 0x40000 -> 0x80000, and 0x80000 meant
// FOLL_FAST_ONLY before). Records carry the raw bits; the layout in force is
// resolved once at record time and stored in the trace header.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace pintrace {

// A FOLL_PIN pin adds this to a small page's refcount (include/linux/mm.h
// GUP_PIN_COUNTING_BIAS); a large folio counts its pins apart.
inline constexpr int32_t kGupPinCountingBias = 1024;

// pintrace's canonical flag bits: stable across kernels and file versions.
enum GupFlag : uint32_t {
    kFlagPin = 1u << 0,
    kFlagGet = 1u << 1,
    kFlagLongterm = 1u << 2,
    kFlagWrite = 1u << 3,
};

struct FlagLayout {
    uint32_t write = 0;
    uint32_t get = 0;
    uint32_t pin = 0;
    uint32_t longterm = 0;
    std::string source;  // "btf", "release <= 6.2", "release >= 6.3"

    static FlagLayout before_6_3();
    static FlagLayout since_6_3();

    // Inline: the decoder calls it for every grab and release.
    uint32_t canonical(uint32_t raw) const
    {
        return ((raw & pin) ? kFlagPin : 0u) | ((raw & get) ? kFlagGet : 0u) | ((raw & longterm) ? kFlagLongterm : 0u) |
               ((raw & write) ? kFlagWrite : 0u);
    }
    bool valid() const { return get && pin && longterm && write; }
};

// "FOLL_PIN", "FOLL_LONGTERM", ... in a fixed order.
std::vector<std::string_view> flag_names(uint32_t canonical);
std::string flag_string(uint32_t canonical, std::string_view sep = "|");

}  // namespace pintrace
