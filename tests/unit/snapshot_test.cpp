// snapshot: the page classifier, the range parsers (on fixture text and a
// fixture /proc + /sys tree), the owner-discovery parsers and matching.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "snapshot/page_state.hpp"
#include "snapshot/range.hpp"

namespace pintrace::snapshot {
namespace {

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
    EXPECT_NE(c.why.find("1024"), std::string::npos);
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
    EXPECT_NE(parse_pfn_range("0x200-0x100").error().message.find("ends before it starts"), std::string::npos);
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
    EXPECT_NE(resolve(block, root).error().message.find("memory block 34 does not exist"), std::string::npos);

    RangeRequest zone;
    zone.zone = "DMA32";
    EXPECT_EQ(resolve(zone, root).value()[0].start, 4096u);

    RangeRequest none;
    EXPECT_FALSE(resolve(none, root).ok());
    RangeRequest two;
    two.pfn = "1-2";
    two.node = 0;
    EXPECT_EQ(resolve(two, root).error().message, "give exactly one of --pfn, --node, --zone, --memory-block");
    fs::remove_all(root);
}

}  // namespace
}  // namespace pintrace::snapshot
