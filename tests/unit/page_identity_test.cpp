// What a failed page was (bpf/pintrace.h struct pt_page_identity): decoded
// from the records that carry it, judged by the explainer, said by the
// views.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/property_tree/json_parser.hpp>
#include <boost/property_tree/ptree.hpp>
#include <cstring>
#include <sstream>

#include "event_builders.hpp"
#include "events/decode.hpp"
#include "explain/explainer.hpp"
#include "render/format.hpp"
#include "render/report_views.hpp"
#include "sample_trace.hpp"

namespace pintrace {
namespace {

using testing::HasSubstr;
using testing::Not;

template <class T>
std::vector<std::byte> bytes_of(const T& r)
{
    std::vector<std::byte> b(sizeof r);
    std::memcpy(b.data(), &r, sizeof r);
    return b;
}

template <size_t N>
void put_name(char (&dst)[N], std::string_view s)
{
    std::memset(dst, 0, N);
    std::memcpy(dst, s.data(), std::min(s.size(), N));
}

// tmpfs 0:26, inode 14, "/data/x" page 5: the dentry names leaf first,
// ending at the root "/".
pt_page_identity file_identity()
{
    pt_page_identity id{};
    id.kind = PT_PAGE_FILE;
    id.dev = (0u << 20) | 26;
    id.ino = 14;
    id.index = 5;
    id.refcount = 4;
    id.mapcount = 1;
    put_name(id.fs, "tmpfs");
    put_name(id.path[0], "x");
    put_name(id.path[1], "data");
    put_name(id.path[2], "/");
    id.path_depth = 3;
    id.path_complete = 1;
    return id;
}

pt_failed_folio failed_folio_base()
{
    pt_failed_folio f{};
    f.h.type = PT_REC_FAILED_FOLIO;
    f.h.size = sizeof(pt_failed_folio);
    f.h.hook = PT_HOOK_MIGRATE_PAGES_EXIT;
    f.h.tgid = f.h.tid = 300;
    f.pfn = 0x500;
    f.refcount = 3;
    f.mapcount = 1;
    f.nr_pages = 1;
    return f;
}

TEST(PageIdentity, AFailedFolioRecordCarriesItAtItsEnd)
{
    pt_failed_folio_identified r{};
    r.base = failed_folio_base();
    r.base.h.size = sizeof r;
    r.identity = file_identity();
    Event out;
    auto known = decode_kernel_record(bytes_of(r), FlagLayout::before_6_3(), out);
    ASSERT_TRUE(known.ok()) << known.error().message;
    const auto& e = std::get<FailedFolioEvent>(out);
    ASSERT_TRUE(e.identity);
    EXPECT_EQ(e.identity->kind, PT_PAGE_FILE);
    ASSERT_TRUE(e.identity->file);
    EXPECT_EQ(e.identity->file->fs, "tmpfs");
    EXPECT_EQ(e.identity->file->major(), 0u);
    EXPECT_EQ(e.identity->file->minor(), 26u);
    EXPECT_EQ(e.identity->file->ino, 14u);
    EXPECT_EQ(e.identity->file->index, 5u);
    EXPECT_EQ(e.identity->file->path, "/data/x");
    EXPECT_EQ(e.identity->refcount, 4);
}

TEST(PageIdentity, AnOlderRecordHasNone)
{
    Event out;
    auto known = decode_kernel_record(bytes_of(failed_folio_base()), FlagLayout::before_6_3(), out);
    ASSERT_TRUE(known.ok());
    EXPECT_FALSE(std::get<FailedFolioEvent>(out).identity);
    // Longer than the base, shorter than base and identity: the base alone.
    pt_failed_folio_identified r{};
    r.base = failed_folio_base();
    r.identity = file_identity();
    auto cut = bytes_of(r);
    cut.resize(sizeof(pt_failed_folio) + 100);
    known = decode_kernel_record(cut, FlagLayout::before_6_3(), out);
    ASSERT_TRUE(known.ok()) << known.error().message;
    EXPECT_EQ(std::get<FailedFolioEvent>(out).pfn, 0x500u);
    EXPECT_FALSE(std::get<FailedFolioEvent>(out).identity);
}

TEST(PageIdentity, IsolationRecordsCarryTheBusyPagesIdentity)
{
    pt_isolation_failed_identified r{};
    r.base.h.type = PT_REC_ISOLATION_FAILED;
    r.base.h.size = sizeof r;
    r.base.start_pfn = 0x1000;
    r.base.end_pfn = 0x1200;
    r.base.busy_pfn = 0x1010;
    r.identity.kind = PT_PAGE_NO_MAPPING;
    r.identity.type = PT_TYPE_SLAB;
    put_name(r.identity.slab_cache, "kmalloc-64");
    Event out;
    ASSERT_TRUE(decode_kernel_record(bytes_of(r), FlagLayout::before_6_3(), out).ok());
    const auto& e = std::get<IsolationFailedEvent>(out);
    ASSERT_TRUE(e.identity);
    EXPECT_EQ(e.identity->type, PT_TYPE_SLAB);
    EXPECT_EQ(e.identity->slab_cache, "kmalloc-64");
    EXPECT_FALSE(e.identity->file);

    pt_isolation_refused_identified refused{};
    refused.base.h.type = PT_REC_ISOLATION_REFUSED;
    refused.base.h.size = sizeof refused;
    refused.base.start_pfn = 0x1000;
    refused.base.end_pfn = 0x1200;
    refused.base.unmovable_pfn = PT_NO_PFN;  // the kernel did not say which page: nothing was read
    refused.identity.kind = PT_PAGE_ANON;
    ASSERT_TRUE(decode_kernel_record(bytes_of(refused), FlagLayout::before_6_3(), out).ok());
    EXPECT_FALSE(std::get<IsolationFailedEvent>(out).identity);
}

// Names cut at the limit, a chain that never reached the root, a kind and a
// type from a newer pintrace.
TEST(PageIdentity, DecodingTrustsNothingItCannotCheck)
{
    pt_page_identity raw = file_identity();
    std::memset(raw.path[0], 'a', PT_IDENTITY_NAME_LEN);  // no terminator
    raw.path_complete = 0;
    raw.path_depth = 2;
    std::memset(raw.fs, 'f', PT_IDENTITY_FS_LEN);
    PageIdentity id = decode_page_identity(raw);
    ASSERT_TRUE(id.file);
    EXPECT_EQ(id.file->path, ".../data/" + std::string(PT_IDENTITY_NAME_LEN, 'a'));
    EXPECT_EQ(id.file->fs, std::string(PT_IDENTITY_FS_LEN, 'f'));
    // A dentry that is its own parent and not a root: a memfd's, a pipe's.
    pt_page_identity memfd = file_identity();
    put_name(memfd.path[0], "memfd:buf");
    memfd.path_depth = 1;
    EXPECT_EQ(decode_page_identity(memfd).file->path, "memfd:buf");
    raw.path_depth = 200;  // more names than the record holds: the ones it holds
    EXPECT_THAT(decode_page_identity(raw).file->path,
                testing::EndsWith("/data/" + std::string(PT_IDENTITY_NAME_LEN, 'a')));

    raw.kind = 250;
    raw.type = 250;
    id = decode_page_identity(raw);
    EXPECT_EQ(id.kind, PT_PAGE_UNREAD);
    EXPECT_EQ(id.type, PT_TYPE_NONE);
    EXPECT_FALSE(id.file);
    EXPECT_EQ(page_kind_name(static_cast<pt_page_kind>(250)), "unknown");
    EXPECT_EQ(page_type_name(PT_TYPE_TABLE), "page_table");
}

TraceInfo info_with_flags()
{
    TraceInfo info = test::sample_info();
    info.page_flags = {{0, "PG_locked"}, {10, "PG_owner_priv_1"}, {13, "PG_private"}, {19, "PG_swapbacked"}};
    return info;
}

// One migration by pid 300 whose failed list held these pages.
Report migrate_fails(std::vector<FailedFolioEvent> pages, int times = 1)
{
    Explainer ex(info_with_flags());
    for (int t = 0; t < times; ++t) {
        uint64_t ts = 100 + 100 * t;
        MigrateEvent m;
        m.head = test::head(ts, 300, "numactl");
        m.failed = pages.size();
        m.reason = 3;
        ex.consume(m);
        for (auto f : pages) {
            f.head = m.head;
            ex.consume(f);
        }
        MigrateEndEvent end;
        end.head = m.head;
        end.ret = static_cast<int64_t>(pages.size());
        ex.consume(end);
    }
    return std::move(ex).finish();
}

FailedFolioEvent folio(uint64_t pfn, int32_t refcount, int32_t mapcount, std::optional<PageIdentity> id)
{
    FailedFolioEvent f;
    f.pfn = pfn;
    f.refcount = refcount;
    f.mapcount = mapcount;
    f.identity = std::move(id);
    if (f.identity) f.page_flags = f.identity->flags;
    return f;
}

PageIdentity of_kind(pt_page_kind kind, pt_page_type type = PT_TYPE_NONE)
{
    PageIdentity id;
    id.kind = kind;
    id.type = type;
    return id;
}

// The page cache holds a reference of its own: a clean, mapped file page
// on a failed list has isolation's, the cache's and its mapping's. Only
// references beyond those are someone's, and a file page's are then what
// takes file pages without GUP.
TEST(PageIdentity, AFilePagesOwnReferencesAreNotAHolders)
{
    PageIdentity file = decode_page_identity(file_identity());
    Report r = migrate_fails({folio(0x500, 3, 1, file), folio(0x501, 4, 1, file), folio(0x502, 3, 1, std::nullopt)});
    const auto& pages = r.failures.at(0).pages;
    ASSERT_EQ(pages.size(), 3u);
    EXPECT_EQ(pages[0].cause, Cause::NoHolderSeen);
    EXPECT_EQ(pages[0].extra_refs(), 0);
    EXPECT_EQ(pages[1].cause, Cause::FileReferenced);
    EXPECT_EQ(pages[1].extra_refs(), 1);
    // Without its identity the same counts read as before: one too many.
    EXPECT_EQ(pages[2].cause, Cause::ExtraRefUnknown);

    PageIdentity with_buffers = file;
    with_buffers.flags = 1ull << 13;  // PG_private: buffer heads hold one more
    PageIdentity swapped = of_kind(PT_PAGE_ANON);
    swapped.flags = (1ull << 19) | (1ull << 10);  // swap-backed, in the swap cache
    r = migrate_fails({folio(0x600, 4, 1, with_buffers), folio(0x601, 3, 1, swapped)});
    EXPECT_EQ(r.failures.at(0).pages[0].cause, Cause::NoHolderSeen);
    EXPECT_EQ(r.failures.at(0).pages[1].cause, Cause::NoHolderSeen);
}

TEST(PageIdentity, ThePageTypeDecidesWhereNoHolderDoes)
{
    PageIdentity slab = of_kind(PT_PAGE_NO_MAPPING, PT_TYPE_SLAB);
    slab.slab_cache = "dentry";
    Report r = migrate_fails({folio(0x10, 2, 0, of_kind(PT_PAGE_NO_MAPPING, PT_TYPE_TABLE)), folio(0x11, 2, 0, slab),
                              folio(0x12, 2, 0, of_kind(PT_PAGE_MOVABLE_OPS, PT_TYPE_ZSMALLOC)),
                              folio(0x13, 2, 0, of_kind(PT_PAGE_MOVABLE_OPS))});
    const auto& p = r.failures.at(0).pages;
    EXPECT_EQ(p[0].cause, Cause::PageTable);
    EXPECT_EQ(p[1].cause, Cause::KernelMemory);
    EXPECT_EQ(p[2].cause, Cause::DriverMovable);
    EXPECT_EQ(p[3].cause, Cause::DriverMovable);
    std::string text = test::flat(render_report_text(r));
    EXPECT_THAT(text, HasSubstr("what: a page-table page"));
    EXPECT_THAT(text, HasSubstr("what: a slab page (cache dentry)"));
    EXPECT_THAT(text, HasSubstr("(page_table)"));
    EXPECT_THAT(text, HasSubstr(std::string(cause_info(Cause::KernelMemory).next_step)));

    // A holder still decides over the type: what the trace saw comes first.
    Explainer ex(info_with_flags());
    ex.consume(test::grab(10, 100, 0x10, test::kLongPin));
    for (auto e : test::migration_failure(20, {{0x10, 1026}})) {
        if (auto* f = std::get_if<FailedFolioEvent>(&e)) f->identity = of_kind(PT_PAGE_NO_MAPPING, PT_TYPE_TABLE);
        ex.consume(e);
    }
    Report held = std::move(ex).finish();
    EXPECT_EQ(held.failures.at(0).pages.at(0).cause, Cause::LongtermPin);
}

// The case: a file's pages a pipe holds. The report names the file
// and where in it, and advises draining the pipe, not a retry.
TEST(PageIdentity, FilePagesReferencedOutsideGupNameTheFile)
{
    std::vector<FailedFolioEvent> pages;
    for (uint64_t i = 0; i < 4; ++i) {
        pt_page_identity raw = file_identity();
        raw.index = i;
        pages.push_back(folio(0x700 + i, 4, 1, decode_page_identity(raw)));
    }
    Report r = migrate_fails(pages);
    std::string text = test::flat(render_report_text(r));
    EXPECT_THAT(text, HasSubstr("file pages referenced outside any traced pin"));
    EXPECT_THAT(text, HasSubstr("what: page cache of tmpfs 0:26 inode 14 /data/x (file pages 0-3)"));
    EXPECT_THAT(text, HasSubstr("drain or close it"));
    EXPECT_THAT(text, Not(HasSubstr("transient; retry")));

    std::istringstream in(render_report_json(r));
    boost::property_tree::ptree root;
    ASSERT_NO_THROW(boost::property_tree::read_json(in, root));
    const auto& first = root.get_child("failures").front().second.get_child("unexplained").front().second;
    EXPECT_EQ(first.get<std::string>("cause"), "file_page_referenced");
    EXPECT_EQ(first.get<std::string>("page.kind"), "file");
    EXPECT_EQ(first.get<std::string>("page.file.dev"), "0:26");
    EXPECT_EQ(first.get<uint64_t>("page.file.inode"), 14u);
    EXPECT_EQ(first.get<std::string>("page.file.path"), "/data/x");
    EXPECT_EQ(first.get<uint64_t>("page.file.offset_pages"), 0u);
    EXPECT_EQ(first.get<std::string>("page.type"), "null");
    EXPECT_EQ(first.get<uint32_t>("earlier_failures"), 0u);
}

// "Transient; retry" only until a retry shows otherwise.
TEST(PageIdentity, AStateThatSurvivesARetryIsNotCalledTransient)
{
    PageIdentity anon = of_kind(PT_PAGE_ANON);
    Report once = migrate_fails({folio(0x800, 3, 1, anon)});
    Report twice = migrate_fails({folio(0x800, 3, 1, anon)}, 2);
    ASSERT_EQ(twice.failures.size(), 2u);
    EXPECT_EQ(twice.failures[0].pages[0].earlier_failures, 0u);
    EXPECT_EQ(twice.failures[1].pages[0].earlier_failures, 1u);
    auto first_groups = group_unexplained(once, once.failures[0]);
    auto second_groups = group_unexplained(twice, twice.failures[1]);
    ASSERT_EQ(first_groups.size(), 1u);
    ASSERT_EQ(second_groups.size(), 1u);
    EXPECT_THAT(first_groups[0].next, HasSubstr("transient; retry"));
    EXPECT_FALSE(first_groups[0].persistent);
    EXPECT_TRUE(second_groups[0].persistent);
    EXPECT_EQ(second_groups[0].next, cause_info(Cause::ExtraRefUnknown).persistent_step);
    EXPECT_THAT(test::flat(render_report_text(twice)), HasSubstr("in an earlier failure of this trace too"));
}

// Isolation names one busy page and no counts; its identity brings them,
// read where the page is not isolated (no isolation reference).
TEST(PageIdentity, AnIsolationFailuresBusyPageIsJudgedByItsIdentity)
{
    Explainer ex(info_with_flags());
    auto e = test::isolation(10, 0x1000, 0x1200, 0x1010);
    pt_page_identity raw = file_identity();
    raw.refcount = 3;  // the cache's, one mapping's, and one more
    raw.mapcount = 1;
    e.identity = decode_page_identity(raw);
    ex.consume(e);
    auto table = test::isolation(20, 0x2000, 0x2200, 0x2010);
    table.identity = of_kind(PT_PAGE_NO_MAPPING, PT_TYPE_TABLE);
    ex.consume(table);
    auto refused = test::isolation_refused(30, 0x3000, 0x3200, 0x3010);
    refused.identity = of_kind(PT_PAGE_NO_MAPPING, PT_TYPE_SLAB);
    ex.consume(refused);
    Report r = std::move(ex).finish();
    ASSERT_EQ(r.failures.size(), 3u);
    const StuckPage& busy = r.failures[0].pages.at(0);
    EXPECT_TRUE(busy.counts_known);
    EXPECT_EQ(busy.extra_refs(), 1);
    EXPECT_EQ(busy.cause, Cause::FileReferenced);
    EXPECT_FALSE(r.failures[1].pages.at(0).counts_known);  // a typed page keeps its type in the mapcount's word
    EXPECT_EQ(r.failures[1].pages.at(0).cause, Cause::PageTable);
    EXPECT_EQ(r.failures[2].pages.at(0).cause, Cause::KernelMemory);
}

}  // namespace
}  // namespace pintrace
