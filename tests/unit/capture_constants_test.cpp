#include <gtest/gtest.h>

#include "capture/capture_constants.hpp"

using namespace pintrace;

// The free filter's array must cover every RAM pfn (a pfn past it only
// costs the hash lookup, but a filter too small for all RAM filters nothing).
TEST(FreeFilter, RegionWordsCoverEveryPfnBelowTheEnd)
{
    constexpr uint64_t kPagesPerWord = uint64_t{8} << PT_REGION_SHIFT;  // 4096
    EXPECT_EQ(region_words(0), 1u);  // unknown RAM: one word, every free takes the hash lookup
    EXPECT_EQ(region_words(1), 1u);
    EXPECT_EQ(region_words(kPagesPerWord), 1u);
    EXPECT_EQ(region_words(kPagesPerWord + 1), 2u);
    EXPECT_EQ(region_words(uint64_t{24} << 18), 1536u);  // 24 GiB of 4 KiB pages
    for (uint64_t end : {uint64_t{1}, uint64_t{4095}, uint64_t{4096}, uint64_t{1} << 30, (uint64_t{1} << 40) - 1}) {
        uint64_t last_region = (end - 1) >> PT_REGION_SHIFT;
        EXPECT_LT(last_region / 8, region_words(end)) << end;
    }
    EXPECT_EQ(region_words(UINT64_MAX), UINT32_MAX);  // clamped, never wrapped
}
