#include "snapshot/snapshot.hpp"

#include <chrono>
#include <set>

#include "snapshot/owners.hpp"
#include "snapshot/proc_source.hpp"

namespace pintrace::snapshot {

uint64_t SnapshotResult::pages() const
{
    uint64_t n = 0;
    for (const auto& s : spans) n += s.summary.pages();
    return n;
}

uint64_t SnapshotResult::blocking() const
{
    uint64_t n = 0;
    for (const auto& s : spans) n += s.summary.blocking();
    return n;
}

Classified classify_with(const PageState& p, const PinHints* hints)
{
    Classified c = classify(p);
    if (!hints || hints->empty() || c.cls == PageClass::Hole || c.cls == PageClass::Free || c.cls == PageClass::Pinned)
        return c;
    auto it = hints->find(p.pfn);
    if (it == hints->end()) return c;
    c.cls = PageClass::Pinned;
    c.why = it->second + (c.why.empty() ? "" : "; " + c.why);
    return c;
}

SuspiciousPage keep(const PageState& p, Classified c)
{
    SuspiciousPage s{p, std::move(c), std::string(p.zone)};
    s.state.zone = {};
    return s;
}

bool owner_worth_finding(PageClass c)
{
    return c == PageClass::Pinned || c == PageClass::MaybePinned || c == PageClass::ExtraRefs;
}

std::string source_name(bool with_bpf)
{
    return with_bpf ? "/proc/kpageflags + /proc/kpagecount + BPF refcounts" : "/proc/kpageflags + /proc/kpagecount";
}

namespace {

// Which zone each pfn is in, and which pfns are RAM at all: a page outside
// "System RAM" reads as flags 0, which would look like a kernel page.
struct MemoryLayout {
    std::vector<ZoneSpan> zones;
    std::vector<PfnSpan> ram;
};

MemoryLayout read_memory_layout(const std::string& root)
{
    MemoryLayout m;
    if (auto zinfo = read_text_file(root + "/proc/zoneinfo")) m.zones = parse_zoneinfo(zinfo.value());
    if (auto iomem = read_text_file(root + "/proc/iomem")) m.ram = parse_iomem_ram(iomem.value());
    return m;
}

}  // namespace

Result<SnapshotResult> take_snapshot(const std::vector<PfnSpan>& spans, const PinHints* hints, BpfRefcounts* bpf,
                                     const std::string& root)
{
    auto t0 = std::chrono::steady_clock::now();
    auto [zones, ram] = read_memory_layout(root);
    auto src = ProcPageSource::open(root);
    if (!src) return src.error();
    SnapshotResult r;
    r.source = source_name(bpf != nullptr);
    r.blind = ProcPageSource::blind_spots(bpf != nullptr);
    for (const auto& span : spans) {
        SpanResult sr{span, {}};
        sr.summary.start = span.start;
        auto ok = src->scan(span, zones, ram, [&](const PageState& p) {
            Classified c = classify_with(p, hints);
            sr.summary.add(p, c);
            if (owner_worth_finding(c.cls)) {
                ++r.suspicious_total;
                if (r.suspicious.size() < SnapshotResult::kMaxSuspicious) r.suspicious.push_back(keep(p, std::move(c)));
            }
        }, bpf);
        if (!ok) return ok.error();
        sr.summary.end = span.start + sr.summary.pages();
        r.spans.push_back(std::move(sr));
    }
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return r;
}

Result<SuspiciousPage> page_now(uint64_t pfn, const PinHints* hints, BpfRefcounts* bpf, const std::string& root)
{
    auto [zones, ram] = read_memory_layout(root);
    auto src = ProcPageSource::open(root);
    if (!src) return src.error();
    std::optional<SuspiciousPage> out;
    auto ok = src->scan(PfnSpan{pfn, pfn + 1, ""}, zones, ram, [&](const PageState& p) {
        out = keep(p, classify_with(p, hints));
    }, bpf);
    if (!ok) return ok.error();
    if (!out) return make_error("pfn " + std::to_string(pfn) + " is beyond the end of memory");
    return *out;
}

}  // namespace pintrace::snapshot
