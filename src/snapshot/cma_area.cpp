#include "snapshot/cma_area.hpp"

#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <charconv>

#include "snapshot/bpf_source.hpp"

namespace pintrace::snapshot {
namespace {

std::vector<std::string> entries(const std::string& dir)
{
    std::vector<std::string> out;
    if (DIR* d = ::opendir(dir.c_str())) {
        while (dirent* e = ::readdir(d))
            if (e->d_name[0] != '.') out.emplace_back(e->d_name);
        ::closedir(d);
    }
    std::sort(out.begin(), out.end());
    return out;
}

std::string trim(std::string s)
{
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
    return s;
}

std::optional<uint64_t> number(const std::string& s)
{
    uint64_t v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
    return v;
}

std::string join(const std::vector<std::string>& v)
{
    std::string s;
    for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
    return s.empty() ? "none" : s;
}

}  // namespace

const std::string* CmaArea::counter(std::string_view file) const
{
    for (const auto& [k, v] : sysfs)
        if (k == file) return &v;
    return nullptr;
}

std::vector<std::string> cma_area_names(const std::string& root)
{
    auto names = entries(root + "/sys/kernel/mm/cma");
    for (auto& n : entries(root + "/sys/kernel/debug/cma"))
        if (std::find(names.begin(), names.end(), n) == names.end()) names.push_back(n);
    std::sort(names.begin(), names.end());
    return names;
}

Result<std::vector<std::pair<std::string, std::string>>> read_cma_sysfs(const std::string& name,
                                                                        const std::string& root)
{
    std::string dir = root + "/sys/kernel/mm/cma/" + name;
    struct stat st;
    if (name.empty() || name.find('/') != std::string::npos || ::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
        return make_error("no CMA area '" + name + "' (areas: " + join(cma_area_names(root)) + ")");
    std::vector<std::pair<std::string, std::string>> out;
    for (const auto& f : entries(dir))
        if (auto text = read_text_file(dir + "/" + f)) out.emplace_back(f, trim(text.value()));
    return out;
}

std::vector<PfnSpan> cma_block_runs(uint64_t first_pfn, std::span<const int> types, int cma_value, unsigned order)
{
    std::vector<PfnSpan> runs;
    for (size_t i = 0; i < types.size(); ++i) {
        if (cma_value < 0 || types[i] != cma_value) continue;
        uint64_t start = first_pfn + (uint64_t{i} << order), end = start + (uint64_t{1} << order);
        if (!runs.empty() && runs.back().end == start)
            runs.back().end = end;
        else
            runs.push_back({start, end, ""});
    }
    return runs;
}

Result<std::vector<PfnSpan>> pick_area_runs(const std::vector<PfnSpan>& runs, uint64_t total_pages, size_t areas,
                                            const std::string& name)
{
    uint64_t sum = 0;
    for (const auto& r : runs) sum += r.pages();
    std::vector<PfnSpan> out;
    if (areas == 1) {
        if (sum != total_pages)
            return make_error("CMA area " + name + ": " + std::to_string(sum) +
                              " pages of MIGRATE_CMA pageblocks, but total_pages says " + std::to_string(total_pages) +
                              " (part of the area isolated by an allocation running now?)");
        out = runs;
    } else {
        for (const auto& r : runs)
            if (r.pages() == total_pages) out.push_back(r);
        if (out.size() != 1)
            return make_error("CMA area " + name + ": " + std::to_string(out.size()) +
                              " runs of MIGRATE_CMA pageblocks of " + std::to_string(total_pages) + " pages among " +
                              std::to_string(areas) + " areas: the pageblocks cannot tell which is " + name +
                              " (CONFIG_CMA_DEBUGFS would: /sys/kernel/debug/cma/" + name + "/base_pfn)");
    }
    for (auto& r : out) r.label = "cma " + name;
    return out;
}

Result<CmaArea> locate_cma_area(const std::string& name, BpfRefcounts* bpf, const std::string& root)
{
    CmaArea area;
    area.name = name;
    std::string dbg = root + "/sys/kernel/debug/cma/" + name;
    auto sysfs = read_cma_sysfs(name, root);
    if (sysfs) area.sysfs = std::move(sysfs.value());
    // mm/cma_debug.c: base_pfn and count, "%llu\n".
    auto base = read_text_file(dbg + "/base_pfn"), count = read_text_file(dbg + "/count");
    if (base && count) {
        auto b = number(trim(base.value())), c = number(trim(count.value()));
        if (!b || !c || !*c) return make_error("CMA area " + name + ": unreadable base_pfn or count in " + dbg);
        area.spans = {{*b, *b + *c, "cma " + name}};
        area.range_source = dbg + "/base_pfn and count";
        return area;
    }
    if (!sysfs) return sysfs.error();
    const std::string* total_text = area.counter("total_pages");
    auto total = total_text ? number(*total_text) : std::nullopt;
    if (!total || !*total)
        return make_error("CMA area " + name +
                          ": no debugfs (CONFIG_CMA_DEBUGFS) and no total_pages in /sys/kernel/mm/cma/" + name +
                          " (before 6.14): its range cannot be found");
    if (!bpf)
        return make_error("CMA area " + name +
                          ": without debugfs its range comes from the pageblocks, which needs BPF");
    if (!bpf->migratetype_visible() || bpf->pageblocks().cma < 0)
        return make_error("CMA area " + name +
                          ": without debugfs its range comes from the pageblocks' migratetype, not visible here: " +
                          (bpf->migratetype_visible() ? std::string("this kernel has no MIGRATE_CMA") :
                                                        bpf->migratetype_unavailable()));
    // Where to look: node N for hugetlb_cma's hugetlbN, else all RAM.
    std::vector<PfnSpan> where;
    int node = -1;
    if (name.rfind("hugetlb", 0) == 0)
        if (auto n = number(name.substr(7)); n && *n < 1024) node = static_cast<int>(*n);
    if (node >= 0) {
        auto zi = read_text_file(root + "/proc/zoneinfo");
        if (!zi) return zi.error();
        auto spans = node_spans(parse_zoneinfo(zi.value()), node);
        if (!spans) return spans.error();
        where = spans.value();
    } else {
        auto iomem = read_text_file(root + "/proc/iomem");
        if (!iomem) return iomem.error();
        where = parse_iomem_ram(iomem.value());
        if (where.empty()) return make_error("no System RAM in /proc/iomem (needs root)");
    }
    const PageblockLayout& layout = bpf->pageblocks();
    const uint64_t block = uint64_t{1} << layout.order;
    const size_t run = BpfRefcounts::run_pages() / block * block;
    std::vector<PfnSpan> runs;
    std::vector<PageOp> ops(run, PageOp::Skip);
    std::vector<BpfPage> out(run);
    std::vector<uint16_t> blocks;
    for (const auto& w : where) {
        uint64_t start = w.start / block * block;
        while (start < w.end) {
            size_t n = static_cast<size_t>(std::min<uint64_t>(run, (w.end - start + block - 1) / block * block));
            blocks.assign(bpf->pageblocks_in(start, n), kNoBlock);
            if (auto r = bpf->read(0, start, std::span(ops).first(n), out, blocks); !r) return r.error();
            std::vector<int> types;
            for (uint16_t raw : blocks) types.push_back(raw == kNoBlock ? -1 : layout.decode(raw));
            for (auto& r : cma_block_runs(start, types, layout.cma, layout.order)) {
                if (!runs.empty() && runs.back().end == r.start)
                    runs.back().end = r.end;
                else
                    runs.push_back(r);
            }
            start += n;
        }
    }
    auto names = entries(root + "/sys/kernel/mm/cma");
    auto picked = pick_area_runs(runs, *total, names.size(), name);
    if (!picked) return picked.error();
    area.spans = picked.value();
    area.range_source = "MIGRATE_CMA pageblocks" + std::string(node >= 0 ? " of node " + std::to_string(node) : "") +
                        " matching /sys/kernel/mm/cma/" + name + "/total_pages (no CONFIG_CMA_DEBUGFS)";
    return area;
}

}  // namespace pintrace::snapshot
