// snapshot --cma on kernels without CONFIG_CMA_DEBUGFS: the area's range
// from its MIGRATE_CMA pageblocks, matched by /sys/kernel/mm/cma/NAME/
// total_pages; its counters from sysfs.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "snapshot/cma_area.hpp"

namespace pintrace::snapshot {
namespace {

using testing::HasSubstr;

constexpr int kCma = 4, kMovable = 1;

TEST(CmaArea, RunsOfCmaPageblocksAreMergedAndOthersSplitThem)
{
    // Blocks of 512 pages from pfn 0x100000: CMA CMA movable CMA, then unreadable.
    std::vector<int> types{kCma, kCma, kMovable, kCma, -1};
    auto runs = cma_block_runs(0x100000, types, kCma, 9);
    ASSERT_EQ(runs.size(), 2u);
    EXPECT_EQ(runs[0].start, 0x100000u);
    EXPECT_EQ(runs[0].end, 0x100400u);
    EXPECT_EQ(runs[1].start, 0x100600u);
    EXPECT_EQ(runs[1].end, 0x100800u);
    EXPECT_TRUE(cma_block_runs(0, types, -1, 9).empty());  // a kernel without MIGRATE_CMA
}

TEST(CmaArea, OneAreaOwnsEveryCmaPageblockAndMustAddUp)
{
    std::vector<PfnSpan> runs{{0x100000, 0x140000, ""}};
    auto one = pick_area_runs(runs, 0x40000, 1, "hugetlb1");
    ASSERT_TRUE(one.ok()) << one.error().message;
    ASSERT_EQ(one->size(), 1u);
    EXPECT_EQ(one.value()[0].start, 0x100000u);
    EXPECT_EQ(one.value()[0].label, "cma hugetlb1");
    // Part of it isolated (an allocation running): the sizes disagree, and it says so.
    auto off = pick_area_runs({{0x100000, 0x13fe00, ""}}, 0x40000, 1, "hugetlb1");
    ASSERT_FALSE(off.ok());
    EXPECT_THAT(off.error().message, HasSubstr("total_pages says 262144")) << off.error().message;
}

TEST(CmaArea, AmongSeveralAreasOnlyAUniqueSizeTells)
{
    std::vector<PfnSpan> runs{{0x1000, 0x1400, ""}, {0x8000, 0x9000, ""}};
    auto picked = pick_area_runs(runs, 0x1000, 2, "reserved");
    ASSERT_TRUE(picked.ok());
    EXPECT_EQ(picked.value()[0].start, 0x8000u);
    auto same = pick_area_runs({{0x1000, 0x2000, ""}, {0x8000, 0x9000, ""}}, 0x1000, 2, "a");
    ASSERT_FALSE(same.ok());
    EXPECT_THAT(same.error().message, HasSubstr("cannot tell"));
}

struct FakeRoot {
    std::filesystem::path root = std::filesystem::path(::testing::TempDir()) / ("cmaroot" + std::to_string(getpid()));
    FakeRoot() { std::filesystem::remove_all(root); }
    ~FakeRoot() { std::filesystem::remove_all(root); }
    void file(const std::string& rel, const std::string& text)
    {
        auto p = root / rel;
        std::filesystem::create_directories(p.parent_path());
        std::ofstream(p) << text;
    }
};

TEST(CmaArea, SysfsCountersAreReadAndAnUnknownAreaNamesTheOthers)
{
    FakeRoot fs;
    fs.file("sys/kernel/mm/cma/hugetlb1/alloc_pages_success", "262144\n");
    fs.file("sys/kernel/mm/cma/hugetlb1/alloc_pages_fail", "524288\n");
    fs.file("sys/kernel/mm/cma/hugetlb1/total_pages", "262144\n");
    auto c = read_cma_sysfs("hugetlb1", fs.root.string());
    ASSERT_TRUE(c.ok()) << c.error().message;
    ASSERT_EQ(c->size(), 3u);
    EXPECT_EQ(c.value()[0], (std::pair<std::string, std::string>{"alloc_pages_fail", "524288"}));
    auto none = read_cma_sysfs("reserved", fs.root.string());
    ASSERT_FALSE(none.ok());
    EXPECT_THAT(none.error().message, HasSubstr("areas: hugetlb1")) << none.error().message;
}

TEST(CmaArea, WithoutDebugfsAndWithoutBpfTheRangeIsNotGuessed)
{
    FakeRoot fs;
    fs.file("sys/kernel/mm/cma/hugetlb1/total_pages", "262144\n");
    auto a = locate_cma_area("hugetlb1", nullptr, fs.root.string());
    ASSERT_FALSE(a.ok());
    EXPECT_THAT(a.error().message, HasSubstr("needs BPF")) << a.error().message;
}

TEST(CmaArea, DebugfsGivesTheRangeWhenThere)
{
    FakeRoot fs;
    fs.file("sys/kernel/mm/cma/reserved/alloc_pages_success", "0\n");
    fs.file("sys/kernel/debug/cma/reserved/base_pfn", "1048576\n");
    fs.file("sys/kernel/debug/cma/reserved/count", "4096\n");
    auto a = locate_cma_area("reserved", nullptr, fs.root.string());
    ASSERT_TRUE(a.ok()) << a.error().message;
    ASSERT_EQ(a->spans.size(), 1u);
    EXPECT_EQ(a->spans[0].start, 1048576u);
    EXPECT_EQ(a->spans[0].end, 1048576u + 4096u);
    ASSERT_NE(a->counter("alloc_pages_success"), nullptr);
}

}  // namespace
}  // namespace pintrace::snapshot
