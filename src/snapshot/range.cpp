#include "snapshot/range.hpp"

#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <fstream>
#include <sstream>

#include "events/bounds.hpp"
#include "util/hex.hpp"

namespace pintrace::snapshot {
namespace {

std::optional<uint64_t> parse_number(std::string_view s, int base = 0)
{
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
    if (base == 0) {
        base = 10;
        if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
            s.remove_prefix(2);
            base = 16;
        }
    }
    if (s.empty()) return std::nullopt;
    uint64_t v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v, base);
    if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
    return v;
}

bool exists(const std::string& path)
{
    struct stat st;
    return ::stat(path.c_str(), &st) == 0;
}

bool iequal(std::string_view a, std::string_view b)
{
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
           });
}

}  // namespace

std::vector<ZoneSpan> parse_zoneinfo(std::string_view text)
{
    std::vector<ZoneSpan> zones;
    std::istringstream in{std::string(text)};
    std::string line;
    while (std::getline(in, line)) {
        int node;
        char name[64];
        if (std::sscanf(line.c_str(), "Node %d, zone %63s", &node, name) == 2) {
            zones.push_back({node, name, 0, 0, 0});
            continue;
        }
        if (zones.empty()) continue;
        std::istringstream words(line);
        std::string key;
        uint64_t v;
        if (!(words >> key >> v)) continue;
        if (key == "spanned")
            zones.back().spanned = v;
        else if (key == "present")
            zones.back().present = v;
        else if (key == "start_pfn:")
            zones.back().start_pfn = v;
    }
    return zones;
}

const ZoneSpan* zone_of(const std::vector<ZoneSpan>& zones, uint64_t pfn)
{
    for (const auto& z : zones)
        if (z.spanned && pfn >= z.start_pfn && pfn < z.start_pfn + z.spanned) return &z;
    return nullptr;
}

std::vector<PfnSpan> parse_iomem_ram(std::string_view text)
{
    std::vector<PfnSpan> out;
    std::istringstream in{std::string(text)};
    std::string line;
    while (std::getline(in, line)) {
        if (line.empty() || line[0] == ' ') continue;  // top-level entries only
        uint64_t a, b;
        char name[64] = {};
        if (std::sscanf(line.c_str(), "%lx-%lx : %63[^\n]", &a, &b, name) != 3) continue;
        if (std::string_view(name) != "System RAM" || b <= a) continue;
        uint64_t start = (a + 4095) / 4096, end = (b + 1) / 4096;
        if (end > start) out.push_back({start, end, "System RAM"});
    }
    return out;
}

bool in_spans(const std::vector<PfnSpan>& spans, uint64_t pfn)
{
    for (const auto& s : spans)
        if (pfn >= s.start && pfn < s.end) return true;
    return false;
}

Result<PfnSpan> parse_pfn_range(std::string_view text)
{
    auto bad = [&](const std::string& why) {
        return make_error("'" + std::string(text) + "': " + why + " (expected A-B, A+N or A; e.g. 0x100000-0x13ffff)");
    };
    // Checked before any end is computed: A-0xffffffffffffffff would wrap
    // to an empty range.
    auto too_far = [&](uint64_t last) -> std::optional<Error> {
        if (last < kMaxPhysPfn) return std::nullopt;
        return bad("pfn " + hex(last) + " is past the largest an x86-64 machine has (" + hex(kMaxPhysPfn - 1) + ")");
    };
    size_t dash = text.find('-'), plus = text.find('+');
    std::optional<uint64_t> a, b;
    if (dash != std::string_view::npos) {
        a = parse_number(text.substr(0, dash));
        b = parse_number(text.substr(dash + 1));
        if (!a || !b) return bad("not a pfn range");
        if (*b < *a) return bad("the range ends before it starts");
        if (auto e = too_far(*b)) return *e;
        return PfnSpan{*a, *b + 1, "pfn " + hex(*a) + "-" + hex(*b)};
    }
    if (plus != std::string_view::npos) {
        a = parse_number(text.substr(0, plus));
        auto n = parse_number(text.substr(plus + 1));
        if (!a || !n) return bad("not a pfn range");
        if (*n == 0) return bad("an empty range");
        if (auto e = too_far(*a)) return *e;
        if (auto e = too_far(*n - 1 > kMaxPhysPfn - 1 - *a ? ~uint64_t{0} : *a + *n - 1)) return *e;
        return PfnSpan{*a, *a + *n, "pfn " + hex(*a) + "-" + hex(*a + *n - 1)};
    }
    a = parse_number(text);
    if (!a) return bad("not a pfn");
    if (auto e = too_far(*a)) return *e;
    return PfnSpan{*a, *a + 1, "pfn " + hex(*a)};
}

std::string describe_ram(const std::vector<PfnSpan>& ram)
{
    std::string out;
    for (const auto& r : ram) out += (out.empty() ? "" : ", ") + hex(r.start) + "-" + hex(r.end - 1);
    return out;
}

Result<std::vector<PfnSpan>> clip_to_ram(const PfnSpan& span, const std::vector<PfnSpan>& ram)
{
    std::vector<PfnSpan> out;
    for (const auto& r : ram) {
        uint64_t start = std::max(span.start, r.start), end = std::min(span.end, r.end);
        if (start >= end) continue;
        if (start == span.start && end == span.end) return std::vector<PfnSpan>{span};
        out.push_back({start, end, "pfn " + hex(start) + "-" + hex(end - 1)});
    }
    std::sort(out.begin(), out.end(), [](const PfnSpan& a, const PfnSpan& b) { return a.start < b.start; });
    if (out.empty()) return make_error(span.label + " is not RAM (System RAM: " + describe_ram(ram) + ")");
    return out;
}

namespace {

// /sys/firmware/memmap/N/{start,end,type}: the firmware's map (bytes, end
// included), as the kernel booted with it.
std::vector<PfnSpan> firmware_memmap_ram(const std::string& root)
{
    std::vector<PfnSpan> out;
    std::string dir = root + "/sys/firmware/memmap";
    for (int i = 0;; ++i) {
        std::string entry = dir + "/" + std::to_string(i);
        auto type = read_text_file(entry + "/type");
        if (!type) break;
        if (type.value().rfind("System RAM", 0) != 0) continue;
        auto a = read_text_file(entry + "/start"), b = read_text_file(entry + "/end");
        if (!a || !b) continue;
        auto start = parse_number(a.value()), end = parse_number(b.value());
        if (!start || !end || *end <= *start) continue;
        uint64_t first = (*start + 4095) / 4096, last = (*end + 1) / 4096;
        if (last > first) out.push_back({first, last, "System RAM"});
    }
    return out;
}

// The online memory blocks: where memory hotplug is built in.
std::vector<PfnSpan> memory_block_ram(const std::string& root)
{
    std::vector<PfnSpan> out;
    std::string dir = root + "/sys/devices/system/memory";
    auto bs = read_text_file(dir + "/block_size_bytes");
    if (!bs) return out;
    std::vector<uint64_t> blocks;
    if (DIR* d = ::opendir(dir.c_str())) {
        while (dirent* e = ::readdir(d)) {
            std::string_view name = e->d_name;
            if (!name.starts_with("memory")) continue;
            auto n = parse_number(name.substr(6), 10);
            if (!n) continue;
            auto state = read_text_file(dir + "/" + std::string(name) + "/state");
            if (state && state.value().rfind("online", 0) == 0) blocks.push_back(*n);
        }
        ::closedir(d);
    }
    std::sort(blocks.begin(), blocks.end());
    for (uint64_t b : blocks) {
        auto span = memory_block_span(b, bs.value());
        if (!span) return {};
        if (!out.empty() && out.back().end == span->start)
            out.back().end = span->end;
        else
            out.push_back({span->start, span->end, "System RAM"});
    }
    return out;
}

}  // namespace

Result<std::vector<PfnSpan>> system_ram(const std::string& root)
{
    if (auto iomem = read_text_file(root + "/proc/iomem")) {
        auto ram = parse_iomem_ram(iomem.value());
        if (!ram.empty()) return ram;
    }
    if (auto ram = firmware_memmap_ram(root); !ram.empty()) return ram;
    if (auto ram = memory_block_ram(root); !ram.empty()) return ram;
    // Others than root read every address in /proc/iomem as zero.
    return make_error(
        "no System RAM in /proc/iomem (needs root), /sys/firmware/memmap or "
        "/sys/devices/system/memory");
}

Result<std::vector<PfnSpan>> node_spans(const std::vector<ZoneSpan>& zones, int node)
{
    uint64_t lo = UINT64_MAX, hi = 0;
    bool known = false;
    for (const auto& z : zones) {
        if (z.node != node) continue;
        known = true;
        if (!z.spanned) continue;
        lo = std::min(lo, z.start_pfn);
        hi = std::max(hi, z.start_pfn + z.spanned);
    }
    if (!known) return make_error("node " + std::to_string(node) + " does not exist");
    if (hi <= lo) return make_error("node " + std::to_string(node) + " has no memory");
    return std::vector<PfnSpan>{{lo, hi, "node " + std::to_string(node)}};
}

Result<std::vector<PfnSpan>> zone_spans(const std::vector<ZoneSpan>& zones, std::string_view name)
{
    std::vector<PfnSpan> out;
    bool known = false;
    std::string names;
    for (const auto& z : zones) {
        if (names.find(z.zone) == std::string::npos) names += (names.empty() ? "" : ", ") + z.zone;
        if (!iequal(z.zone, name)) continue;
        known = true;
        if (z.spanned)
            out.push_back({z.start_pfn, z.start_pfn + z.spanned, "node " + std::to_string(z.node) + " " + z.zone});
    }
    if (!known) return make_error("no zone named '" + std::string(name) + "' (this kernel has: " + names + ")");
    if (out.empty()) return make_error("zone " + std::string(name) + " is empty on every node");
    return out;
}

Result<PfnSpan> memory_block_span(uint64_t block, std::string_view block_size_bytes, uint64_t page_size)
{
    auto size = parse_number(block_size_bytes, 16);
    if (!size || *size < page_size)
        return make_error("block_size_bytes: not a size: '" + std::string(block_size_bytes) + "'");
    uint64_t per = *size / page_size;
    return PfnSpan{block * per, (block + 1) * per, "memory block " + std::to_string(block)};
}

Result<std::string> read_text_file(const std::string& path)
{
    std::ifstream in(path);
    if (!in) return make_error(path + ": cannot read");
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

Result<RangeRequest> parse_range_spec(std::string_view spec)
{
    RangeRequest req;
    if (spec == "all") {
        req.all = true;
        return req;
    }
    auto colon = spec.find(':');
    std::string_view kind = spec.substr(0, colon),
                     value = colon == std::string_view::npos ? "" : spec.substr(colon + 1);
    auto bad = [&](const std::string& why) {
        return make_error("range '" + std::string(spec) + "': " + why +
                          " (all, pfn:A-B, node:N, zone:NAME, memory-block:N or cma:NAME)");
    };
    if (colon == std::string_view::npos || value.empty()) return bad("no value");
    if (kind == "pfn") {
        if (auto r = parse_pfn_range(value); !r) return bad(r.error().message);
        req.pfn = std::string(value);
    } else if (kind == "node" || kind == "memory-block") {
        auto n = parse_number(value, 10);
        if (!n || (kind == "node" && *n > 1u << 20)) return bad("not a number");
        if (kind == "node")
            req.node = static_cast<int>(*n);
        else
            req.memory_block = *n;
    } else if (kind == "zone") {
        req.zone = std::string(value);
    } else if (kind == "cma") {
        req.cma = std::string(value);
    } else {
        return bad("unknown kind '" + std::string(kind) + "'");
    }
    return req;
}

std::string describe(const RangeRequest& req)
{
    if (req.all) return "all memory (System RAM in /proc/iomem)";
    if (!req.pfn.empty()) return "pfn " + req.pfn;
    if (req.node) return "node " + std::to_string(*req.node);
    if (!req.zone.empty()) return "zone " + req.zone;
    if (req.memory_block) return "memory block " + std::to_string(*req.memory_block);
    if (!req.cma.empty()) return "CMA area " + req.cma;
    return "nothing";
}

Result<std::vector<PfnSpan>> resolve(const RangeRequest& req, const std::string& root)
{
    int given = !req.pfn.empty() + req.node.has_value() + !req.zone.empty() + req.memory_block.has_value() +
                !req.cma.empty() + req.all;
    if (given != 1) return make_error("give exactly one of --pfn, --node, --zone, --memory-block, --cma, --all");
    if (req.all) {
        auto ram = system_ram(root);
        if (!ram) return make_error("all memory: " + ram.error().message);
        return ram;
    }
    if (!req.cma.empty()) {
        // mm/cma_debug.c: base_pfn and count, "%llu\n"; only with debugfs
        // and CONFIG_CMA_DEBUGFS. /sys/kernel/mm/cma names areas, not ranges.
        std::string dbg = root + "/sys/kernel/debug/cma", names;
        for (const std::string& dir : {dbg, root + "/sys/kernel/mm/cma"})
            if (DIR* d = ::opendir(dir.c_str())) {
                while (dirent* e = ::readdir(d))
                    if (e->d_name[0] != '.' && names.find(e->d_name) == std::string::npos)
                        names += (names.empty() ? "" : ", ") + std::string(e->d_name);
                ::closedir(d);
            }
        if (!exists(dbg)) {
            return make_error("CMA ranges are only in " + dbg + " (mount debugfs; needs CONFIG_CMA_DEBUGFS)" +
                              (names.empty() ? std::string("; this kernel shows no CMA area") : "; areas: " + names));
        }
        auto base = read_text_file(dbg + "/" + req.cma + "/base_pfn");
        auto count = read_text_file(dbg + "/" + req.cma + "/count");
        if (!base || !count)
            return make_error("no CMA area '" + req.cma + "' (" + (names.empty() ? "none" : names) + ")");
        auto b = parse_number(base.value(), 10), c = parse_number(count.value(), 10);
        if (!b || !c || !*c) return make_error("CMA area " + req.cma + ": unreadable base_pfn or count");
        return std::vector<PfnSpan>{{*b, *b + *c, "cma " + req.cma}};
    }
    if (!req.pfn.empty()) {
        auto s = parse_pfn_range(req.pfn);
        auto ram = system_ram(root);
        // What the machine has, so the next try can be right.
        if (!s) return make_error(s.error().message + (ram ? "; System RAM: " + describe_ram(ram.value()) : ""));
        if (!ram) return make_error(s->label + ": cannot tell which pfns are RAM: " + ram.error().message);
        return clip_to_ram(s.value(), ram.value());
    }
    if (req.memory_block) {
        std::string dir = root + "/sys/devices/system/memory";
        auto bs = read_text_file(dir + "/block_size_bytes");
        if (!bs) return make_error("memory blocks: " + bs.error().message + " (no memory hotplug on this kernel?)");
        if (!exists(dir + "/memory" + std::to_string(*req.memory_block)))
            return make_error("memory block " + std::to_string(*req.memory_block) + " does not exist (see " + dir +
                              ")");
        auto s = memory_block_span(*req.memory_block, bs.value());
        if (!s) return s.error();
        return std::vector<PfnSpan>{s.value()};
    }
    auto text = read_text_file(root + "/proc/zoneinfo");
    if (!text) return text.error();
    auto zones = parse_zoneinfo(text.value());
    if (req.node) {
        if (*req.node < 0 || !exists(root + "/sys/devices/system/node/node" + std::to_string(*req.node)))
            return make_error("node " + std::to_string(*req.node) + " does not exist");
        return node_spans(zones, *req.node);
    }
    return zone_spans(zones, req.zone);
}

}  // namespace pintrace::snapshot
