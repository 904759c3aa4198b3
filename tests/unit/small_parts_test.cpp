#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>
#include <algorithm>

#include "capture/calibrate.hpp"
#include "capture/kernel_info.hpp"
#include "capture/symbolize.hpp"
#include "events/gup_flags.hpp"
#include "render/json_writer.hpp"
#include "render/safe_text.hpp"
#include "util/duration.hpp"

namespace pintrace {
namespace {

using testing::HasSubstr;

TEST(GupFlags, TheTwoLayoutsDecodeToTheSameMeaning)
{
    // io_uring registration: FOLL_WRITE | FOLL_LONGTERM | FOLL_PIN.
    EXPECT_EQ(FlagLayout::before_6_3().canonical(0x01 | 0x10000 | 0x40000), kFlagPin | kFlagLongterm | kFlagWrite);
    EXPECT_EQ(FlagLayout::since_6_3().canonical(0x01 | 0x100 | 0x80000), kFlagPin | kFlagLongterm | kFlagWrite);
    // Before 6.3, 0x80000 was FOLL_FAST_ONLY, not a pin.
    EXPECT_EQ(FlagLayout::before_6_3().canonical(0x80000 | 0x04), kFlagGet);
    EXPECT_EQ(flag_string(kFlagPin | kFlagLongterm), "FOLL_PIN|FOLL_LONGTERM");
}

TEST(Duration, ParsesUnitsAndRejectsGarbage)
{
    EXPECT_EQ(parse_duration_ns("250ms"), 250000000u);
    EXPECT_EQ(parse_duration_ns("10s"), 10000000000u);
    EXPECT_EQ(parse_duration_ns("1.5m"), 90000000000u);
    EXPECT_FALSE(parse_duration_ns("ten"));
    EXPECT_FALSE(parse_duration_ns("5 parsecs"));
    EXPECT_FALSE(parse_duration_ns("-1s"));
    EXPECT_FALSE(parse_duration_ns(""));
}

// Decimal with a unit, exactly, within INT64_MAX ns; "0" alone is zero.
TEST(Duration, DecimalOnlyWithAUnitAndNoOverflow)
{
    EXPECT_FALSE(parse_duration_ns("0x10")) << "was read as hex: 16 s";
    EXPECT_FALSE(parse_duration_ns("0x10s"));
    EXPECT_FALSE(parse_duration_ns("3")) << "a unit is required";
    EXPECT_FALSE(parse_duration_ns("1e3s"));
    EXPECT_FALSE(parse_duration_ns("infs"));
    EXPECT_FALSE(parse_duration_ns("nan"));
    EXPECT_FALSE(parse_duration_ns(" 1s"));
    EXPECT_FALSE(parse_duration_ns("+1s"));
    EXPECT_FALSE(parse_duration_ns("1.s"));
    EXPECT_FALSE(parse_duration_ns(".5s"));
    EXPECT_FALSE(parse_duration_ns("18446744073709551616ns")) << "past UINT64_MAX";
    EXPECT_FALSE(parse_duration_ns("9223372036854775808ns")) << "past INT64_MAX";
    EXPECT_FALSE(parse_duration_ns("99999999999h"));
    EXPECT_EQ(parse_duration_ns("9223372036854775807ns"), kMaxDurationNs);
    EXPECT_EQ(parse_duration_ns("0"), 0u);
    EXPECT_EQ(parse_duration_ns("0s"), 0u);
    EXPECT_EQ(parse_duration_ns("1ns"), 1u);
    EXPECT_EQ(parse_duration_ns("1.5us"), 1500u);
    EXPECT_EQ(parse_duration_ns("2min"), 120000000000u);
    EXPECT_EQ(parse_duration_ns("2h"), 7200000000000u);
    EXPECT_EQ(parse_duration_ns("0.1s"), 100000000u) << "exact, not 99999999 from a double";
}

TEST(Calibration, NeedsAClearMajorityInOneDirection)
{
    std::vector<uint64_t> good(20, 0xffffea0000000000), noise;
    for (uint64_t i = 0; i < 20; ++i) noise.push_back(0xffffea0000000000 + i * 4096);
    auto base = consensus_base(noise, good);
    ASSERT_TRUE(base.ok());
    EXPECT_EQ(base.value(), 0xffffea0000000000u);
    EXPECT_FALSE(consensus_base(noise, noise).ok());
    EXPECT_FALSE(consensus_base(std::vector<uint64_t>(3, 7), {}).ok());  // too few samples
}

TEST(KernelSymbols, ResolvesToTheEnclosingFunction)
{
    auto ks = KernelSymbols::from_kallsyms(
        "ffffffff81000000 T _stext\nffffffff812b1900 T try_grab_page\nffffffff812b1a00 t follow_page_pte\n"
        "ffffffff82396950 D vmemmap_base\n");
    EXPECT_EQ(ks.size(), 3u);  // data symbols are not code
    EXPECT_EQ(ks.resolve(0xffffffff812b1905), "try_grab_page+0x5");
    EXPECT_EQ(ks.resolve(0xffffffff812b1a00), "follow_page_pte");
    EXPECT_EQ(ks.resolve(0x1000), "");
}

// Clones whose arguments changed are named, never attached to; look-alike
// names and split-off parts are not clones of the function.
TEST(KernelSymbols, FindsCompilerClonesOfAFunction)
{
    const char* kallsyms =
        "ffffffff81234560 t try_grab_page.isra.0\n"
        "ffffffff81234600 t try_grab_page_fast\n"
        "ffffffff81234700 t try_grab_page.part.0\n"
        "ffffffff81234800 t try_grab_page.constprop.1\t[gup_mod]\n"
        "ffffffff81234900 T gup_put_folio\n";
    auto syms = KernelSymbols::from_kallsyms(kallsyms);
    EXPECT_EQ(syms.compiler_clones("try_grab_page"),
              (std::vector<std::string>{"try_grab_page.isra.0", "try_grab_page.constprop.1"}));
    EXPECT_TRUE(syms.compiler_clones("gup_put_folio").empty());
    EXPECT_TRUE(KernelSymbols::from_kallsyms("garbage\n\n").compiler_clones("gup_put_folio").empty());
}

TEST(KernelInfo, MigrateReasonNamesMatchTheTracepoint)
{
    EXPECT_EQ(migrate_reason_label("MR_SYSCALL"), "syscall_or_cpuset");
    EXPECT_EQ(migrate_reason_label("MR_LONGTERM_PIN"), "longterm_pin");
    EXPECT_EQ(migrate_reason_label("MR_CONTIG_RANGE"), "contig_range");
}

TEST(JsonWriter, EscapesAndSeparates)
{
    JsonWriter j;
    j.begin_object().field("a", "x\"y\n").key("b").begin_array().value(1).value(uint64_t{2}).end_array().end_object();
    EXPECT_EQ(j.str(), R"({"a":"x\"y\n","b":[1,2]})");
}

}  // namespace
}  // namespace pintrace

namespace pintrace {
namespace {

__attribute__((noinline)) int a_function_to_find(int x) { return x * 3 + 1; }

TEST(UserSymbols, ResolvesAnAddressInThisProcess)
{
    UserSymbols syms;
    auto addr = reinterpret_cast<uint64_t>(&a_function_to_find) + 4;
    std::string name = syms.resolve(static_cast<uint32_t>(getpid()), addr);
    EXPECT_THAT(name, HasSubstr("a_function_to_find")) << name;
    EXPECT_THAT(name, HasSubstr("+0x4")) << name;
    EXPECT_THAT(name, HasSubstr("(unit_tests)")) << name;
}

// A frame-pointer walk through a frameless function goes on through data:
// the stack stops before the first frame in no executable mapping.
TEST(UserSymbols, AStackStopsWhereItsFramesLeaveTheCode)
{
    UserSymbols syms;
    auto pid = static_cast<uint32_t>(getpid());
    auto code = reinterpret_cast<uint64_t>(&a_function_to_find);
    int on_the_stack = 0;
    auto data = reinterpret_cast<uint64_t>(&on_the_stack);
    std::vector<uint64_t> ips{code + 4, code + 8, 0x3030303030303030, code};
    EXPECT_EQ(syms.plausible_frames(pid, ips), 2u);
    ips = {code, data};
    EXPECT_EQ(syms.plausible_frames(pid, ips), 1u) << "the stack is no code";
    ips = {code, code + 1};
    EXPECT_EQ(syms.plausible_frames(pid, ips), 2u);
    // A process whose maps cannot be read keeps every frame.
    ips = {0x3030303030303030};
    EXPECT_EQ(syms.plausible_frames(0x7fffffff, ips), 1u);
}

// The recorder relies on this to resolve an exited process's stacks only
// from maps read while it lived.
TEST(UserSymbols, KeepsTheMapsItReadUntilTold)
{
    UserSymbols syms;
    auto pid = static_cast<uint32_t>(getpid());
    EXPECT_FALSE(syms.has_maps(pid));
    syms.resolve(pid, reinterpret_cast<uint64_t>(&a_function_to_find));
    EXPECT_TRUE(syms.has_maps(pid));
    syms.forget(pid);
    EXPECT_FALSE(syms.has_maps(pid));
}

}  // namespace
}  // namespace pintrace

#include "events/event.hpp"
#include "explain/origin.hpp"
#include "pintrace.h"

namespace pintrace {
namespace {

TEST(Origin, RecognisedFromTheInnermostSubsystemFrame)
{
    std::vector<std::string> iouring = {"try_grab_page+0x5", "follow_page_pte+0x2c9", "__gup_longterm_locked+0xbc",
                                        "io_pin_pages+0xba", "io_sqe_buffer_register+0x63"};
    EXPECT_EQ(origin_of(iouring), Origin::IoUringBuffers);
    std::vector<std::string> dio = {"try_grab_folio_fast+0x5",         "gup_fast_fallback+0x858",
                                    "iov_iter_extract_pages+0xe9",     "bio_iov_iter_get_pages+0xba",
                                    "__blkdev_direct_IO_simple+0x134", "io_read+0x50"};
    EXPECT_EQ(origin_of(dio), Origin::DirectIo);
    EXPECT_EQ(origin_of(std::vector<std::string>{"try_grab_folio+0x5", "iter_to_pipe+0x40"}), Origin::Vmsplice);
    // As 6.1 shows it: iter_to_pipe inlined into the syscall.
    EXPECT_EQ(origin_of(std::vector<std::string>{"try_grab_folio+0x5", "iov_iter_get_pages2+0x19",
                                                 "__do_sys_vmsplice+0x2e1", "do_syscall_64+0x5d"}),
              Origin::Vmsplice);
    EXPECT_EQ(origin_of(std::vector<std::string>{"x+0x1", "y+0x2"}), Origin::Unknown);
    // VFIO's type1 pinning carries io_uring's mark inside its name: VFIO wins.
    EXPECT_EQ(origin_of(std::vector<std::string>{"try_grab_folio+0x5", "vfio_pin_pages_remote+0x90"}), Origin::Vfio);
    // A VFIO device bound to iommufd pins through iommufd's page reader.
    EXPECT_EQ(origin_of(std::vector<std::string>{"try_grab_folio_fast+0x5", "pin_user_pages_fast+0x21",
                                                 "pfn_reader_user_pin+0x11c", "iopt_map_pages+0x8c",
                                                 "vfio_iommufd_compat_attach_ioas+0x31"}),
              Origin::Iommufd);
    EXPECT_EQ(
        origin_of(std::vector<std::string>{"try_grab_folio+0x5", "memfd_pin_folios+0x1d6", "udmabuf_create+0x2a1"}),
        Origin::Udmabuf);
    // MSG_ZEROCOPY: 6.1's TCP send, and 6.10+'s renamed frag filler under UDP.
    EXPECT_EQ(origin_of(std::vector<std::string>{"try_grab_folio+0x5", "iov_iter_get_pages2+0x19",
                                                 "__zerocopy_sg_from_iter+0x10a", "skb_zerocopy_iter_stream+0x6b",
                                                 "tcp_sendmsg_locked+0x8e7"}),
              Origin::SocketZerocopy);
    EXPECT_EQ(origin_of(std::vector<std::string>{"try_grab_folio_fast+0x5", "zerocopy_fill_skb_from_iter+0x8c",
                                                 "skb_zerocopy_iter_dgram+0x1b", "__ip_append_data+0x9d2"}),
              Origin::SocketZerocopy);
}

// Every origin says what it is and what to do, under a name of its own
// that reads back to it: the report never falls silent on a known origin.
TEST(Origin, EveryRowIsComplete)
{
    std::vector<std::string_view> names;
    for (const OriginInfo& row : origins()) {
        SCOPED_TRACE(std::string(row.name));
        EXPECT_NE(row.origin, Origin::Unknown);
        EXPECT_FALSE(row.description.empty());
        EXPECT_FALSE(row.next_step.empty());
        // At most one holder to name (exec's step needs none: it is over by itself).
        EXPECT_EQ(row.next_step.find("{who}"), row.next_step.rfind("{who}"));
        EXPECT_FALSE(row.short_action.empty());
        EXPECT_FALSE(row.stack_marks.empty());
        EXPECT_EQ(origin_from_name(row.name), row.origin);
        EXPECT_EQ(&origin_info(row.origin), &row);
        names.push_back(row.name);
    }
    std::sort(names.begin(), names.end());
    EXPECT_EQ(std::adjacent_find(names.begin(), names.end()), names.end());
    EXPECT_EQ(origins().size(), 11u);  // every value of Origin but Unknown
    EXPECT_EQ(origin_name(Origin::Unknown), "unknown");
    EXPECT_EQ(origin_from_name("unknown"), Origin::Unknown);
    EXPECT_TRUE(origin_info(Origin::Unknown).next_step.empty());
}

// The splice hooks tell page cache buffers by their release function's
// address, read from /proc/kallsyms (root reads real addresses).
TEST(KernelInfo, KallsymsGivesATextSymbolsAddress)
{
    if (geteuid() != 0) GTEST_SKIP() << "kallsyms hides addresses from non-root";
    EXPECT_NE(kallsyms_address("page_cache_pipe_buf_release"), 0u);
    EXPECT_EQ(kallsyms_address("no_such_kernel_function_anywhere"), 0u);
    // The patchable-function-entry prefix symbol is another name.
    EXPECT_NE(kallsyms_address("page_cache_pipe_buf_release"), kallsyms_address("__pfx_page_cache_pipe_buf_release"));
}

// A splice's grab is known by its attach point: its stack may be a sampled
// one from the thread's earlier grab (here a vmsplice's), and still the
// origin is the splice. Other hooks leave it to the stack.
TEST(Origin, AnAttachPointOfItsOwnOutranksTheStack)
{
    std::vector<std::string> vmsplice = {"try_grab_folio+0x5", "iter_to_pipe+0x40"};
    EXPECT_EQ(origin_of(PT_HOOK_SPLICE_READ, vmsplice), Origin::Splice);
    EXPECT_EQ(origin_of(PT_HOOK_SPLICE_TO, vmsplice), Origin::Splice);
    EXPECT_EQ(origin_of(PT_HOOK_TRY_GRAB_FOLIO, vmsplice), Origin::Vmsplice);
    EXPECT_EQ(origin_of_hook(PT_HOOK_GUP_PUT_FOLIO), Origin::Unknown);
    for (const OriginInfo& row : origins()) {
        SCOPED_TRACE(std::string(row.name));
        // A release hook belongs to grabs of its own hooks, and both exist.
        if (row.release_hook) EXPECT_FALSE(row.hooks.empty());
        if (row.release_hook) EXPECT_NE(hook_name(row.release_hook), "unknown");
        for (uint16_t h : row.hooks) EXPECT_NE(hook_name(h), "unknown");
    }
}

}  // namespace
}  // namespace pintrace

namespace pintrace {
namespace {

// Any bytes in, valid UTF-8 out: one U+FFFD per ill-formed byte, controls
// escaped; well-formed text (including 4-byte sequences) untouched.
TEST(SafeText, JsonEscapeIsValidUtf8)
{
    const std::string fffd = "\xEF\xBF\xBD";
    EXPECT_EQ(json_escape("\xff\xfe"), fffd + fffd);
    EXPECT_EQ(json_escape("a\xc3"), "a" + fffd) << "truncated sequence";
    EXPECT_EQ(json_escape("\xc0\xaf"), fffd + fffd) << "overlong";
    EXPECT_EQ(json_escape("\xed\xa0\x80"), fffd + fffd + fffd) << "surrogate";
    EXPECT_EQ(json_escape("\xf4\x90\x80\x80"), fffd + fffd + fffd + fffd) << "past U+10FFFF";
    EXPECT_EQ(json_escape("\x1b[2J\x7f\xc2\x9b"), "\\u001b[2J\\u007f\\u009b");
    EXPECT_EQ(json_escape("k\xc3\xb6nig \xe2\x82\xac \xf0\x9f\x90\xa7"), "k\xc3\xb6nig \xe2\x82\xac \xf0\x9f\x90\xa7");
    EXPECT_EQ(json_escape(std::string("a\0b", 3)), "a\\u0000b");
}

TEST(SafeText, PrintableShowsControlsAndKeepsText)
{
    EXPECT_EQ(printable("\x1b[31mred\x07"), "\\x1b[31mred\\x07");
    EXPECT_EQ(printable("a\nb"), "a\\x0ab");
    EXPECT_EQ(printable("a\nb", true), "a\nb");
    EXPECT_EQ(printable("\xc2\x9b"
                        "2J"),
              "\\x9b2J")
        << "C1 CSI";
    EXPECT_EQ(printable("\xff"), "\xEF\xBF\xBD");
    EXPECT_EQ(printable("caf\xc3\xa9"), "caf\xc3\xa9");
}

}  // namespace
}  // namespace pintrace
