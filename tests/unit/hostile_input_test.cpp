// Hostile input: traces whose records claim counts or pfns no kernel can
// produce. Each must be refused as corrupt, naming the record's byte offset,
// before it drives a loop or an allocation; and a trace of legitimate
// records of the largest size costs a fixed amount of ledger work per record.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>

#include "event_builders.hpp"
#include "events/bounds.hpp"
#include "explain/explainer.hpp"
#include "ledger/ledger.hpp"
#include "render/report_views.hpp"
#include "sample_trace.hpp"
#include "snapshot/range.hpp"
#include "snapshot/snapshot.hpp"
#include "trace/format.hpp"
#include "trace/reader.hpp"
#include "trace_bytes.hpp"

namespace pintrace {
namespace {

using testing::HasSubstr;

using test::bytes_of;
using test::raw_head;

constexpr uint32_t kPin = test::k61Pin | test::k61Longterm;

std::string temp_path(const char* name) { return ::testing::TempDir() + "/" + name + std::to_string(getpid()); }

using test::slurp;

// The hostile-trace generator: a header (with the recorded machine's RAM
// when ram is given), the records write() appends, a Finish record. Returns
// the file's bytes and, in first_record, where the records begin.
std::string make_trace(const std::function<void(TraceWriter&)>& write, const std::string& ram = "",
                       size_t* first_record = nullptr)
{
    TraceInfo info = test::sample_info();
    if (!ram.empty()) info.meta["ram_pfns"] = ram;
    std::string path = temp_path("hostile.trace");
    auto w = TraceWriter::create(path, info);
    EXPECT_TRUE(w.ok());
    write(w.value());
    EXPECT_TRUE(w->finish(FinishEvent{9000, 0, 0, StopReason::Signal, -1}).ok());
    std::string bytes = slurp(path);
    trace::FileHeader fh;
    std::memcpy(&fh, bytes.data(), sizeof fh);
    // The records begin after the header and the seal that ends its block.
    if (first_record)
        *first_record = sizeof fh + fh.sections_bytes + sizeof(trace::UserRecordHeader) + sizeof(trace::SealPayload);
    return bytes;
}

std::vector<std::byte> grab_of(uint64_t pfn, uint32_t nr_pages, uint32_t count = 1)
{
    pt_grab g{};
    g.h = raw_head(PT_REC_GRAB, sizeof g, PT_HOOK_TRY_GRAB_COMPOUND_HEAD, 2000, 4242, "qemu-kvm");
    g.pfn = pfn;
    g.nr_pages = nr_pages;
    g.count = count;
    g.gup_flags = kPin;
    g.kstack_id = 1;
    g.ustack_id = -14;
    return bytes_of(g);
}

std::vector<std::byte> release_of(uint64_t pfn, uint32_t nr_pages, uint32_t refs = 1)
{
    pt_release r{};
    r.h = raw_head(PT_REC_RELEASE, sizeof r, PT_HOOK_GUP_PUT_FOLIO, 3000, 4242, "qemu-kvm");
    r.pfn = pfn;
    r.refs = refs;
    r.gup_flags = test::k61Pin;
    r.nr_pages = nr_pages;
    return bytes_of(r);
}

std::vector<std::byte> freed_of(uint64_t pfn, uint32_t order)
{
    pt_page_freed f{};
    f.h = raw_head(PT_REC_PAGE_FREED, sizeof f, PT_HOOK_PAGE_FREE_TP, 4000, 4242, "qemu-kvm");
    f.pfn = pfn;
    f.order = order;
    return bytes_of(f);
}

std::vector<std::byte> failed_of(uint64_t pfn, uint32_t nr_pages)
{
    auto b = test::raw_failed(5001, 77, pfn, 1026, 0);
    pt_failed_folio f;
    std::memcpy(&f, b.data(), sizeof f);
    f.nr_pages = nr_pages;
    return bytes_of(f);
}

std::vector<std::byte> cma_busy_of(uint64_t pfn, uint64_t count)
{
    pt_cma c{};
    c.h = raw_head(PT_REC_CMA, sizeof c, PT_HOOK_CMA_BUSY_RETRY_TP, 6000, 55, "cma-user");
    c.op = PT_CMA_BUSY_RETRY;
    c.pfn = pfn;
    c.count = count;
    return bytes_of(c);
}

struct Read {
    Result<ReadSummary> summary = make_error("not read");
    std::vector<Event> events;
};

Read read_trace(std::string bytes)
{
    Read out;
    auto reader = TraceReader::from_bytes(std::move(bytes));
    EXPECT_TRUE(reader.ok()) << reader.error().message;
    if (!reader) return out;
    out.summary = reader->read([&](const Event& e) { out.events.push_back(e); });
    return out;
}

// Replays what was read into a ledger, as report does.
PinLedger replay(const std::vector<Event>& events)
{
    PinLedger ledger;
    for (const Event& e : events) {
        if (auto* g = std::get_if<GrabEvent>(&e))
            ledger.grab(*g);
        else if (auto* r = std::get_if<ReleaseEvent>(&e))
            ledger.release(*r);
        else if (auto* f = std::get_if<PageFreedEvent>(&e))
            ledger.page_freed(f->pfn, f->nr_pages, f->head.ts_ns);
    }
    return ledger;
}

struct Hostile {
    const char* name;
    std::vector<std::byte> record;
    std::string ram;  // the header's ram_pfns ("" none)
    const char* expect;  // in the error, besides "at byte N"
};

// One record each that no kernel writes. On the code before the bounds,
// the first alone made `pintrace report` allocate 12.5 GB in a minute.
std::vector<Hostile> hostile_records()
{
    return {
        {"grab_of_4G_pages", grab_of(0x1000, 0xffffffff), "", "corrupt grab record: nr_pages 4294967295"},
        {"grab_count_past_refcount", grab_of(0x1000, 1, 0x80000000), "", "corrupt grab record: count 2147483648"},
        {"grab_at_pfn_minus_one", grab_of(~uint64_t{0}, 1), "", "corrupt grab record: pfn 0xffffffffffffffff"},
        {"grab_wrapping_past_the_end", grab_of(kMaxPhysPfn - 1, 2), "", "corrupt grab record: pfn"},
        {"grab_past_the_architecture_with_ram", grab_of(kMaxPhysPfn, 1), "0x1000-0x9ffff,0x100000-0x63fffff",
         "beyond the largest pfn of 52-bit physical addresses"},
        {"release_of_2G_pages", release_of(0x1000, 0x80000000), "", "corrupt release record: nr_pages 2147483648"},
        {"release_not_a_folio_size", release_of(0x1000, 3), "",
         "corrupt release record: nr_pages 3 is not a folio size"},
        {"release_refs_past_refcount", release_of(0x1000, 1, 0xffffffff), "", "corrupt release record: refs"},
        {"free_of_order_31", freed_of(0x1000, 31), "", "corrupt page-freed record: order 31"},
        {"free_of_order_19", freed_of(0x1000, 19), "", "corrupt page-freed record: order 19"},
        {"failed_folio_of_4G_pages", failed_of(0x1000, 0xffffffff), "", "corrupt failed-folio record: nr_pages"},
        {"cma_busy_range_wrapping", cma_busy_of(~uint64_t{0} - 4, 16), "", "corrupt cma record: range end"},
    };
}

TEST(HostileInput, EveryImpossibleCountIsCorruptAtItsByteOffset)
{
    for (const Hostile& h : hostile_records()) {
        SCOPED_TRACE(h.name);
        size_t first = 0;
        auto bytes = make_trace(
            [&](TraceWriter& w) {
                ASSERT_TRUE(w.append_kernel_record(test::raw_grab(1000, 4242, 0x2000, kPin)).ok());
                ASSERT_TRUE(w.append_kernel_record(h.record).ok());
            },
            h.ram, &first);
        size_t at = first + test::raw_grab(1000, 4242, 0x2000, kPin).size();
        auto read = read_trace(bytes);
        ASSERT_FALSE(read.summary.ok()) << "read a record no kernel writes";
        const std::string& msg = read.summary.error().message;
        EXPECT_THAT(msg, HasSubstr(h.expect)) << msg;
        EXPECT_THAT(msg, HasSubstr("at byte " + std::to_string(at))) << msg;
        // What came before the corrupt record was delivered, and nothing after.
        EXPECT_EQ(read.events.size(), 1u);
    }
}

// The same records in a trace read with --allow-incomplete: corruption
// stops the read either way (it is not a cut file).
TEST(HostileInput, AllowIncompleteDoesNotReadPastCorruption)
{
    auto bytes =
        make_trace([](TraceWriter& w) { ASSERT_TRUE(w.append_kernel_record(grab_of(0x1000, 0xffffffff)).ok()); });
    auto reader = TraceReader::from_bytes(bytes);
    ASSERT_TRUE(reader.ok());
    auto r = reader->read([](const Event&) {}, {true});
    ASSERT_FALSE(r.ok());
    EXPECT_THAT(r.error().message, HasSubstr("corrupt grab record")) << r.error().message;
}

// The largest records the kernel does write (1 GiB folios, order 18) cost
// a few table operations per 512-page region each (a grab is one run,
// registered in each region it spans), not one per page: O(records) work
// for a trace of N bytes, and memory for what is still held only.
TEST(HostileInput, LargestLegitimateRecordsCostAFixedAmountEach)
{
    constexpr int kRecords = 8;
    auto bytes = make_trace(
        [](TraceWriter& w) {
            for (int i = 0; i < kRecords; ++i) {
                uint64_t pfn = 0x100000 + uint64_t(i) * kMaxFolioPages;
                ASSERT_TRUE(w.append_kernel_record(grab_of(pfn, kMaxFolioPages)).ok());
                ASSERT_TRUE(w.append_kernel_record(freed_of(pfn, kMaxFolioOrder)).ok());
            }
        },
        "0x100000-0x63fffff");
    auto read = read_trace(bytes);
    ASSERT_TRUE(read.summary.ok()) << read.summary.error().message;
    PinLedger ledger = replay(read.events);
    // Two records per folio; the grab registers its run in 512 regions, the
    // free looks up those regions for page slots and for runs, and takes
    // the run out of them: 4 x 512 per pair, against 2 x 262144 per page.
    constexpr uint64_t kRegions = kMaxFolioPages / 512;
    EXPECT_LE(ledger.page_ops(), kRecords * 4 * (kRegions + 2));
    EXPECT_GE(ledger.page_ops(), kRecords * kRegions) << "the work is counted";
    EXPECT_EQ(ledger.pages_held(), 0u) << "every grabbed page was freed";
}

// The ~200-byte reproducer of the report that allocated 12.5 GB: the
// ledger sees nothing of it.
TEST(HostileInput, TinyTraceClaimingHugeGrabDoesNoLedgerWork)
{
    auto bytes =
        make_trace([](TraceWriter& w) { ASSERT_TRUE(w.append_kernel_record(grab_of(0x1000, 0xffffffff)).ok()); });
    EXPECT_LT(bytes.size(), 2048u);
    auto read = read_trace(bytes);
    ASSERT_FALSE(read.summary.ok());
    PinLedger ledger = replay(read.events);
    EXPECT_EQ(ledger.page_ops(), 0u);
    EXPECT_EQ(ledger.pages_held(), 0u);
}

// Device memory (persistent memory under DAX, a PCI BAR for peer-to-peer
// DMA) and memory added while recording lie outside the header's System
// RAM, and GUP takes them: their records are read like any other, and
// counted. Refusing them made every trace of such a host unreadable.
TEST(HostileInput, PagesOutsideRecordedRamAreReadAndCounted)
{
    auto bytes = make_trace(
        [](TraceWriter& w) {
            ASSERT_TRUE(w.append_kernel_record(grab_of(0x2000, 1)).ok());  // RAM
            ASSERT_TRUE(w.append_kernel_record(grab_of(0x6400000, 1)).ok());  // past its end: a pmem page
            ASSERT_TRUE(w.append_kernel_record(grab_of(0x9ff00, 512)).ok());  // a folio across a hole's start
        },
        "0x1000-0x9ffff,0x100000-0x63fffff");
    auto reader = TraceReader::from_bytes(bytes);
    ASSERT_TRUE(reader.ok()) << reader.error().message;
    Explainer explainer(reader->info());
    auto summary = reader->read([&](const Event& e) { explainer.consume(e); });
    ASSERT_TRUE(summary.ok()) << summary.error().message;
    EXPECT_EQ(summary->outside_ram_records, 2u);
    Report report = std::move(explainer).finish();
    report.file = summary.value();
    EXPECT_EQ(report.stats.grabs, 3u);
    EXPECT_EQ(report.stats.pages_held_at_end, 1u + 1u + 512u);
    ReportView view;
    std::string text = render_report_text(report, view);
    EXPECT_THAT(text, HasSubstr("2 records name pages outside the recorded machine's System RAM")) << text;
    std::string json = render_report_json(report, view);
    EXPECT_THAT(json, HasSubstr("\"records_outside_ram\":2")) << json;
}

// Snapshot records: their pfns are checked against the recorded RAM (a
// snapshot reads RAM only).
TEST(HostileInput, SnapshotPfnsOutsideRamAreCorrupt)
{
    size_t first = 0;
    auto bytes = make_trace(
        [](TraceWriter& w) {
            SnapshotHolderEvent h{100, 7, true, "fio", "/usr/bin/fio", "io_uring fd 3", "", {0x1000, 0x7000000}};
            ASSERT_TRUE(w.append(h).ok());
        },
        "0x1000-0x9ffff", &first);
    auto read = read_trace(bytes);
    ASSERT_FALSE(read.summary.ok());
    EXPECT_THAT(read.summary.error().message,
                HasSubstr("corrupt snapshot holder record at byte " + std::to_string(first)))
        << read.summary.error().message;

    bytes = make_trace(
        [](TraceWriter& w) {
            SnapshotPagesEvent p{100, {{~uint64_t{0}, 1026, 1, SeedClass::Pinned}}};
            ASSERT_TRUE(w.append(p).ok());
        },
        "", &first);
    read = read_trace(bytes);
    ASSERT_FALSE(read.summary.ok());
    EXPECT_THAT(read.summary.error().message,
                HasSubstr("corrupt snapshot page record at byte " + std::to_string(first)))
        << read.summary.error().message;
}

// A failed folio keeps one holder per owner, not per page: a 1 GiB folio
// pinned page by page, failing again and again, kept 262144 holders per
// failure before.
TEST(HostileInput, FailedFolioKeepsOneHolderPerOwner)
{
    Explainer ex(test::sample_info());
    ex.consume(test::grab(10, 100, 0x100000, test::kLongPin, kMaxFolioPages, "qemu"));
    ex.consume(test::grab(11, 200, 0x100000 + 7, test::kLongPin, 1, "rdma-app"));
    for (int attempt = 0; attempt < 4; ++attempt)
        for (const auto& e : test::migration_failure(100 + attempt * 10, {{0x100000, 3, kMaxFolioPages}}))
            ex.consume(e);
    Report r = std::move(ex).finish();
    ASSERT_EQ(r.failures.size(), 4u);
    for (const auto& f : r.failures) {
        ASSERT_EQ(f.pages.size(), 1u);
        const auto& holders = f.pages[0].holders;
        ASSERT_EQ(holders.size(), 2u);
        EXPECT_EQ(holders[0].task.tgid, 100u);
        EXPECT_EQ(holders[0].count, kMaxFolioPages) << "the owner's pins on every page, summed";
        EXPECT_EQ(holders[0].first_ns, 10u);
        EXPECT_EQ(holders[1].task.tgid, 200u);
        EXPECT_EQ(holders[1].count, 1u);
    }
}

// An isolation failure collects the pages held in its range: it looks at
// the range's pages, not at every page the ledger holds (it walked the
// whole ledger per failure: O(records x pages held)).
TEST(HostileInput, IsolationFailuresDoNotWalkTheWholeLedger)
{
    constexpr int kFailures = 1000;
    Explainer ex(test::sample_info());
    ex.consume(test::grab(10, 100, 0x100000, test::kLongPin, kMaxFolioPages, "qemu"));
    ex.consume(test::grab(11, 200, 0x200000 + 5, test::kLongPin, 1, "rdma-app"));
    for (int i = 0; i < kFailures; ++i) ex.consume(test::isolation(100 + i, 0x200000, 0x200200, 0x200000 + 9));
    Report r = std::move(ex).finish();
    ASSERT_EQ(r.failures.size(), size_t(kFailures));
    ASSERT_EQ(r.failures.back().held_in_range.size(), 1u);
    EXPECT_EQ(r.failures.back().held_in_range[0].pfn, 0x200005u);
    // The grabs, then per failure its busy page and its 512-page range.
    EXPECT_LE(r.stats.ledger_page_ops, kMaxFolioPages + 1 + uint64_t{kFailures} * (1 + 512));
}

TEST(HostileInput, RamPfnsHeaderKey)
{
    auto b = PfnBounds::parse("0x1000-0x9ffff,0x100000-0x63fffff");
    ASSERT_TRUE(b.ok()) << b.error().message;
    EXPECT_TRUE(b->contains(0x1000));
    EXPECT_TRUE(b->contains(0x9ffff));
    EXPECT_FALSE(b->contains(0xa0000));
    EXPECT_FALSE(b->contains(0xfff));
    EXPECT_TRUE(b->contains(0x100000, kMaxFolioPages));
    EXPECT_FALSE(b->contains(0x63fffff, 2));
    EXPECT_EQ(PfnBounds::format({{0x1000, 0xa0000}, {0x100000, 0x6400000}}), "0x1000-0x9ffff,0x100000-0x63fffff");
    EXPECT_FALSE(PfnBounds::parse("0x10-0x1").ok());
    EXPECT_FALSE(PfnBounds::parse("lots").ok());
    EXPECT_FALSE(PfnBounds::parse("0x0-0xffffffffffffffff").ok());
    // Without the key: the architecture's limit.
    PfnBounds arch;
    EXPECT_TRUE(arch.contains(kMaxPhysPfn - 1));
    EXPECT_FALSE(arch.contains(kMaxPhysPfn));
    EXPECT_FALSE(arch.contains(~uint64_t{0}));

    // A header whose ram_pfns is not a range list is a corrupt header.
    auto bytes = make_trace([](TraceWriter&) {}, "0x10-0x1");
    auto reader = TraceReader::from_bytes(bytes);
    ASSERT_FALSE(reader.ok());
    EXPECT_THAT(reader.error().message, HasSubstr("corrupt header: ram_pfns")) << reader.error().message;
}

// snapshot --pfn, record --snapshot-range pfn:A-B: the parse refuses what
// would wrap, and the range is clipped to RAM before any work list exists.
namespace snap = pintrace::snapshot;

const std::vector<snap::PfnSpan> kRam = {
    {0x1, 0x9f, "System RAM"}, {0x100, 0xbffda, "System RAM"}, {0x100000, 0x640000, "System RAM"}};

TEST(HostileSnapshotRange, ParseRefusesWhatWouldWrap)
{
    // Was {0, 0}: "0 pages", exit 0.
    auto all = snap::parse_pfn_range("0-0xffffffffffffffff");
    ASSERT_FALSE(all.ok());
    EXPECT_THAT(all.error().message, HasSubstr("past the largest")) << all.error().message;
    EXPECT_FALSE(snap::parse_pfn_range("0xffffffffffffffff").ok());
    EXPECT_FALSE(snap::parse_pfn_range("0xfffffffffff0+0x100").ok());
    EXPECT_FALSE(snap::parse_pfn_range("0x10+0xffffffffffffffff").ok());
    EXPECT_FALSE(snap::parse_pfn_range("0xffffffffff-0xfffffffffff").ok()) << "ends past 2^40";
    auto last = snap::parse_pfn_range("0xffffffffff");
    ASSERT_TRUE(last.ok());
    EXPECT_EQ(last->pages(), 1u);
    EXPECT_FALSE(snap::parse_range_spec("pfn:0-0xffffffffffffffff").ok()) << "record --snapshot-range";
}

TEST(HostileSnapshotRange, ClippedToRamOrRefusedNamingIt)
{
    auto span = snap::parse_pfn_range("0x0-0xfffffffff");
    ASSERT_TRUE(span.ok());
    auto clipped = snap::clip_to_ram(span.value(), kRam);
    ASSERT_TRUE(clipped.ok()) << clipped.error().message;
    ASSERT_EQ(clipped->size(), 3u);
    uint64_t pages = 0;
    for (const auto& s : clipped.value()) pages += s.pages();
    EXPECT_EQ(pages, (0x9fu - 1) + (0xbffdau - 0x100) + (0x640000u - 0x100000));
    EXPECT_EQ(clipped.value()[0].label, "pfn 0x1-0x9e");

    // Inside one range: kept as given, label and all.
    auto inside = snap::clip_to_ram(snap::parse_pfn_range("0x100000-0x13ffff").value(), kRam);
    ASSERT_TRUE(inside.ok());
    EXPECT_EQ(inside.value(), (std::vector<snap::PfnSpan>{{0x100000, 0x140000, "pfn 0x100000-0x13ffff"}}));

    // None of it RAM: refused, with the RAM ranges named.
    auto hole = snap::clip_to_ram(snap::parse_pfn_range("0xffffffff-0xfffffffff").value(), kRam);
    ASSERT_FALSE(hole.ok());
    EXPECT_EQ(hole.error().message,
              "pfn 0xffffffff-0xfffffffff is not RAM (System RAM: 0x1-0x9e, 0x100-0xbffd9, 0x100000-0x63ffff)");
}

// resolve() (snapshot --pfn, record --snapshot-range) reads the RAM and
// clips: the span the 7 GiB work list was built for comes back empty.
TEST(HostileSnapshotRange, ResolveClipsToTheMachinesRam)
{
    namespace fs = std::filesystem;
    fs::path root = fs::path(::testing::TempDir()) / ("hostile_root" + std::to_string(getpid()));
    fs::create_directories(root / "proc");
    std::ofstream(root / "proc/iomem") << "00000000-00000fff : Reserved\n00001000-0009fbff : System RAM\n"
                                          "00100000-bffd9fff : System RAM\n100000000-63fffffff : System RAM\n";
    snap::RangeRequest req;
    req.pfn = "0xfffffff000-0xffffffffff";
    auto r = snap::resolve(req, root);
    ASSERT_FALSE(r.ok());
    EXPECT_THAT(r.error().message, HasSubstr("is not RAM (System RAM: 0x1-0x9e")) << r.error().message;
    req.pfn = "0x0-0xffffffffff";
    r = snap::resolve(req, root);
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(r->size(), 3u);
    EXPECT_EQ(r->back().end, 0x640000u);

    // No readable RAM anywhere: refused rather than guessed.
    std::ofstream(root / "proc/iomem") << "00000000-00000000 : System RAM\n";
    r = snap::resolve(req, root);
    ASSERT_FALSE(r.ok());
    EXPECT_THAT(r.error().message, HasSubstr("cannot tell which pfns are RAM")) << r.error().message;

    // Fallback: the firmware's map.
    fs::create_directories(root / "sys/firmware/memmap/0");
    std::ofstream(root / "sys/firmware/memmap/0/start") << "0x100000000\n";
    std::ofstream(root / "sys/firmware/memmap/0/end") << "0x13fffffff\n";
    std::ofstream(root / "sys/firmware/memmap/0/type") << "System RAM\n";
    auto ram = snap::system_ram(root);
    ASSERT_TRUE(ram.ok()) << ram.error().message;
    EXPECT_EQ(ram.value(), (std::vector<snap::PfnSpan>{{0x100000, 0x140000, "System RAM"}}));
    fs::remove_all(root);
}

// The work list a snapshot builds is bounded by RAM, whatever the span says.
TEST(HostileSnapshotRange, HugeSpanBuildsNoHugeWorkList)
{
    std::vector<snap::PfnSpan> spans{{0, kMaxPhysPfn, "everything"}};
    auto pieces = snap::plan_pieces(spans, kRam);
    // 0x640000 pages in pieces of 64 Ki: 100, not 2^24.
    EXPECT_LE(pieces.size(), 0x640000u / 0x10000 + 1);
    uint64_t pages = 0;
    for (const auto& p : pieces) pages += p.n;
    EXPECT_EQ(pages, 0x640000u);
}

}  // namespace
}  // namespace pintrace
