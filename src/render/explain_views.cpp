#include "render/explain_views.hpp"

#include <cinttypes>
#include <cstdio>

#include "render/format.hpp"
#include "render/json_sections.hpp"
#include "render/json_writer.hpp"
#include "render/safe_text.hpp"
#include "render/snapshot_views.hpp"

namespace pintrace {

using namespace snapshot;

namespace {

std::string holder_text(const PageHolderNow& h)
{
    std::string how = "possible holder (maps it)";
    if (h.confidence == Confidence::Likely)
        how = h.named_by_fd ?
                  "likely holder (pinned it as " + std::string(origin_description(h.origin)) + ")" :
                  "likely holder (a long-term pin holder that maps it: " + std::string(origin_description(h.origin)) +
                      ")";
    return how + ": " + pid_comm(h.pid, h.comm);
}

// What the reverse map read of the page, where it ran.
const PageIdentity* identity_of(const Explanation& e, uint64_t pfn)
{
    if (!e.owners) return nullptr;
    auto it = e.owners->identities.find(pfn);
    return it == e.owners->identities.end() ? nullptr : &it->second;
}

}  // namespace

std::string render_explain_text(const Explanation& e)
{
    std::string out;
    for (const auto& p : e.pages) {
        const PageState& s = p.page.state;
        char head[64];
        std::snprintf(head, sizeof head, "PFN 0x%" PRIx64 " NOW: ", s.pfn);
        out += head + std::string(class_name(p.page.verdict.cls)) + " (" + p.page.verdict.why + "); flags " +
               kpf_string(s.flags) + (p.page.zone.empty() ? "" : "; zone " + p.page.zone);
        if (s.pincount && s.folio_order)
            out += "; folio of order " + std::to_string(*s.folio_order) + ", pin count " + std::to_string(*s.pincount);
        if (!p.migratetype.empty()) out += "; " + p.migratetype + " pageblock";
        out += "\n  would block migration: " +
               (p.blocks_migration ? "yes, " + std::string(class_description(p.page.verdict.cls)) :
                                     std::string("not by what this source shows")) +
               "\n";
        if (const PageIdentity* id = identity_of(e, s.pfn)) out += "  what it is: " + page_what_at(*id) + "\n";
        for (const auto& h : p.holders) out += "  " + holder_text(h) + "\n";
    }
    if (e.owners) {
        out += "\nWHO MAY HOLD IT NOW (candidates from /proc, with evidence; not certainty)\n";
        out += render_candidates_text(*e.owners);
    }
    if (e.recorded) {
        // An unclosed trace (recorder killed) is read anyway, as report
        // --allow-incomplete reads it, but said to be: what happened after
        // its last record is unknown, so its history is not certain.
        out += "\nRECORDED in " + e.trace +
               (e.trace_complete ? " (certain: seen as it happened)" :
                                   " (INCOMPLETE: the trace was not closed (recorder killed?); events near its end "
                                   "are missing, so this history is not certain)");
        if (const PairingMode* m = pairing_mode(*e.recorded); m && !m->complete)
            out += "  note: recorded with pairing in the kernel: pins of this page released within " +
                   pairing_threshold(*e.recorded) +
                   " are not in its history (record --all-events keeps every pin)\n";
        out += render_history_text(*e.recorded, e.view);
    } else {
        out += "\n(no trace given: pass one recorded by `pintrace record` for this page's pin history)\n";
    }
    out += "\nNOT VISIBLE from " + e.source + ":\n";
    for (const auto& b : e.not_visible) out += "  - " + b + "\n";
    return printable(out, true);  // candidates' comm: any bytes their processes chose
}

std::string render_explain_json(const Explanation& e)
{
    JsonWriter j;
    j.begin_object().field("schema", kExplainSchema).field("source", e.source);
    j.key("pages").begin_array();
    for (const auto& p : e.pages) {
        const PageState& s = p.page.state;
        j.begin_object().field("pfn", s.pfn).field("class", class_name(p.page.verdict.cls));
        j.field("why", p.page.verdict.why).field("flags", kpf_string(s.flags)).field("zone", p.page.zone);
        if (s.refcount) j.field("refcount", *s.refcount);
        if (s.mapcount) j.field("mapcount", *s.mapcount);
        if (s.pincount) j.field("pincount", *s.pincount);
        if (s.folio_order) j.field("folio_order", *s.folio_order);
        if (!p.migratetype.empty()) j.field("migratetype", p.migratetype);
        j.field("blocks_migration", p.blocks_migration);
        if (const PageIdentity* id = identity_of(e, s.pfn)) write_identity(j.key("page"), *id);
        j.key("holders_now").begin_array();
        for (const auto& h : p.holders)
            j.begin_object()
                .field("pid", h.pid)
                .field("comm", h.comm)
                .field("confidence", confidence_word(h.confidence))
                .field("origin", origin_name(h.origin))
                .field("pinned_by_fd", h.named_by_fd)
                .end_object();
        j.end_array().end_object();
    }
    j.end_array();
    if (e.owners) write_candidates(j, *e.owners);
    if (e.recorded) {
        const PairingMode* m = pairing_mode(*e.recorded);
        j.key("trace").begin_object().field("file", e.trace).field("complete", e.trace_complete);
        j.field("every_pin_recorded", !m || m->complete).end_object();
        write_history(j, *e.recorded);
    } else {
        j.key("trace").null();
    }
    j.string_array("not_visible", e.not_visible).field("exit_code", e.exit_code).end_object();
    return j.str() + "\n";
}

}  // namespace pintrace
