#include <gtest/gtest.h>

#include "event_builders.hpp"
#include "ledger/ledger.hpp"

namespace pintrace {
namespace {

using test::grab;
using test::kLongPin;
using test::release;

TEST(Ledger, TwoProcessesPinningOnePageAreTwoHolders)
{
    PinLedger ledger;
    ledger.grab(grab(10, 100, 0x1000, kLongPin));
    ledger.grab(grab(20, 200, 0x1000, kLongPin));
    auto hs = ledger.holders(0x1000);
    ASSERT_EQ(hs.size(), 2u);
    EXPECT_EQ(hs[0].task.tgid, 100u);
    EXPECT_EQ(hs[1].task.tgid, 200u);
    EXPECT_EQ(hs[0].count, 1u);
}

TEST(Ledger, SameProcessPinningTwiceCountsTwoOnOneHolder)
{
    PinLedger ledger;
    ledger.grab(grab(10, 100, 0x1000, kLongPin));
    ledger.grab(grab(30, 100, 0x1000, kLongPin));
    auto hs = ledger.holders(0x1000);
    ASSERT_EQ(hs.size(), 1u);
    EXPECT_EQ(hs[0].count, 2u);
    EXPECT_EQ(hs[0].first_ns, 10u);
}

TEST(Ledger, GrabOfSeveralPagesHoldsEachOne)
{
    PinLedger ledger;
    ledger.grab(grab(10, 100, 0x2000, kFlagPin, 4));
    EXPECT_EQ(ledger.pages_held(), 4u);
    EXPECT_EQ(ledger.holders(0x2003).size(), 1u);
    EXPECT_TRUE(ledger.holders(0x2004).empty());
}

TEST(Ledger, ReleaseByAKworkerClosesTheOwnersPin)
{
    PinLedger ledger;
    ledger.grab(grab(10, 100, 0x1000, kLongPin));
    auto out = ledger.release(release(50, 7, 0x1000, kFlagPin));
    EXPECT_EQ(out.matched, 1u);
    EXPECT_EQ(out.unmatched, 0u);
    EXPECT_TRUE(out.other_owner);
    EXPECT_TRUE(ledger.holders(0x1000).empty());
    EXPECT_EQ(ledger.pages_held(), 0u);
}

TEST(Ledger, ReleasePrefersTheReleasingProcessThenTheOldest)
{
    PinLedger ledger;
    ledger.grab(grab(10, 100, 0x1000, kLongPin));
    ledger.grab(grab(20, 200, 0x1000, kLongPin));
    ledger.release(release(30, 200, 0x1000, kFlagPin));  // 200 releases its own
    auto hs = ledger.holders(0x1000);
    ASSERT_EQ(hs.size(), 1u);
    EXPECT_EQ(hs[0].task.tgid, 100u);

    ledger.grab(grab(40, 300, 0x1000, kLongPin));
    ledger.release(release(50, 9, 0x1000, kFlagPin));  // a kworker: the oldest (100) goes
    hs = ledger.holders(0x1000);
    ASSERT_EQ(hs.size(), 1u);
    EXPECT_EQ(hs[0].task.tgid, 300u);
}

TEST(Ledger, PinsAndReferencesAreReleasedSeparately)
{
    PinLedger ledger;
    ledger.grab(grab(10, 100, 0x1000, kFlagGet));
    auto out = ledger.release(release(20, 100, 0x1000, kFlagPin));
    EXPECT_EQ(out.matched, 0u);
    EXPECT_EQ(out.unmatched, 1u);
    ASSERT_EQ(ledger.holders(0x1000).size(), 1u);
}

TEST(Ledger, ReleaseOfPinTakenBeforeTheTraceIsCountedUnmatched)
{
    PinLedger ledger;
    auto out = ledger.release(release(20, 100, 0x5000, kFlagPin, 3));
    EXPECT_EQ(out.matched, 0u);
    EXPECT_EQ(out.unmatched, 3u);
}

TEST(Ledger, FolioReleaseCoversPinsOnAnyOfItsPages)
{
    PinLedger ledger;
    ledger.grab(grab(10, 100, 0x4001, kFlagPin));
    ledger.grab(grab(10, 100, 0x4003, kFlagPin));
    // unpin_user_pages() releases 2 pins on a 4-page folio headed at 0x4000.
    auto out = ledger.release(release(20, 100, 0x4000, kFlagPin, 2, 4));
    EXPECT_EQ(out.matched, 2u);
    EXPECT_EQ(ledger.pages_held(), 0u);
}

TEST(Ledger, PartialReleaseKeepsTheRest)
{
    PinLedger ledger;
    ledger.grab(grab(10, 100, 0x1000, kLongPin, 8));
    for (uint64_t pfn : {0x1003u, 0x1000u, 0x1007u}) ledger.release(release(20, 100, pfn, kFlagPin));
    EXPECT_EQ(ledger.pages_held(), 5u);
    EXPECT_TRUE(ledger.holders(0x1003).empty());
    EXPECT_EQ(ledger.holders(0x1004).size(), 1u);
}

}  // namespace
}  // namespace pintrace

namespace pintrace {
namespace {

TEST(Ledger, AFreedPageHasNoHoldersAndItsPfnStartsClean)
{
    PinLedger ledger;
    ledger.grab(test::grab(10, 100, 0x1000, kFlagGet));  // vmsplice: release invisible
    ledger.grab(test::grab(10, 100, 0x1001, kFlagGet));
    EXPECT_EQ(ledger.page_freed(0x1000, 1), 1u);
    EXPECT_TRUE(ledger.holders(0x1000).empty());
    EXPECT_EQ(ledger.holders(0x1001).size(), 1u);
    // The pfn is reused by another process: only the new owner holds it.
    ledger.grab(test::grab(20, 200, 0x1000, test::kLongPin));
    ASSERT_EQ(ledger.holders(0x1000).size(), 1u);
    EXPECT_EQ(ledger.holders(0x1000)[0].task.tgid, 200u);
    EXPECT_EQ(ledger.page_freed(0x1000, 4), 2u);  // an order-2 free covers 0x1000-0x1003
    EXPECT_EQ(ledger.pages_held(), 0u);
}

// Fast GUP of a pmd-mapped THP names the first page it grabbed, a tail
// (6.1: try_grab_folio(page + offset, refs)); the THP's free names its head
// with order 9. The free closes the references on its tail pages, and only
// those of that folio.
TEST(Ledger, AFreeOfALargeFolioByItsHeadClosesReferencesOnItsTailPages)
{
    PinLedger ledger;
    const uint64_t head = 0x20000;
    ledger.grab(test::grab(10, 100, head + 100, kFlagGet, 16));
    ledger.grab(test::grab(10, 200, head + 512, kFlagGet, 1));  // the next folio
    EXPECT_EQ(ledger.pages_held(), 17u);
    EXPECT_EQ(ledger.page_freed(head, 512), 16u);
    EXPECT_TRUE(ledger.holders(head + 100).empty());
    EXPECT_TRUE(ledger.holders(head + 115).empty());
    EXPECT_EQ(ledger.holders(head + 512).size(), 1u);
    EXPECT_EQ(ledger.owner(0).pins_freed, 16u);
    EXPECT_EQ(ledger.owner(0).pages_held, 0u);
}

}  // namespace
}  // namespace pintrace
