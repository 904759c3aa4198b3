#include "events/gup_flags.hpp"

namespace pintrace {

FlagLayout FlagLayout::before_6_3()
{
    return {.write = 0x01, .get = 0x04, .pin = 0x40000, .longterm = 0x10000, .source = "release <= 6.2"};
}

FlagLayout FlagLayout::since_6_3()
{
    return {.write = 0x01, .get = 0x02, .pin = 0x80000, .longterm = 0x100, .source = "release >= 6.3"};
}

std::vector<std::string_view> flag_names(uint32_t canonical)
{
    std::vector<std::string_view> names;
    if (canonical & kFlagPin) names.emplace_back("FOLL_PIN");
    if (canonical & kFlagGet) names.emplace_back("FOLL_GET");
    if (canonical & kFlagLongterm) names.emplace_back("FOLL_LONGTERM");
    if (canonical & kFlagWrite) names.emplace_back("FOLL_WRITE");
    return names;
}

std::string flag_string(uint32_t canonical, std::string_view sep)
{
    std::string out;
    for (auto name : flag_names(canonical)) {
        if (!out.empty()) out += sep;
        out += name;
    }
    return out;
}

}  // namespace pintrace
