#include "events/bounds.hpp"
#include "util/hex.hpp"

#include <algorithm>
#include <charconv>
#include <cstdio>

namespace pintrace {
namespace {

std::optional<uint64_t> hex_number(std::string_view s)
{
    if (!s.starts_with("0x")) return std::nullopt;
    s.remove_prefix(2);
    uint64_t v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v, 16);
    if (s.empty() || ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
    return v;
}

}  // namespace

PfnBounds::PfnBounds(std::vector<std::pair<uint64_t, uint64_t>> ram)
{
    std::sort(ram.begin(), ram.end());
    for (const auto& r : ram) {
        if (r.second <= r.first) continue;
        if (!ram_.empty() && r.first <= ram_.back().second)
            ram_.back().second = std::max(ram_.back().second, r.second);
        else
            ram_.push_back(r);
    }
}

Result<PfnBounds> PfnBounds::parse(std::string_view text)
{
    std::vector<std::pair<uint64_t, uint64_t>> ram;
    while (!text.empty()) {
        auto comma = text.find(',');
        auto item = text.substr(0, comma);
        text = comma == std::string_view::npos ? std::string_view() : text.substr(comma + 1);
        auto dash = item.find('-');
        auto a = hex_number(item.substr(0, dash));
        auto b = dash == std::string_view::npos ? std::nullopt : hex_number(item.substr(dash + 1));
        if (!a || !b || *b < *a || *b >= kMaxPhysPfn)
            return make_error("ram_pfns: not a pfn range: '" + std::string(item) + "'");
        ram.emplace_back(*a, *b + 1);
    }
    if (ram.empty()) return make_error("ram_pfns: empty");
    return PfnBounds(std::move(ram));
}

std::string PfnBounds::format(const std::vector<std::pair<uint64_t, uint64_t>>& ram)
{
    std::string out;
    for (const auto& [start, end] : ram) {
        if (end <= start) continue;
        out += (out.empty() ? "" : ",") + hex(start) + "-" + hex(end - 1);
    }
    return out;
}

bool PfnBounds::contains(uint64_t pfn, uint64_t pages) const
{
    if (!pages || pfn >= kMaxPhysPfn || pages > kMaxPhysPfn - pfn) return false;
    if (ram_.empty()) return true;
    // Both ends in RAM: a folio never straddles a hole, and a range of
    // System RAM split in two /proc/iomem entries is merged above.
    auto in_ram = [&](uint64_t p) {
        auto it = std::upper_bound(ram_.begin(), ram_.end(), std::pair{p, ~uint64_t{0}});
        return it != ram_.begin() && p < std::prev(it)->second;
    };
    return in_ram(pfn) && in_ram(pfn + pages - 1);
}

std::string PfnBounds::describe() const
{
    if (ram_.empty()) return "beyond the largest pfn of 52-bit physical addresses (" + hex(kMaxPhysPfn - 1) + ")";
    std::string ranges;
    size_t shown = 0;
    for (const auto& [start, end] : ram_) {
        if (++shown > 4) {
            ranges += ", ...";
            break;
        }
        ranges += (ranges.empty() ? "" : ", ") + hex(start) + "-" + hex(end - 1);
    }
    return "outside the recorded machine's RAM (" + ranges + ")";
}

}  // namespace pintrace
