#include "snapshot/snapshot.hpp"

#include <atomic>
#include <chrono>
#include <optional>
#include <set>
#include <thread>

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

Classified classify_with(const PageState& p, const PinHints* hints, bool explain)
{
    Classified c = classify(p, explain);
    if (!hints || hints->empty() || c.cls == PageClass::Hole || c.cls == PageClass::Free || c.cls == PageClass::Pinned)
        return c;
    auto it = hints->find(p.pfn);
    if (it == hints->end()) return c;
    c.cls = PageClass::Pinned;
    if (explain) c.why = it->second + (c.why.empty() ? "" : "; " + c.why);
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

std::vector<PieceSpan> plan_pieces(const std::vector<PfnSpan>& spans, const std::vector<PfnSpan>& ram)
{
    // Past the last RAM page /proc/kpageflags ends: a piece there reads
    // nothing, so none is made (a span ending there ends with memory).
    uint64_t ram_end = ram.empty() ? UINT64_MAX : 0;
    for (const auto& r : ram) ram_end = std::max(ram_end, r.end);
    std::vector<PieceSpan> pieces;
    for (size_t si = 0; si < spans.size(); ++si) {
        uint64_t end = std::min(spans[si].end, ram_end);
        for (uint64_t pfn = spans[si].start; pfn < end;) {
            uint64_t next = std::min(end, (pfn / ProcPageSource::kPiece + 1) * ProcPageSource::kPiece);
            pieces.push_back(PieceSpan{si, pfn, static_cast<size_t>(next - pfn)});
            pfn = next;
        }
    }
    return pieces;
}

namespace {

// One piece of a span, read by one thread; merged in pfn order after.
struct Piece : PieceSpan {
    size_t got = 0;
    Summary summary;
    std::vector<SuspiciousPage> suspicious;
    uint64_t suspicious_total = 0;
    std::optional<Error> error;
};

}  // namespace

Result<SnapshotResult> take_snapshot(const std::vector<PfnSpan>& spans, const PinHints* hints, BpfRefcounts* bpf,
                                     const std::string& root, unsigned threads)
{
    auto t0 = std::chrono::steady_clock::now();
    // Not a structured binding: the workers' lambda uses them (clang < 16).
    MemoryLayout memory = read_memory_layout(root);
    auto& zones = memory.zones;
    auto& ram = memory.ram;
    auto src = ProcPageSource::open(root);
    if (!src) return src.error();
    SnapshotResult r;
    r.source = source_name(bpf != nullptr);
    r.blind = ProcPageSource::blind_spots(bpf);
    const uint64_t heads_missed_before = bpf ? bpf->heads_not_found() : 0;
    if (bpf) {
        r.migratetype_visible = bpf->migratetype_visible();
        r.pageblocks = bpf->pageblocks();
        r.pincount_field = bpf->pincount_field();
    }
    const PageblockLayout* layout = r.migratetype_visible ? &r.pageblocks : nullptr;

    std::vector<Piece> pieces;
    for (const PieceSpan& p : plan_pieces(spans, ram)) pieces.push_back(Piece{p});
    if (!threads) threads = std::max(1u, std::thread::hardware_concurrency());
    if (bpf) threads = std::min(threads, BpfRefcounts::slots());
    threads = static_cast<unsigned>(std::min<size_t>(threads, std::max<size_t>(1, pieces.size())));
    r.threads = threads;

    std::atomic<size_t> next{0};
    auto work = [&](unsigned slot) {
        for (size_t k; (k = next.fetch_add(1)) < pieces.size();) {
            Piece& piece = pieces[k];
            auto got = src->scan_piece(
                piece.start, piece.n, zones, ram,
                [&](const PageState& p) {
                    // The why text only for the pages kept: building it for
                    // every page cost more than the rest of the walk.
                    Classified c = classify_with(p, hints, false);
                    piece.summary.add(p, c, layout);
                    if (owner_worth_finding(c.cls)) {
                        ++piece.suspicious_total;
                        if (piece.suspicious.size() < SnapshotResult::kMaxSuspicious)
                            piece.suspicious.push_back(keep(p, classify_with(p, hints)));
                    }
                },
                bpf, slot);
            if (!got)
                piece.error = got.error();
            else
                piece.got = got.value();
        }
    };
    std::vector<std::thread> pool;
    for (unsigned t = 1; t < threads; ++t) pool.emplace_back(work, t);
    work(0);
    for (auto& t : pool) t.join();
    if (bpf && bpf->heads_not_found() > heads_missed_before)
        r.blind.push_back(std::to_string(bpf->heads_not_found() - heads_missed_before) +
                          " run(s) of tail pages whose head page could not be found (" +
                          (bpf->head_field().empty() ? std::string("no head field in this kernel's BTF") :
                                                       "its " + bpf->head_field() + " word made no sense") +
                          "): their folio's order and pin count");

    r.spans.reserve(spans.size());
    for (const auto& span : spans) {
        SpanResult sr{span, {}};
        sr.summary.start = span.start;
        r.spans.push_back(std::move(sr));
    }
    std::vector<bool> ended(spans.size(), false);  // memory ended inside the span
    for (auto& piece : pieces) {
        if (piece.error) return *piece.error;
        if (ended[piece.span]) continue;
        r.spans[piece.span].summary.merge(piece.summary);
        r.suspicious_total += piece.suspicious_total;
        for (auto& s : piece.suspicious) {
            if (r.suspicious.size() >= SnapshotResult::kMaxSuspicious) break;
            r.suspicious.push_back(std::move(s));
        }
        if (piece.got < piece.n) ended[piece.span] = true;
    }
    for (auto& sr : r.spans) sr.summary.end = sr.span.start + sr.summary.pages();
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return r;
}

Result<SuspiciousPage> page_now(uint64_t pfn, const PinHints* hints, BpfRefcounts* bpf, const std::string& root)
{
    auto [zones, ram] = read_memory_layout(root);
    auto src = ProcPageSource::open(root);
    if (!src) return src.error();
    std::optional<SuspiciousPage> out;
    auto ok = src->scan(
        PfnSpan{pfn, pfn + 1, ""}, zones, ram, [&](const PageState& p) { out = keep(p, classify_with(p, hints)); },
        bpf);
    if (!ok) return ok.error();
    if (!out) return make_error("pfn " + std::to_string(pfn) + " is beyond the end of memory");
    return *out;
}

}  // namespace pintrace::snapshot
