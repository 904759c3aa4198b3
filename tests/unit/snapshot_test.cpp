// snapshot: the page classifier, the range parsers (on fixture text and a
// fixture /proc + /sys tree), the owner-discovery parsers and matching.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "snapshot/page_state.hpp"
#include "snapshot/range.hpp"

namespace pintrace::snapshot {
namespace {

using testing::HasSubstr;

PageState page(uint64_t flags, std::optional<int32_t> ref, std::optional<int32_t> map,
               std::optional<int32_t> pin = std::nullopt)
{
    PageState p;
    p.pfn = 0x1000;
    p.flags = flags;
    p.refcount = ref;
    p.mapcount = map;
    p.pincount = pin;
    return p;
}

const uint64_t kAnonLru = kpf(kKpfAnon) | kpf(kKpfLru) | kpf(kKpfMmap) | kpf(kKpfSwapbacked);

TEST(SnapshotClassify, PinBiasIsMaybePinned)
{
    // As seen on 5.10-6.12: a FOLL_PIN|FOLL_LONGTERM page mapped once has refcount 1026.
    auto c = classify(page(kAnonLru, 1026, 1));
    EXPECT_EQ(c.cls, PageClass::MaybePinned);
    EXPECT_THAT(c.why, HasSubstr("1024"));
    EXPECT_TRUE(blocks_migration(c.cls));
}

TEST(SnapshotClassify, ExtraReferencesBeyondMappingsAndCaches)
{
    // vmspliced anon page, mapped once: refcount 3.
    auto c = classify(page(kAnonLru, 3, 1));
    EXPECT_EQ(c.cls, PageClass::ExtraRefs);
    EXPECT_EQ(c.extra_refs, 2);
    // Anon mapped once, nothing else: movable.
    EXPECT_EQ(classify(page(kAnonLru, 1, 1)).cls, PageClass::Movable);
    // A file page: page cache + one mapping + buffer heads are expected.
    uint64_t file = kpf(kKpfLru) | kpf(kKpfMmap) | kpf(kKpfPrivate);
    EXPECT_EQ(classify(page(file, 3, 1)).cls, PageClass::Movable);
    EXPECT_EQ(classify(page(file, 4, 1)).cls, PageClass::ExtraRefs);
    // Swap cache adds one to an anon page.
    EXPECT_EQ(classify(page(kAnonLru | kpf(kKpfSwapcache), 2, 1)).cls, PageClass::Movable);
}

TEST(SnapshotClassify, LargeFolioPinCountIsCertain)
{
    uint64_t thp = kAnonLru | kpf(kKpfCompoundHead) | kpf(kKpfThp);
    EXPECT_EQ(classify(page(thp, 514, 1, 1)).cls, PageClass::Pinned);
    // A compound page's refcount is per folio: no extra-refs verdict from it.
    EXPECT_EQ(classify(page(thp, 514, 1, 0)).cls, PageClass::Movable);
}

TEST(SnapshotClassify, FlagsAloneWithoutRefcount)
{
    // The /proc fallback: flags and mapcount, no refcount.
    EXPECT_EQ(classify(page(kpf(kKpfBuddy), std::nullopt, 0)).cls, PageClass::Free);
    EXPECT_EQ(classify(page(kpf(kKpfSlab), std::nullopt, 0)).cls, PageClass::Unmovable);
    EXPECT_EQ(classify(page(kpf(kKpfReserved), std::nullopt, 0)).cls, PageClass::Unmovable);
    EXPECT_EQ(classify(page(kpf(kKpfPgtable), std::nullopt, 0)).cls, PageClass::Unmovable);
    EXPECT_EQ(classify(page(kpf(kKpfNopage), std::nullopt, 0)).cls, PageClass::Hole);
    EXPECT_EQ(classify(page(0, std::nullopt, 0)).cls, PageClass::NotLru);
    EXPECT_EQ(classify(page(kpf(kKpfMmap), std::nullopt, 1)).cls, PageClass::NotLru);
    // An LRU page without a refcount cannot show a pin: movable as far as is known.
    auto c = classify(page(kAnonLru, std::nullopt, 1));
    EXPECT_EQ(c.cls, PageClass::Movable);
    EXPECT_FALSE(c.extra_refs);
    EXPECT_FALSE(blocks_migration(PageClass::Free));
    EXPECT_FALSE(blocks_migration(PageClass::Hole));
    // Refcount 0, not buddy: on a per-CPU free list.
    EXPECT_EQ(classify(page(0, 0, 0)).cls, PageClass::Free);
}

TEST(SnapshotClassify, SummaryCountsAndKeepsExamplesOfBlockingPages)
{
    Summary s;
    for (uint64_t i = 0; i < 200; ++i) {
        auto p = page(i % 2 ? kAnonLru : kpf(kKpfSlab), std::nullopt, 1);
        p.pfn = i;
        s.add(p, classify(p));
    }
    EXPECT_EQ(s.pages(), 200u);
    EXPECT_EQ(s.count(PageClass::Unmovable), 100u);
    EXPECT_EQ(s.blocking(), 100u);
    EXPECT_EQ(s.examples[static_cast<size_t>(PageClass::Unmovable)].size(), Summary::kExamples);
    EXPECT_TRUE(s.examples[static_cast<size_t>(PageClass::Movable)].empty());
    EXPECT_EQ(kpf_string(kpf(kKpfLru) | kpf(kKpfAnon)), "lru|anon");
}

const char* kZoneinfo = R"(Node 0, zone      DMA
  per-node stats
      nr_inactive_anon 189016
  pages free     3840
        spanned  4095
        present  3998
        managed  3840
  start_pfn:           1
Node 0, zone    DMA32
  pages free     772917
        spanned  1044480
        present  782336
  start_pfn:           4096
Node 0, zone   Normal
        spanned  5505024
        present  5505024
  start_pfn:           1048576
Node 0, zone  Movable
  pages free     0
        spanned  0
        present  0
Node 1, zone   Normal
        spanned  262144
        present  262144
  start_pfn:           6553600
)";

TEST(SnapshotRange, ZoneinfoSpans)
{
    auto zones = parse_zoneinfo(kZoneinfo);
    ASSERT_EQ(zones.size(), 5u);
    EXPECT_EQ(zones[2].zone, "Normal");
    EXPECT_EQ(zones[2].start_pfn, 1048576u);
    EXPECT_EQ(zones[2].spanned, 5505024u);
    EXPECT_EQ(zone_of(zones, 5000)->zone, "DMA32");
    EXPECT_EQ(zone_of(zones, 6553600)->node, 1);
    EXPECT_EQ(zone_of(zones, 0), nullptr);

    auto n0 = node_spans(zones, 0);
    ASSERT_TRUE(n0.ok());
    EXPECT_EQ(n0.value()[0], (PfnSpan{1, 1048576 + 5505024, "node 0"}));
    EXPECT_EQ(node_spans(zones, 3).error().message, "node 3 does not exist");

    auto normal = zone_spans(zones, "normal");
    ASSERT_TRUE(normal.ok());
    ASSERT_EQ(normal->size(), 2u);
    EXPECT_EQ(normal.value()[1].label, "node 1 Normal");
    EXPECT_EQ(zone_spans(zones, "Movable").error().message, "zone Movable is empty on every node");
    EXPECT_EQ(zone_spans(zones, "HighMem").error().message,
              "no zone named 'HighMem' (this kernel has: DMA, DMA32, Normal, Movable)");
}

TEST(SnapshotRange, PfnRangesAndMemoryBlocks)
{
    EXPECT_EQ(parse_pfn_range("0x100-0x1ff").value(), (PfnSpan{0x100, 0x200, "pfn 0x100-0x1ff"}));
    EXPECT_EQ(parse_pfn_range("4096+16").value().end, 4112u);
    EXPECT_EQ(parse_pfn_range("0x29f8").value().pages(), 1u);
    EXPECT_FALSE(parse_pfn_range("0x200-0x100").ok());
    EXPECT_THAT(parse_pfn_range("0x200-0x100").error().message, HasSubstr("ends before it starts"));
    EXPECT_FALSE(parse_pfn_range("lots").ok());
    EXPECT_FALSE(parse_pfn_range("1-").ok());
    EXPECT_FALSE(parse_pfn_range("5+0").ok());

    auto b = memory_block_span(32, "8000000\n");  // 128 MiB blocks
    ASSERT_TRUE(b.ok());
    EXPECT_EQ(b->start, 32u * 32768);
    EXPECT_EQ(b->pages(), 32768u);
    EXPECT_FALSE(memory_block_span(1, "zzz").ok());
}

TEST(SnapshotRange, ResolvesAgainstAFixtureTree)
{
    namespace fs = std::filesystem;
    fs::path root = fs::path(::testing::TempDir()) / ("snaproot" + std::to_string(getpid()));
    fs::create_directories(root / "proc");
    fs::create_directories(root / "sys/devices/system/node/node0");
    fs::create_directories(root / "sys/devices/system/memory/memory33");
    std::ofstream(root / "proc/zoneinfo") << kZoneinfo;
    std::ofstream(root / "sys/devices/system/memory/block_size_bytes") << "8000000\n";

    RangeRequest node;
    node.node = 0;
    EXPECT_TRUE(resolve(node, root).ok());
    node.node = 1;  // in zoneinfo but not in sysfs: sysfs decides
    EXPECT_EQ(resolve(node, root).error().message, "node 1 does not exist");

    RangeRequest block;
    block.memory_block = 33;
    auto b = resolve(block, root);
    ASSERT_TRUE(b.ok());
    EXPECT_EQ(b.value()[0].start, 33u * 32768);
    block.memory_block = 34;
    EXPECT_THAT(resolve(block, root).error().message, HasSubstr("memory block 34 does not exist"));

    RangeRequest zone;
    zone.zone = "DMA32";
    EXPECT_EQ(resolve(zone, root).value()[0].start, 4096u);

    RangeRequest none;
    EXPECT_FALSE(resolve(none, root).ok());
    RangeRequest two;
    two.pfn = "1-2";
    two.node = 0;
    EXPECT_EQ(resolve(two, root).error().message,
              "give exactly one of --pfn, --node, --zone, --memory-block, --cma, --all");

    // --all: System RAM as /proc/iomem lists it; others than root read zeros.
    RangeRequest all;
    all.all = true;
    fs::create_directories(root / "proc");
    std::ofstream(root / "proc/iomem") << "00000000-00000fff : Reserved\n00001000-0009fbff : System RAM\n"
                                          "00100000-bffd9fff : System RAM\n  01000000-01e00fff : Kernel code\n";
    auto ram = resolve(all, root);
    ASSERT_TRUE(ram.ok()) << ram.error().message;
    ASSERT_EQ(ram->size(), 2u);
    EXPECT_EQ(ram.value()[0].start, 1u);
    EXPECT_EQ(ram.value()[1].start, 0x100u);
    EXPECT_EQ(ram.value()[1].end, 0xbffdau);
    std::ofstream(root / "proc/iomem") << "00000000-00000000 : System RAM\n";
    EXPECT_THAT(resolve(all, root).error().message, HasSubstr("needs root"));

    RangeRequest cma;
    cma.cma = "reserved";
    fs::create_directories(root / "sys/kernel/mm/cma/reserved");
    EXPECT_THAT(resolve(cma, root).error().message, HasSubstr("needs CONFIG_CMA_DEBUGFS); areas: reserved"))
        << resolve(cma, root).error().message;
    fs::create_directories(root / "sys/kernel/debug/cma/reserved");
    std::ofstream(root / "sys/kernel/debug/cma/reserved/base_pfn") << "262144\n";
    std::ofstream(root / "sys/kernel/debug/cma/reserved/count") << "16384\n";
    auto area = resolve(cma, root);
    ASSERT_TRUE(area.ok()) << area.error().message;
    EXPECT_EQ(area.value()[0], (PfnSpan{262144, 262144 + 16384, "cma reserved"}));
    cma.cma = "gpu";
    EXPECT_EQ(resolve(cma, root).error().message, "no CMA area 'gpu' (reserved)");
    fs::remove_all(root);
}

}  // namespace
}  // namespace pintrace::snapshot

namespace pintrace::snapshot {
namespace {

TEST(SnapshotRange, SystemRamFromIomem)
{
    auto ram = parse_iomem_ram(
        "00000000-00000fff : Reserved\n00001000-0009fbff : System RAM\n"
        "000a0000-000bffff : PCI Bus 0000:00\n00100000-bfffffff : System RAM\n"
        "  01000000-01ffffff : Kernel code\n100000000-63fffffff : System RAM\n");
    ASSERT_EQ(ram.size(), 3u);
    EXPECT_EQ(ram[0], (PfnSpan{1, 0x9f, "System RAM"}));  // the partial last page is left out
    EXPECT_EQ(ram[1].start, 0x100u);
    EXPECT_EQ(ram[1].end, 0xc0000u);
    EXPECT_EQ(ram[2].end, 0x640000u);
    EXPECT_TRUE(in_spans(ram, 0x100000));
    EXPECT_FALSE(in_spans(ram, 0xc0000));  // the PCI hole below 4 GiB
}

}  // namespace
}  // namespace pintrace::snapshot

#include "snapshot/owners.hpp"
#include "snapshot/snapshot.hpp"

namespace pintrace::snapshot {
namespace {

TEST(SnapshotOwners, ParsesMapsPagemapAndIoUringFdinfo)
{
    auto vmas = parse_maps(
        "55d0c0a00000-55d0c0a21000 rw-p 00000000 00:00 0                          [heap]\n"
        "7f2b7302b000-7f2b7303b000 rw-p 00000000 00:00 0 \n"
        "7f2b73100000-7f2b73128000 r--p 00000000 fe:01 1234                       /usr/lib/libc.so.6\n");
    ASSERT_EQ(vmas.size(), 3u);
    EXPECT_EQ(vmas[0].path, "[heap]");
    EXPECT_EQ(vmas[1].start, 0x7f2b7302b000u);
    EXPECT_EQ(vmas[1].path, "");
    EXPECT_EQ(vmas[2].path, "/usr/lib/libc.so.6");
    EXPECT_EQ(vmas[2].perms, "r--p");

    EXPECT_EQ(pagemap_pfn((uint64_t{1} << 63) | 0x1aa27f), 0x1aa27fu);
    EXPECT_FALSE(pagemap_pfn(0x1aa27f));  // not present
    EXPECT_FALSE(pagemap_pfn((uint64_t{1} << 63) | (uint64_t{1} << 62) | 5));  // swapped
    EXPECT_FALSE(pagemap_pfn(uint64_t{1} << 63));  // pfn hidden (not root)

    // As 6.1 to 6.18 print it (io_uring/fdinfo.c).
    auto info = parse_io_uring_fdinfo(
        "SqThread:\t-1\nSqThreadCpu:\t-1\nUserFiles:\t0\nUserBufs:\t2\n"
        "    0: 0x7f2b7302b000/32768\n    1: 0x7f2b74000000/4096\nPollList:\n");
    ASSERT_TRUE(info);
    EXPECT_EQ(info->user_bufs, 2u);
    ASSERT_EQ(info->buffers.size(), 2u);
    EXPECT_EQ(info->buffers[0].addr, 0x7f2b7302b000u);
    EXPECT_EQ(info->buffers[0].len, 32768u);
    EXPECT_EQ(info->buffers[1].index, 1u);
    // Ring busy: the count without the list.
    auto busy = parse_io_uring_fdinfo("UserFiles:\t0\nUserBufs:\t3\nPollList:\n");
    ASSERT_TRUE(busy);
    EXPECT_EQ(busy->user_bufs, 3u);
    EXPECT_TRUE(busy->buffers.empty());
    EXPECT_FALSE(parse_io_uring_fdinfo("pos:\t0\nflags:\t02\n"));  // not an io_uring fd
}

TEST(SnapshotOwners, RegisteredBufferIsLikelyAMappingOnlyPossible)
{
    MappedRun mapping;
    mapping.vma = Vma{0x7f0000000000, 0x7f0000010000, "rw-p", ""};
    mapping.hits = {{0x7f0000000000, 0x100}, {0x7f0000001000, 0x101}};
    auto only_mapped = make_candidate(42, "app", {mapping});
    ASSERT_TRUE(only_mapped);
    EXPECT_EQ(only_mapped->confidence, Confidence::Possible);
    EXPECT_EQ(only_mapped->pfns.size(), 2u);
    EXPECT_THAT(only_mapped->evidence[0].what, HasSubstr("not necessarily a pin"));

    MappedRun ring;
    ring.vma = Vma{0x7f0000000000, 0x7f0000001000, "", ""};
    ring.pinned_by =
        PinnedBy{5, holder_fd_kind("anon_inode:[io_uring]"), {0x7f0000000000, 4096, "registered buffer 0"}};
    ring.hits = {{0x7f0000000000, 0x100}};
    auto pinner = make_candidate(43, "fio", {mapping, ring});
    ASSERT_TRUE(pinner);
    EXPECT_EQ(pinner->confidence, Confidence::Likely);
    EXPECT_EQ(pinner->evidence[0].what.rfind("io_uring fd 5 has registered buffer 0", 0), 0u);  // pin evidence first

    EXPECT_FALSE(make_candidate(44, "idle", {MappedRun{}}));  // nothing matched

    OwnerScan scan;
    scan.candidates = {*only_mapped, *pinner};
    auto pins = registered_pins(scan);
    ASSERT_EQ(pins.size(), 1u);  // only the registered page, not the merely mapped one
    EXPECT_EQ(pins.at(0x100), "pinned as io_uring fixed buffers by pid 43 (fio)");

    // The hint makes an LRU page (which /proc cannot show pinned) Pinned; a free page stays free.
    PageState lru;
    lru.pfn = 0x100;
    lru.flags = kpf(kKpfLru) | kpf(kKpfAnon) | kpf(kKpfMmap);
    lru.mapcount = 1;
    EXPECT_EQ(classify_with(lru, &pins).cls, PageClass::Pinned);
    lru.pfn = 0x101;
    EXPECT_EQ(classify_with(lru, &pins).cls, PageClass::Movable);
    PageState freed;
    freed.pfn = 0x100;
    freed.flags = kpf(kKpfBuddy);
    EXPECT_EQ(classify_with(freed, &pins).cls, PageClass::Free);
}

}  // namespace
}  // namespace pintrace::snapshot

#include "snapshot/bpf_source.hpp"

namespace pintrace::snapshot {
namespace {

TEST(SnapshotFolio, PinCountMakesHeadAndTailsPinned)
{
    // A 2 MiB THP registered as an io_uring buffer, as read on 6.18: pin
    // count 1, refcount 2 (no 1024 bias on a large folio).
    uint64_t thp = kAnonLru | kpf(kKpfThp);
    PageState head = page(thp | kpf(kKpfCompoundHead), 2, 1, 1);
    head.pfn = 0x1b3c00;
    head.folio_head = 0x1b3c00;
    head.folio_order = 9;
    auto c = classify(head);
    EXPECT_EQ(c.cls, PageClass::Pinned);
    EXPECT_THAT(c.why, HasSubstr("head of an order-9 folio at pfn 0x1b3c00")) << c.why;
    // A tail carries its folio's pin count, and no refcount of its own.
    PageState tail = page(thp | kpf(kKpfCompoundTail), std::nullopt, 1, 1);
    tail.pfn = 0x1b3c64;
    tail.folio_head = 0x1b3c00;
    tail.folio_order = 9;
    c = classify(tail);
    EXPECT_EQ(c.cls, PageClass::Pinned);
    EXPECT_THAT(c.why, HasSubstr("in the order-9 folio at pfn 0x1b3c00")) << c.why;
    // Without the why text, the same class (the walk of a whole range).
    EXPECT_EQ(classify(tail, false).cls, PageClass::Pinned);
    EXPECT_TRUE(classify(tail, false).why.empty());
    // Pin count 0: a large folio nobody pinned is movable, tails too.
    tail.pincount = 0;
    EXPECT_EQ(classify(tail).cls, PageClass::Movable);
    // A free page keeps no pin count: buddy wins over a stale value.
    EXPECT_EQ(classify(page(kpf(kKpfBuddy), 0, 0, 3)).cls, PageClass::Free);
}

TEST(SnapshotPageblock, LayoutFromTheKernelsEnums)
{
    // 5.10 to 6.15 without CMA (Debian's cloud kernels, from their BTF).
    std::vector<std::pair<std::string, int>> mt = {
        {"MIGRATE_UNMOVABLE", 0},  {"MIGRATE_MOVABLE", 1}, {"MIGRATE_RECLAIMABLE", 2}, {"MIGRATE_PCPTYPES", 3},
        {"MIGRATE_HIGHATOMIC", 3}, {"MIGRATE_ISOLATE", 4}, {"MIGRATE_TYPES", 5}};
    std::vector<std::pair<std::string, int>> bits = {
        {"PB_migrate", 0}, {"PB_migrate_end", 2}, {"PB_migrate_skip", 3}, {"NR_PAGEBLOCK_BITS", 4}};
    auto l = PageblockLayout::from_enums(mt, bits);
    EXPECT_EQ(l.bits, 4u);
    EXPECT_EQ(l.isolate_bit, -1);
    EXPECT_EQ(l.name(3), "highatomic");  // not the MIGRATE_PCPTYPES alias
    EXPECT_EQ(l.name(4), "isolate");
    EXPECT_EQ(l.name(5), "?");
    EXPECT_EQ(l.cma, -1);
    EXPECT_EQ(l.decode(0x1), 1);
    EXPECT_EQ(l.decode(0x9), 1);  // the compaction skip bit is not the type
    EXPECT_EQ(l.decode(0x4), 4);
    EXPECT_EQ(l.decode(kNoBlock), -1);
    EXPECT_TRUE(l.movable_kind(1));
    EXPECT_FALSE(l.movable_kind(0));

    // With CONFIG_CMA: CMA takes 4, isolate moves to 5.
    mt = {{"MIGRATE_UNMOVABLE", 0},  {"MIGRATE_MOVABLE", 1}, {"MIGRATE_RECLAIMABLE", 2}, {"MIGRATE_PCPTYPES", 3},
          {"MIGRATE_HIGHATOMIC", 3}, {"MIGRATE_CMA", 4},     {"MIGRATE_ISOLATE", 5},     {"MIGRATE_TYPES", 6}};
    l = PageblockLayout::from_enums(mt, bits);
    EXPECT_EQ(l.name(4), "cma");
    EXPECT_EQ(l.decode(0x5), 5);
    EXPECT_EQ(l.name(l.decode(0x5)), "isolate");
    EXPECT_TRUE(l.movable_kind(4));

    // 6.16+ (6.18 has it so): isolation is a bit of its own, and
    // NR_PAGEBLOCK_BITS is __NR_PAGEBLOCK_BITS (5) rounded up to 8.
    mt = {{"MIGRATE_UNMOVABLE", 0},  {"MIGRATE_MOVABLE", 1},    {"MIGRATE_RECLAIMABLE", 2}, {"MIGRATE_PCPTYPES", 3},
          {"MIGRATE_HIGHATOMIC", 3}, {"__MIGRATE_TYPE_END", 3}, {"MIGRATE_ISOLATE", 4},     {"MIGRATE_TYPES", 5}};
    bits = {{"PB_migrate_0", 0},    {"PB_migrate_1", 1},       {"PB_migrate_2", 2},
            {"PB_compact_skip", 3}, {"PB_migrate_isolate", 4}, {"__NR_PAGEBLOCK_BITS", 5}};
    l = PageblockLayout::from_enums(mt, bits);
    EXPECT_EQ(l.bits, 8u);
    EXPECT_EQ(l.isolate_bit, 4);
    EXPECT_EQ(l.name(3), "highatomic");
    EXPECT_EQ(l.decode(0x11), 4);  // a movable block, isolated: isolate
    EXPECT_EQ(l.decode(0x01), 1);

    // No BTF enums: the defaults of 5.10-6.15.
    l = PageblockLayout::from_enums({}, {});
    EXPECT_EQ(l.bits, 4u);
    EXPECT_EQ(l.name(1), "movable");
}

TEST(SnapshotPageblock, CountsPerMigratetypeAndBlockingPagesInMovableBlocks)
{
    PageblockLayout l;
    Summary s;
    for (uint64_t i = 0; i < 1024; ++i) {
        // Block 0 unmovable with slab pages, block 1 movable with two slab pages in it.
        auto p = page(i < 512 || i == 600 || i == 700 ? kpf(kKpfSlab) : kAnonLru, std::nullopt, 1);
        p.pfn = i;
        p.migratetype = i < 512 ? 0 : 1;
        s.add(p, classify(p), &l);
    }
    EXPECT_EQ(s.migratetypes[0], 512u);
    EXPECT_EQ(s.migratetypes[1], 512u);
    EXPECT_EQ(s.migratetype_pages(), 1024u);
    EXPECT_EQ(s.blocking_in_movable, 2u);  // slab in an unmovable block is where it belongs
    EXPECT_EQ(s.blocking_in_movable_examples, (std::vector<uint64_t>{600, 700}));

    // Without a layout (migratetype not visible) nothing is called out.
    Summary none;
    auto p = page(kpf(kKpfSlab), std::nullopt, 0);
    p.migratetype = 1;
    none.add(p, classify(p));
    EXPECT_EQ(none.blocking_in_movable, 0u);

    // Pieces merge in pfn order, examples capped.
    Summary later;
    for (uint64_t i = 2000; i < 2100; ++i) {
        auto q = page(kpf(kKpfSlab), std::nullopt, 0);
        q.pfn = i;
        q.migratetype = 1;
        later.add(q, classify(q), &l);
    }
    s.merge(later);
    EXPECT_EQ(s.count(PageClass::Unmovable), 614u);
    EXPECT_EQ(s.migratetypes[1], 612u);
    EXPECT_EQ(s.blocking_in_movable, 102u);
    ASSERT_EQ(s.blocking_in_movable_examples.size(), Summary::kExamples);
    EXPECT_EQ(s.blocking_in_movable_examples[2], 2000u);
    EXPECT_EQ(s.examples[static_cast<size_t>(PageClass::Unmovable)].front(), 0u);
}

TEST(SnapshotBpfFacts, KallsymsAndPagetypeinfo)
{
    std::string syms =
        "ffffffff81000000 T _text\nffffffff8a6c2a20 b __mem_section_x\n"
        "ffffffff8a6c2a28 B mem_section\nffffffffc0a01000 t mem_section\t[kvm]\n";
    EXPECT_EQ(find_kallsyms_symbol(syms, "mem_section"), 0xffffffff8a6c2a28u);
    EXPECT_EQ(find_kallsyms_symbol(syms, "vmemmap_base"), 0u);
    // Without CONFIG_KALLSYMS_ALL: text symbols only.
    EXPECT_EQ(find_kallsyms_symbol("ffffffff81000000 T _text\n", "mem_section"), 0u);
    EXPECT_EQ(parse_pageblock_order("Page block order: 9\nPages per block:  512\n"), 9u);
    EXPECT_EQ(parse_pageblock_order("Page block order: 10\n"), 10u);
    EXPECT_FALSE(parse_pageblock_order("Free pages count per migrate type at order"));
    EXPECT_FALSE(parse_pageblock_order("Page block order: lots\n"));
}

TEST(SnapshotRange, OneWordSpecsForOptionValues)
{
    auto all = parse_range_spec("all");
    ASSERT_TRUE(all.ok());
    EXPECT_TRUE(all->all);
    EXPECT_EQ(describe(all.value()), "all memory (System RAM in /proc/iomem)");
    auto pfn = parse_range_spec("pfn:0x100-0x1ff");
    ASSERT_TRUE(pfn.ok());
    EXPECT_EQ(pfn->pfn, "0x100-0x1ff");
    auto node = parse_range_spec("node:1");
    ASSERT_TRUE(node.ok());
    EXPECT_EQ(node->node, 1);
    EXPECT_EQ(describe(node.value()), "node 1");
    auto block = parse_range_spec("memory-block:32");
    ASSERT_TRUE(block.ok());
    EXPECT_EQ(block->memory_block, 32u);
    EXPECT_EQ(parse_range_spec("zone:Normal")->zone, "Normal");
    EXPECT_EQ(parse_range_spec("cma:reserved")->cma, "reserved");
    // Every field but one stays unset: resolve() insists on exactly one.
    EXPECT_FALSE(node->all);
    EXPECT_TRUE(node->pfn.empty());

    for (const char* bad : {"", "node", "node:", "node:x", "pfn:9-3", "disk:1", "zone"}) {
        auto r = parse_range_spec(bad);
        ASSERT_FALSE(r.ok()) << bad;
        EXPECT_THAT(r.error().message, HasSubstr("(all, pfn:A-B, node:N")) << r.error().message;
    }
}

}  // namespace
}  // namespace pintrace::snapshot
