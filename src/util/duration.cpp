#include "util/duration.hpp"

#include <array>

namespace pintrace {
namespace {

struct DurationUnit {
    std::string_view name;
    uint64_t ns;
};

// The units a duration may carry; the longest names first, so "ms" and
// "min" are not read as "m".
constexpr std::array kUnits{
    DurationUnit{"min", 60'000'000'000ull},
    DurationUnit{"ns", 1},
    DurationUnit{"us", 1'000},
    DurationUnit{"ms", 1'000'000},
    DurationUnit{"s", 1'000'000'000ull},
    DurationUnit{"m", 60'000'000'000ull},
    DurationUnit{"h", 3'600'000'000'000ull},
};

bool is_digit(char c) { return c >= '0' && c <= '9'; }

}  // namespace

// Decimal digits only, read exactly in integers: std::stod took "0x10" as
// hex, "1e3", "inf" and a leading space, and rounded large values.
std::optional<uint64_t> parse_duration_ns(std::string_view text)
{
    size_t i = 0;
    while (i < text.size() && is_digit(text[i])) ++i;
    std::string_view whole = text.substr(0, i), fraction;
    if (i < text.size() && text[i] == '.') {
        size_t start = ++i;
        while (i < text.size() && is_digit(text[i])) ++i;
        fraction = text.substr(start, i - start);
        if (fraction.empty()) return std::nullopt;  // "1."
    }
    if (whole.empty()) return std::nullopt;  // ".5", "-1", "+1", " 1"
    std::string_view unit_name = text.substr(i);
    const DurationUnit* unit = nullptr;
    for (const auto& u : kUnits)
        if (unit_name == u.name) unit = &u;
    if (!unit) {
        // Zero needs no unit ("--stack-sample 0"); anything else does.
        if (!unit_name.empty() || whole.find_first_not_of('0') != std::string_view::npos ||
            fraction.find_first_not_of('0') != std::string_view::npos)
            return std::nullopt;
        return 0;
    }
    uint64_t count = 0, ns = 0;
    for (char c : whole)
        if (__builtin_mul_overflow(count, 10, &count) || __builtin_add_overflow(count, uint64_t(c - '0'), &count))
            return std::nullopt;
    if (__builtin_mul_overflow(count, unit->ns, &ns)) return std::nullopt;
    // Digits past the unit's resolution (a fraction of a nanosecond) drop.
    uint64_t place = unit->ns;
    for (char c : fraction) {
        place /= 10;
        if (__builtin_add_overflow(ns, uint64_t(c - '0') * place, &ns)) return std::nullopt;
    }
    if (ns > kMaxDurationNs) return std::nullopt;
    return ns;
}

}  // namespace pintrace
