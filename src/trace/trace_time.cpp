#include "trace/trace_time.hpp"

#include <charconv>
#include <cstdio>
#include <ctime>
#include <string>

#include "util/duration.hpp"

namespace pintrace {
namespace {

// "HH:MM:SS[.fff]" -> ns since midnight.
std::optional<uint64_t> parse_clock(std::string_view text)
{
    unsigned h, m;
    double s;
    char tail;
    std::string t(text);
    if (std::sscanf(t.c_str(), "%2u:%2u:%lf%c", &h, &m, &s, &tail) != 3) return std::nullopt;
    if (h > 23 || m > 59 || !(s >= 0 && s < 61)) return std::nullopt;  // NaN fails both
    return (uint64_t{h} * 3600 + m * 60) * 1000000000ull + static_cast<uint64_t>(s * 1e9);
}

}  // namespace

Result<uint64_t> parse_trace_time(std::string_view text, const TraceInfo& info)
{
    auto start_mono = info.get_u64("start_monotonic_ns");
    auto start_real = info.get_u64("start_realtime_ns");
    if (!start_mono) return make_error("the trace does not say when it started");
    std::string_view offset = text.starts_with('+') ? text.substr(1) : text;
    if (auto d = parse_duration_ns(offset)) {
        uint64_t t;
        if (__builtin_add_overflow(*start_mono, *d, &t))
            return make_error("'" + std::string(text) + "' is past any trace");
        return t;
    }

    if (!start_real)
        return make_error("the trace has no wall clock: give '" + std::string(text) + "' as an offset like +30s");
    // In 128 bits: a year-9999 time in ns is past INT64_MAX, and overflowed
    // into "before the machine booted".
    __int128 wall_ns;
    if (auto clock = parse_clock(text)) {
        __int128 day = static_cast<__int128>(*start_real / 86400000000000ull) * 86400000000000ll;
        wall_ns = day + *clock;
    } else {
        unsigned y, mo, d;
        char sep;
        std::string t(text);
        int used = 0;
        if (std::sscanf(t.c_str(), "%4u-%2u-%2u%c%n", &y, &mo, &d, &sep, &used) != 4 || (sep != 'T' && sep != ' '))
            return make_error("cannot read the time '" + std::string(text) +
                              "': use +30s (after the start), 14:05:30 or 2026-11-22T14:05:30 (UTC)");
        auto clock2 = parse_clock(text.substr(used));
        if (!clock2 || mo < 1 || mo > 12 || d < 1 || d > 31)
            return make_error("cannot read the time '" + std::string(text) + "'");
        tm day{};
        day.tm_year = int(y) - 1900;
        day.tm_mon = int(mo) - 1;
        day.tm_mday = int(d);
        time_t secs = timegm(&day);
        // timegm normalises 2026-02-31 into March 3rd: a day the month does not have is a typo.
        tm back{};
        if (!gmtime_r(&secs, &back) || back.tm_mday != int(d) || back.tm_mon != int(mo) - 1)
            return make_error("cannot read the time '" + std::string(text) + "': no such day");
        wall_ns = static_cast<__int128>(secs) * 1000000000 + *clock2;
    }
    __int128 mono = static_cast<__int128>(*start_mono) + (wall_ns - static_cast<__int128>(*start_real));
    if (mono < 0) return make_error("the time '" + std::string(text) + "' is before the machine booted");
    // Later than any monotonic clock can read (292 years of uptime): the
    // same as the end of the trace for every view.
    if (mono > static_cast<__int128>(kMaxDurationNs)) return kMaxDurationNs;
    return static_cast<uint64_t>(mono);
}

Result<std::vector<uint64_t>> parse_pfn_list(std::string_view text)
{
    std::vector<uint64_t> pfns;
    if (text.empty()) return make_error("--pfn needs a page frame number");
    for (bool more = true; more;) {
        size_t comma = text.find(',');
        std::string_view word = text.substr(0, comma);
        more = comma != std::string_view::npos;
        if (more) text.remove_prefix(comma + 1);
        int base = 10;
        if (word.starts_with("0x") || word.starts_with("0X")) {
            word.remove_prefix(2);
            base = 16;
        }
        uint64_t pfn = 0;
        auto [end, ec] = std::from_chars(word.data(), word.data() + word.size(), pfn, base);
        if (word.empty() || ec != std::errc() || end != word.data() + word.size())
            return make_error("not a pfn: '" + std::string(word) + "' (use 0x1a2b or 6699)");
        // x86-64 has at most 52 physical address bits: 2^40 pages.
        if (pfn >= (uint64_t{1} << 40))
            return make_error("pfn " + std::string(word) + " is beyond any physical memory");
        pfns.push_back(pfn);
    }
    return pfns;
}

}  // namespace pintrace
