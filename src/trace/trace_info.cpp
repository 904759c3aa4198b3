#include "trace/trace_info.hpp"

#include <algorithm>
#include <charconv>

namespace pintrace {

size_t missing_attach_points(const std::vector<AttachPoint>& attach)
{
    return std::count_if(attach.begin(), attach.end(), [](const AttachPoint& a) { return !a.attached(); });
}

std::string TraceInfo::get(const std::string& key, const std::string& fallback) const
{
    auto it = meta.find(key);
    return it == meta.end() ? fallback : it->second;
}

std::optional<uint64_t> TraceInfo::get_u64(const std::string& key) const
{
    auto it = meta.find(key);
    if (it == meta.end()) return std::nullopt;
    uint64_t v = 0;
    const auto& s = it->second;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
    return v;
}

bool TraceInfo::hook_attached(uint16_t hook) const
{
    for (const auto& a : attach)
        if (a.hook == hook && a.attached()) return true;
    return false;
}

std::vector<std::string> TraceInfo::page_flag_names(uint64_t flags) const
{
    std::vector<std::string> out;
    for (const auto& [bit, name] : page_flags)
        if (bit < 64 && (flags >> bit) & 1) out.push_back(name);
    return out;
}

std::string TraceInfo::reason_name(int reason) const
{
    auto it = migrate_reasons.find(reason);
    return it == migrate_reasons.end() ? "reason_" + std::to_string(reason) : it->second;
}

}  // namespace pintrace
