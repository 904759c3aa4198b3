#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace pintrace {

// The longest duration accepted: INT64_MAX ns (292 years), so any duration
// can be added to or subtracted from a signed timestamp without overflow.
inline constexpr uint64_t kMaxDurationNs = 9'223'372'036'854'775'807ull;

// Decimal with a unit: "250ms", "10s", "1.5m", "2h" (also ns, us, min);
// "0" alone needs none. Nothing else: no sign, no hex, no exponent, no
// spaces, nothing past kMaxDurationNs. Whether 0 makes sense is the caller's.
std::optional<uint64_t> parse_duration_ns(std::string_view text);

}  // namespace pintrace
