#include "render/snapshot_views.hpp"

#include <charconv>
#include <cinttypes>
#include <cstdio>
#include <map>

#include "render/format.hpp"
#include "render/json_sections.hpp"
#include "render/json_writer.hpp"
#include "render/safe_text.hpp"
#include "render/table.hpp"
#include "util/hex.hpp"

namespace pintrace {
namespace {

using namespace snapshot;

std::string size_of(uint64_t pages)
{
    char b[32];
    double mib = static_cast<double>(pages) * 4096 / (1024.0 * 1024);
    if (mib >= 1024)
        std::snprintf(b, sizeof b, "%.1f GiB", mib / 1024);
    else
        std::snprintf(b, sizeof b, "%.1f MiB", mib);
    return b;
}

std::string pfn_list(const std::vector<uint64_t>& pfns, size_t shown, uint64_t total)
{
    std::string s;
    for (size_t i = 0; i < pfns.size() && i < shown; ++i) s += (i ? " " : "") + hex(pfns[i]);
    if (total > shown) s += " ... (+" + std::to_string(total - std::min<uint64_t>(shown, total)) + ")";
    return s;
}

}  // namespace

std::string render_candidates_text(const OwnerScan& owners, const std::string& indent)
{
    std::string out;
    for (const auto& c : owners.candidates) {
        out += indent + std::string(confidence_word(c.confidence)) + ": " + pid_comm(c.pid, c.comm) +
               (c.exe.empty() ? "" : " " + c.exe) + ", " + std::to_string(c.pfns.size()) + " page(s)\n";
        for (const auto& e : c.evidence)
            out += indent + "    " + e.what + ": " + pfn_list(e.pfns, 6, e.pfns.size()) + "\n";
    }
    if (owners.candidates.empty()) out += indent + "no process maps these pages or registered them as buffers\n";
    if (!owners.unowned.empty())
        out += indent + std::to_string(owners.unowned.size()) +
               " page(s) no process maps or registered (kernel, driver or unmapped holders): " +
               pfn_list(owners.unowned, 6, owners.unowned.size()) + "\n";
    // What those pages are, where the reverse map read it.
    std::map<std::string, std::vector<uint64_t>> by_what;
    for (uint64_t pfn : owners.unowned)
        if (auto it = owners.identities.find(pfn); it != owners.identities.end())
            by_what[page_what(it->second)].push_back(pfn);
    for (const auto& [what, pfns] : by_what)
        out += indent + "    " + what + ": " + pfn_list(pfns, 6, pfns.size()) + "\n";
    for (const auto& n : owners.notes) out += indent + "note: " + n + "\n";
    char line[200];
    std::snprintf(line, sizeof line,
                  "%s(%s; %" PRIu64 " processes searched, %" PRIu64 " unreadable, %" PRIu64
                  " pagemap entries, %.2f s)\n",
                  indent.c_str(),
                  owners.method == OwnerMethod::ReverseMap  ? "from the pages: reverse map" :
                  owners.method == OwnerMethod::PagemapWalk ? "every process's pagemap walked" :
                                                              "long-term pin holders only",
                  owners.processes, owners.processes_unreadable, owners.pages_walked, owners.seconds);
    // Candidates' comm and exe are any bytes their processes chose.
    return printable(out + line, true);
}

std::string render_snapshot_text(const SnapshotResult& r, const OwnerScan* owners)
{
    std::string out;
    char line[256];
    if (r.cma) {
        out += "CMA AREA " + r.cma->name + ":";
        for (const auto& s : r.cma->spans)
            out += " pfn " + format_pfn(s.start) + "-" + format_pfn(s.end - 1) + " (" + std::to_string(s.pages()) +
                   " pages)";
        out += ", range from " + r.cma->range_source + "\n ";
        for (const auto& [file, value] : r.cma->sysfs) out += " " + file + " " + value;
        out += "\n";
    }
    for (const auto& s : r.spans) {
        const Summary& sum = s.summary;
        std::snprintf(line, sizeof line, "SNAPSHOT %s: %" PRIu64 " pages (%s), %" PRIu64 " would block migration\n",
                      s.span.label.c_str(), sum.pages(), size_of(sum.pages()).c_str(), sum.blocking());
        out += line;
        if (sum.pages() < s.span.pages())
            out += "  (the range ends past the end of memory at " + hex(s.span.start + sum.pages()) + ")\n";
        Table t;
        t.columns = {{"CLASS"}, {"PAGES", true}, {"SHARE", true}, {"BLOCKS"}, {"WHAT"}};
        for (size_t i = 0; i < kPageClassCount; ++i) {
            auto cls = static_cast<PageClass>(i);
            if (!sum.counts[i]) continue;
            std::snprintf(
                line, sizeof line, "%.1f%%",
                100.0 * static_cast<double>(sum.counts[i]) / static_cast<double>(std::max<uint64_t>(1, sum.pages())));
            t.add({std::string(class_name(cls)), std::to_string(sum.counts[i]), line,
                   blocks_migration(cls) ? "yes" : "no", std::string(class_description(cls))});
        }
        out += t.text();
        for (size_t i = 0; i < kPageClassCount; ++i)
            if (!sum.examples[i].empty())
                out += "  " + std::string(class_name(static_cast<PageClass>(i))) +
                       " pfns: " + pfn_list(sum.examples[i], 8, sum.counts[i]) + "\n";
        if (sum.mlocked || sum.compound)
            out += "  also: " + std::to_string(sum.mlocked) + " mlocked, " + std::to_string(sum.compound) +
                   " in large folios\n";
        if (r.migratetype_visible && sum.migratetype_pages()) {
            out += "  pageblocks (pages by migratetype):";
            for (size_t i = 0; i < kMigratetypeSlots; ++i)
                if (sum.migratetypes[i])
                    out += " " + std::string(r.pageblocks.name(static_cast<int>(i))) + " " +
                           std::to_string(sum.migratetypes[i]);
            out += "\n";
        }
        if (sum.blocking_in_movable)
            out += "  " + std::to_string(sum.blocking_in_movable) +
                   " blocking page(s) sit in MOVABLE/CMA pageblocks, which the allocator keeps for pages it can "
                   "move (they defeat compaction, CMA and memory offline there): " +
                   pfn_list(sum.blocking_in_movable_examples, 8, sum.blocking_in_movable) + "\n";
    }
    if (r.spans.size() > 1) {
        std::snprintf(line, sizeof line, "TOTAL: %" PRIu64 " pages, %" PRIu64 " would block migration\n", r.pages(),
                      r.blocking());
        out += line;
    }
    std::snprintf(line, sizeof line, "read in %.3f s (%u thread%s) from %s\n", r.seconds, r.threads,
                  r.threads == 1 ? "" : "s", r.source.c_str());
    out += line;
    if (!r.suspicious.empty()) {
        out += "\nPAGES A PROCESS MAY HOLD (" + std::to_string(r.suspicious_total) + ")\n";
        size_t shown = 0;
        for (const auto& p : r.suspicious) {
            if (++shown > 20) break;
            out += "  " + hex(p.state.pfn) + "  " + std::string(class_name(p.verdict.cls)) + ": " + p.verdict.why +
                   "  [" + kpf_string(p.state.flags) + "]";
            if (p.state.migratetype) out += " " + std::string(r.pageblocks.name(*p.state.migratetype)) + " pageblock";
            out += "\n";
        }
    }
    if (owners) {
        out += "\nWHO MAY HOLD THEM (candidates from /proc, with evidence; not certainty)\n";
        out += render_candidates_text(*owners);
    }
    if (!r.blind.empty()) {
        out += "\nNOT VISIBLE from " + r.source + ":\n";
        for (const auto& b : r.blind) out += "  - " + b + "\n";
    }
    return printable(out, true);
}

void write_candidates(JsonWriter& j, const OwnerScan& owners)
{
    j.key("candidates").begin_array();
    for (const auto& c : owners.candidates) {
        j.begin_object().field("pid", c.pid).field("comm", c.comm).field("exe", c.exe);
        j.field("confidence", confidence_word(c.confidence));
        j.key("pfns").begin_array();
        for (auto p : c.pfns) j.value(p);
        j.end_array().key("evidence").begin_array();
        for (const auto& e : c.evidence) {
            j.begin_object().field("what", e.what).field("long_term", e.long_term).key("pfns").begin_array();
            for (auto p : e.pfns) j.value(p);
            j.end_array().end_object();
        }
        j.end_array().end_object();
    }
    j.end_array().key("unowned_pfns").begin_array();
    for (auto p : owners.unowned) j.value(p);
    j.end_array().string_array("owner_notes", owners.notes);
    j.field("owner_method", method_name(owners.method)).field("rmap_pages", owners.rmap_pages);
    j.field("rmap_mappers", owners.rmap_mappers).field("rmap_unconfirmed", owners.rmap_unconfirmed);
    j.field("pagemap_entries", owners.pages_walked);
    j.field("processes_searched", owners.processes).field("owner_seconds", owners.seconds);
    j.key("page_identities").begin_array();
    for (const auto& [pfn, id] : owners.identities) {
        j.begin_object().field("pfn", pfn);
        write_identity(j.key("page"), id);
        j.end_object();
    }
    j.end_array();
}

std::string render_snapshot_json(const SnapshotResult& r, const OwnerScan* owners)
{
    JsonWriter j;
    j.begin_object().field("schema", kSnapshotSchema).field("source", r.source).field("seconds", r.seconds);
    j.field("pages", r.pages()).field("blocking", r.blocking()).field("threads", r.threads);
    if (!r.pincount_field.empty()) j.field("pincount_field", r.pincount_field);
    if (r.cma) {
        j.key("cma_area").begin_object().field("name", r.cma->name).field("range_source", r.cma->range_source);
        j.key("ranges").begin_array();
        for (const auto& s : r.cma->spans) j.begin_array().value(s.start).value(s.end).end_array();
        j.end_array();
        // /sys/kernel/mm/cma/NAME/: numbers as numbers.
        j.key("sysfs").begin_object();
        for (const auto& [file, value] : r.cma->sysfs) {
            uint64_t v = 0;
            auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
            if (ec == std::errc() && p == value.data() + value.size() && !value.empty())
                j.field(file, v);
            else
                j.field(file, value);
        }
        j.end_object().end_object();
    }
    j.key("spans").begin_array();
    for (const auto& s : r.spans) {
        j.begin_object().field("label", s.span.label).field("start_pfn", s.span.start).field("end_pfn", s.span.end);
        j.field("pages", s.summary.pages()).field("blocking", s.summary.blocking());
        j.key("classes").begin_object();
        for (size_t i = 0; i < kPageClassCount; ++i)
            j.field(class_name(static_cast<PageClass>(i)), s.summary.counts[i]);
        j.end_object().key("examples").begin_object();
        for (size_t i = 0; i < kPageClassCount; ++i) {
            if (s.summary.examples[i].empty()) continue;
            j.key(class_name(static_cast<PageClass>(i))).begin_array();
            for (auto p : s.summary.examples[i]) j.value(p);
            j.end_array();
        }
        j.end_object().field("mlocked", s.summary.mlocked).field("compound", s.summary.compound);
        if (r.migratetype_visible) {
            j.key("migratetypes").begin_object();
            for (size_t i = 0; i < kMigratetypeSlots; ++i)
                if (s.summary.migratetypes[i])
                    j.field(r.pageblocks.name(static_cast<int>(i)), s.summary.migratetypes[i]);
            j.end_object().field("blocking_in_movable_blocks", s.summary.blocking_in_movable);
            j.key("blocking_in_movable_examples").begin_array();
            for (auto p : s.summary.blocking_in_movable_examples) j.value(p);
            j.end_array();
        }
        j.end_object();
    }
    j.end_array().key("suspicious").begin_array();
    for (const auto& p : r.suspicious) {
        j.begin_object()
            .field("pfn", p.state.pfn)
            .field("class", class_name(p.verdict.cls))
            .field("why", p.verdict.why);
        j.field("flags", kpf_string(p.state.flags)).field("zone", p.zone);
        if (p.state.refcount) j.field("refcount", *p.state.refcount);
        if (p.state.mapcount) j.field("mapcount", *p.state.mapcount);
        if (p.state.pincount) j.field("pincount", *p.state.pincount);
        if (p.state.folio_head) j.field("folio_head", *p.state.folio_head);
        if (p.state.folio_order) j.field("folio_order", *p.state.folio_order);
        if (p.state.migratetype) j.field("migratetype", r.pageblocks.name(*p.state.migratetype));
        j.end_object();
    }
    j.end_array().field("suspicious_total", r.suspicious_total);
    if (owners) write_candidates(j, *owners);
    j.string_array("not_visible", r.blind).end_object();
    return j.str() + "\n";
}

}  // namespace pintrace
