#include "util/duration.hpp"

#include <cmath>
#include <string>

namespace pintrace {

std::optional<uint64_t> parse_duration_ns(std::string_view text)
{
    if (text.empty()) return std::nullopt;
    size_t used = 0;
    double value;
    try {
        value = std::stod(std::string(text), &used);
    } catch (...) {
        return std::nullopt;
    }
    if (!std::isfinite(value) || value < 0) return std::nullopt;
    std::string_view unit = text.substr(used);
    double scale;
    if (unit.empty() || unit == "s") scale = 1e9;
    else if (unit == "ms") scale = 1e6;
    else if (unit == "us") scale = 1e3;
    else if (unit == "m" || unit == "min") scale = 60e9;
    else if (unit == "h") scale = 3600e9;
    else return std::nullopt;
    double ns = value * scale;
    if (ns > 1e18) return std::nullopt;
    return static_cast<uint64_t>(ns);
}

}  // namespace pintrace
