#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace pintrace {

// "250ms", "10s", "1.5m", "2h", or a bare number of seconds.
std::optional<uint64_t> parse_duration_ns(std::string_view text);

}  // namespace pintrace
