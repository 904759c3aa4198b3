#include "trace/trace_info.hpp"

#include <algorithm>
#include <charconv>
#include <utility>

namespace pintrace {

namespace {

struct AttachStateWord {
    AttachState state;
    std::string_view word;
};
constexpr AttachStateWord kAttachStateWords[] = {
    {AttachState::Absent, "absent"},
    {AttachState::Missing, "missing"},
    {AttachState::Refused, "refused"},
};

}  // namespace

std::string_view AttachPoint::mode() const
{
    for (const auto& w : kAttachStateWords)
        if (w.state == state) return w.word;
    return how;
}

void AttachPoint::set_mode(std::string_view word)
{
    for (const auto& w : kAttachStateWords)
        if (w.word == word) {
            state = w.state;
            how.clear();
            return;
        }
    state = AttachState::Attached;
    how = word;
}

AttachPoint attach_point(std::string target, uint16_t hook, std::string_view mode, std::string detail,
                         std::string hides)
{
    AttachPoint a;
    a.target = std::move(target);
    a.hook = hook;
    a.set_mode(mode);
    a.detail = std::move(detail);
    a.hides = std::move(hides);
    return a;
}

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
