// Owner discovery: VFIO, iommufd and RDMA holders and `rdma resource show
// mr` on a fixture /proc tree; the reverse-map path against the pagemap
// walk on the same fixture; and, as root, the BPF reverse map on this
// kernel against pages whose mappers the test knows.
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>

#include "snapshot/owners.hpp"
#include "snapshot/rmap_source.hpp"

namespace pintrace::snapshot {
namespace {

using testing::HasSubstr;

namespace fs = std::filesystem;

constexpr uint64_t kPresent = uint64_t{1} << 63;

// A fake /proc: per process comm, maps, pagemap entries and fd links.
class ProcTree {
public:
    ProcTree() : root_(::testing::TempDir() + "/owners_proc" + std::to_string(getpid()))
    {
        fs::remove_all(root_);
        fs::create_directories(root_ + "/proc");
    }
    ~ProcTree() { fs::remove_all(root_); }
    const std::string& root() const { return root_; }

    void process(uint32_t pid, const std::string& comm, const std::string& maps)
    {
        std::string d = dir(pid);
        fs::create_directories(d + "/fd");
        fs::create_directories(d + "/fdinfo");
        std::ofstream(d + "/comm") << comm << "\n";
        std::ofstream(d + "/maps") << maps;
        std::ofstream(d + "/pagemap");
    }
    void page(uint32_t pid, uint64_t vaddr, uint64_t pfn)
    {
        std::fstream f(dir(pid) + "/pagemap", std::ios::in | std::ios::out | std::ios::binary);
        uint64_t entry = kPresent | pfn;
        f.seekp(static_cast<std::streamoff>(vaddr / 4096 * 8));
        f.write(reinterpret_cast<const char*>(&entry), sizeof entry);
    }
    void fd(uint32_t pid, int n, const std::string& target, const std::string& fdinfo = "")
    {
        fs::create_symlink(target, dir(pid) + "/fd/" + std::to_string(n));
        std::ofstream(dir(pid) + "/fdinfo/" + std::to_string(n)) << fdinfo;
    }

private:
    std::string dir(uint32_t pid) const { return root_ + "/proc/" + std::to_string(pid); }
    std::string root_;
};

const Candidate* find(const OwnerScan& s, uint32_t pid)
{
    for (const auto& c : s.candidates)
        if (c.pid == pid) return &c;
    return nullptr;
}

bool has_evidence(const Candidate& c, const std::string& prefix, bool long_term)
{
    for (const auto& e : c.evidence)
        if (e.what.rfind(prefix, 0) == 0 && e.long_term == long_term) return true;
    return false;
}

std::string_view kind_of(std::string_view target)
{
    const HolderFdKind* k = holder_fd_kind(target);
    return k ? k->name : "none";
}

TEST(Owners, HolderFdKindFromTheFdTarget)
{
    EXPECT_EQ(kind_of("/dev/vfio/vfio"), "vfio_container");
    EXPECT_EQ(kind_of("/dev/vfio/12"), "vfio_group");
    EXPECT_EQ(kind_of("/dev/vfio/devices/vfio0"), "vfio_device");
    EXPECT_EQ(kind_of("anon_inode:[vfio-device]"), "vfio_device");
    EXPECT_EQ(kind_of("/dev/iommu"), "iommufd");
    EXPECT_EQ(kind_of("/dev/infiniband/uverbs0"), "rdma_verbs");
    EXPECT_EQ(kind_of("anon_inode:[io_uring]"), "io_uring");
    EXPECT_EQ(kind_of("/dmabuf:"), "udmabuf");
    EXPECT_EQ(kind_of("/dmabuf:frame0"), "udmabuf");
    EXPECT_EQ(kind_of("/dev/vfio/"), "none");
    EXPECT_EQ(kind_of("/dev/vfio/12x"), "none");
    EXPECT_EQ(kind_of("/dev/infiniband/rdma_cm"), "none");  // connection manager: pins nothing
    EXPECT_EQ(kind_of("socket:[1234]"), "none");
    EXPECT_EQ(kind_of("/dev/udmabuf"), "none");  // the device makes dma-bufs; its fd holds nothing

    EXPECT_EQ(holder_fd_kind("/dev/iommu")->origin, Origin::Iommufd);  // not VFIO's
    std::vector<std::string_view> names;
    for (const auto& k : holder_fd_kinds()) names.push_back(k.name);
    std::sort(names.begin(), names.end());
    EXPECT_EQ(std::adjacent_find(names.begin(), names.end()), names.end());
}

// As drivers/dma-buf/dma-buf.c prints it (5.10 to 7.x).
TEST(Owners, DmaBufFdinfoNamesItsExporter)
{
    auto info = parse_dma_buf_fdinfo(
        "pos:\t0\nflags:\t02000002\nmnt_id:\t15\nino:\t1042\nsize:\t8192\ncount:\t1\n"
        "exp_name:\tudmabuf\nname:\tframe0\n");
    ASSERT_TRUE(info);
    EXPECT_EQ(info->exporter, "udmabuf");
    EXPECT_EQ(info->size, 8192u);
    EXPECT_EQ(info->name, "frame0");
    EXPECT_FALSE(parse_dma_buf_fdinfo("pos:\t0\nflags:\t02\n"));  // not a dma-buf
    // Only udmabuf's dma-bufs hold a process's pages: a GPU's is not a holder.
    const HolderFdKind* k = holder_fd_kind("/dmabuf:");
    ASSERT_TRUE(k && k->read_fdinfo);
    EXPECT_TRUE(k->read_fdinfo("size:\t4096\nexp_name:\tudmabuf\n"));
    EXPECT_FALSE(k->read_fdinfo("size:\t4096\nexp_name:\ti915\n"));
}

TEST(Owners, RdmaMrLinesAsIproute2PrintsThem)
{
    // As root (keys and iova shown), a user MR, a kernel MR (no pid,
    // bracketed comm), an unprivileged one (no keys, no iova), and junk.
    const char* text =
        "dev mlx5_0 mrn 4 rkey 0x1a2b lkey 0x1a2b iova 0x7f1000000000 mrlen 8192 pdn 3 pid 200 comm ib_write_bw\n"
        "dev mlx5_0 mrn 1 mrlen 4096 pdn 0 comm [ib_core]\n"
        "dev rxe0 mrn 9 mrlen 1048576 pdn 2 pid 7 comm app\n"
        "\n"
        "dev mlx5_0 mrn x mrlen 4096\n"
        "error: unknown\n";
    size_t bad = 0;
    auto mrs = parse_rdma_mr(text, &bad);
    ASSERT_EQ(mrs.size(), 3u);
    EXPECT_EQ(bad, 2u);
    EXPECT_EQ(mrs[0].dev, "mlx5_0");
    EXPECT_EQ(mrs[0].mrn, 4u);
    EXPECT_EQ(mrs[0].iova, 0x7f1000000000u);
    EXPECT_EQ(mrs[0].len, 8192u);
    EXPECT_EQ(mrs[0].pid, 200u);
    EXPECT_EQ(mrs[0].comm, "ib_write_bw");
    EXPECT_FALSE(mrs[1].pid);
    EXPECT_EQ(mrs[1].comm, "[ib_core]");
    EXPECT_FALSE(mrs[2].iova);
    EXPECT_EQ(mrs[2].len, 1048576u);
}

// Pfns 0x1000 (mapped by a VFIO user), 0x2000 (by an RDMA user, inside an
// MR), 0x3000 (by a plain process), 0x4000 (by nobody).
struct Fixture {
    ProcTree t;
    Fixture()
    {
        t.process(100, "qemu", "00400000-00410000 rw-p 00000000 00:00 0 \n");
        t.page(100, 0x400000, 0x1000);
        t.fd(100, 5, "/dev/vfio/vfio");
        t.fd(100, 6, "/dev/vfio/12");
        t.fd(100, 7, "/dev/null");

        t.process(200, "ib_app", "00600000-00602000 rw-p 00000000 00:00 0 \n");
        t.page(200, 0x601000, 0x2000);
        t.fd(200, 3, "/dev/infiniband/uverbs0");

        t.process(300, "bash", "00800000-00900000 rw-p 00000000 00:00 0    [heap]\n");
        t.page(300, 0x800000, 0x3000);

        // Shares 0x3000's anon_vma (a fork) but holds its own copy now.
        t.process(400, "bash", "00800000-00900000 rw-p 00000000 00:00 0    [heap]\n");
        t.page(400, 0x800000, 0x3333);

        // A VFIO user that maps none of the pages asked about.
        t.process(500, "dpdk", "00a00000-00a01000 rw-p 00000000 00:00 0 \n");
        t.page(500, 0xa00000, 0x5000);
        t.fd(500, 9, "anon_inode:[vfio-device]");
    }
    OwnerOptions options() const
    {
        OwnerOptions o;
        o.root = t.root();
        o.rdma_mr_text =
            "dev mlx5_0 mrn 4 rkey 0x1 lkey 0x1 iova 0x600000 mrlen 8192 pdn 3 pid 200 comm ib_app\n"
            "dev mlx5_0 mrn 5 rkey 0x2 lkey 0x2 iova 0x900000 mrlen 4096 pdn 3 pid 200 comm ib_app\n";
        return o;
    }
};

// What the BPF reverse map would answer for the fixture's pages.
Result<PageMappers> fake_rmap(uint64_t pfn)
{
    PageMappers m;
    m.pfn = pfn;
    m.kind = RmapKind::Anon;
    if (pfn == 0x1000) m.mappers = {{100, 0x400000, 0xa, "qemu"}};
    if (pfn == 0x2000) m.mappers = {{200, 0x601000, 0xb, "ib_app"}};
    if (pfn == 0x3000) m.mappers = {{300, 0x800000, 0xc, "bash"}, {400, 0x800000, 0xd, "bash"}};
    if (pfn == 0x4000) m.kind = RmapKind::None;
    return m;
}

void expect_fixture_candidates(const OwnerScan& s)
{
    const Candidate* qemu = find(s, 100);
    ASSERT_TRUE(qemu);
    EXPECT_EQ(qemu->confidence, Confidence::Likely);
    EXPECT_EQ(qemu->pfns, (std::set<uint64_t>{0x1000}));
    EXPECT_TRUE(
        has_evidence(*qemu, "holds a VFIO container fd 5 (/dev/vfio/vfio): its DMA mappings are long-term pins", true));
    EXPECT_TRUE(has_evidence(*qemu, "holds a VFIO group fd 6 (/dev/vfio/12)", true));
    EXPECT_TRUE(has_evidence(*qemu, "maps 1 page at 0x400000 (rw-p anonymous)", false));
    EXPECT_TRUE(qemu->evidence.front().long_term);  // the pin evidence first

    const Candidate* ib = find(s, 200);
    ASSERT_TRUE(ib);
    EXPECT_EQ(ib->confidence, Confidence::Likely);
    EXPECT_TRUE(has_evidence(*ib, "holds an RDMA verbs fd 3 (/dev/infiniband/uverbs0)", true));
    // mrn 4 (iova 0x600000, 8 KiB) holds the page's address 0x601000; mrn 5 does not.
    EXPECT_TRUE(has_evidence(*ib,
                             "RDMA memory region mrn 4 on mlx5_0 (iova 0x600000, 8192 bytes; a long-term pin) "
                             "covers 1 page",
                             true));
    EXPECT_FALSE(has_evidence(*ib, "RDMA memory region mrn 5", true));
    EXPECT_TRUE(has_evidence(*ib, "rdma lists 2 memory region(s) of 12288 bytes for it", true));

    const Candidate* sh = find(s, 300);
    ASSERT_TRUE(sh);
    EXPECT_EQ(sh->confidence, Confidence::Possible);
    EXPECT_TRUE(has_evidence(*sh, "maps 1 page at 0x800000 (rw-p [heap])", false));

    EXPECT_FALSE(find(s, 400));  // its copy is another page
    EXPECT_FALSE(find(s, 500));  // maps none of them
    EXPECT_EQ(s.candidates.size(), 3u);
    EXPECT_EQ(s.unowned, (std::vector<uint64_t>{0x4000}));
    bool noted = false;
    for (const auto& n : s.notes) noted = noted || n.rfind("pid 500 (dpdk) holds 1 fd(s) that pin memory", 0) == 0;
    EXPECT_TRUE(noted);
}

TEST(Owners, FromThePagesThroughTheReverseMap)
{
    Fixture f;
    auto o = f.options();
    std::vector<uint64_t> asked;
    o.rmap = [&](uint64_t pfn) {
        asked.push_back(pfn);
        return fake_rmap(pfn);
    };
    auto s = find_owners({0x1000, 0x2000, 0x3000, 0x4000}, 0, 0, o);
    EXPECT_EQ(s.method, OwnerMethod::ReverseMap);
    EXPECT_EQ(asked, (std::vector<uint64_t>{0x1000, 0x2000, 0x3000, 0x4000}));
    EXPECT_EQ(s.rmap_pages, 4u);
    EXPECT_EQ(s.rmap_mappers, 4u);
    EXPECT_EQ(s.rmap_unconfirmed, 1u);  // pid 400: pagemap shows its own copy there
    EXPECT_EQ(s.pages_walked, 4u);  // one pagemap entry per answer, nothing else
    expect_fixture_candidates(s);
    EXPECT_THAT(s.notes.front(), HasSubstr("reverse map"));
}

TEST(Owners, WithoutTheReverseMapEveryPagemapIsWalkedToTheSameAnswer)
{
    Fixture f;
    auto o = f.options();
    o.rmap_unavailable = "no BPF here";
    auto s = find_owners({0x1000, 0x2000, 0x3000, 0x4000}, 0, 0, o);
    EXPECT_EQ(s.method, OwnerMethod::PagemapWalk);
    EXPECT_EQ(s.rmap_pages, 0u);
    EXPECT_GT(s.pages_walked, 4u);  // the whole of every mapping
    expect_fixture_candidates(s);
    EXPECT_THAT(s.notes.front(), HasSubstr("walking every process's /proc/PID/pagemap"));
    EXPECT_THAT(s.notes.front(), HasSubstr("no BPF here"));
}

TEST(Owners, AReverseMapThatFailsFallsBackToTheWalk)
{
    Fixture f;
    auto o = f.options();
    o.rmap = [](uint64_t pfn) -> Result<PageMappers> {
        if (pfn == 0x2000) return make_error("test run refused");
        return fake_rmap(pfn);
    };
    auto s = find_owners({0x1000, 0x2000, 0x3000, 0x4000}, 0, 0, o);
    EXPECT_EQ(s.method, OwnerMethod::PagemapWalk);
    EXPECT_THAT(s.notes.front(), HasSubstr("reverse map failed at pfn 0x2000 (test run refused)"));
    expect_fixture_candidates(s);
}

TEST(Owners, NoPagesAskedAboutMeansNoMappingSearch)
{
    Fixture f;
    auto o = f.options();
    bool asked = false;
    o.rmap = [&](uint64_t pfn) {
        asked = true;
        return fake_rmap(pfn);
    };
    auto s = find_owners({}, 0, 0, o);
    EXPECT_FALSE(asked);
    EXPECT_EQ(s.method, OwnerMethod::None);
    EXPECT_TRUE(s.candidates.empty());
    EXPECT_EQ(s.pages_walked, 0u);
}

TEST(Owners, RdmaHolderWithNoRegionsListedIsStillLikely)
{
    Fixture f;
    auto o = f.options();
    o.rdma_mr_text = "";  // the tool printed nothing (no MRs)
    o.rmap = fake_rmap;
    auto s = find_owners({0x2000}, 0, 0, o);
    const Candidate* ib = find(s, 200);
    ASSERT_TRUE(ib);
    EXPECT_EQ(ib->confidence, Confidence::Likely);
    EXPECT_TRUE(has_evidence(*ib, "rdma lists 0 memory region(s) of 0 bytes for it", true));
    EXPECT_FALSE(has_evidence(*ib, "RDMA memory region mrn", true));
}

// Without a given listing, `rdma` is looked up in PATH and run; absent, a
// note says RDMA regions are not listed. (ctest runs each test in a
// process of its own, so PATH changes stay here.)
TEST(Owners, TheRdmaToolIsRunFromPathOrItsAbsenceNoted)
{
    Fixture f;
    auto o = f.options();
    o.rdma_mr_text.reset();
    o.rmap = fake_rmap;
    std::string bin = f.t.root() + "/bin";
    fs::create_directories(bin);
    const char* old_path = getenv("PATH");
    std::string saved = old_path ? old_path : "";
    setenv("PATH", bin.c_str(), 1);
    auto absent = find_owners({0x2000}, 0, 0, o);
    bool noted = false;
    for (const auto& n : absent.notes) noted = noted || n.find("rdma (iproute2) is not installed") != std::string::npos;
    EXPECT_TRUE(noted);
    ASSERT_TRUE(find(absent, 200));
    EXPECT_EQ(find(absent, 200)->confidence, Confidence::Likely);  // the verbs fd alone

    {
        std::ofstream script(bin + "/rdma");
        script << "#!/bin/sh\n[ \"$*\" = \"resource show mr\" ] || exit 1\n"
                  "echo 'dev rxe0 mrn 7 rkey 0x1 lkey 0x1 iova 0x601000 mrlen 4096 pdn 1 pid 200 comm ib_app'\n";
    }
    fs::permissions(bin + "/rdma", fs::perms::owner_all);
    auto present = find_owners({0x2000}, 0, 0, o);
    setenv("PATH", saved.c_str(), 1);
    const Candidate* ib = find(present, 200);
    ASSERT_TRUE(ib);
    EXPECT_TRUE(
        has_evidence(*ib, "RDMA memory region mrn 7 on rxe0 (iova 0x601000, 4096 bytes; a long-term pin)", true));
}

// Each holder fd kind gives its evidence the origin of its row, and one
// whose fdinfo says it holds nothing (a GPU's dma-buf, a ring without
// buffers) gives none.
TEST(Owners, HolderFdsGiveTheirOriginOrNothing)
{
    ProcTree t;
    auto proc = [&](uint32_t pid, const char* comm, uint64_t pfn) {
        t.process(pid, comm, "00400000-00401000 rw-s 00000000 00:01 7 /memfd:frame (deleted)\n");
        t.page(pid, 0x400000, pfn);
    };
    proc(600, "camera", 0x6000);
    t.fd(600, 4, "/dmabuf:", "size:\t8192\ncount:\t1\nexp_name:\tudmabuf\n");
    proc(700, "compositor", 0x7000);
    t.fd(700, 5, "/dmabuf:scanout", "size:\t8192\ncount:\t1\nexp_name:\ti915\n");
    proc(800, "vmm", 0x8000);
    t.fd(800, 3, "/dev/iommu");
    proc(900, "fio", 0x9000);
    t.fd(900, 6, "anon_inode:[io_uring]", "SqThread:\t-1\nUserFiles:\t0\nUserBufs:\t2\nPollList:\n");
    proc(1000, "idle_ring", 0xa000);
    t.fd(1000, 7, "anon_inode:[io_uring]", "UserFiles:\t0\nUserBufs:\t0\n");
    OwnerOptions o;
    o.root = t.root();
    auto s = find_owners({0x6000, 0x7000, 0x8000, 0x9000, 0xa000}, 0, 0, o);

    auto pin_evidence = [&](uint32_t pid) -> const Evidence* {
        const Candidate* c = find(s, pid);
        if (!c) return nullptr;
        for (const auto& e : c->evidence)
            if (e.long_term) return &e;
        return nullptr;
    };
    const Evidence* udmabuf = pin_evidence(600);
    ASSERT_TRUE(udmabuf);
    EXPECT_EQ(udmabuf->origin, Origin::Udmabuf);
    EXPECT_EQ(udmabuf->what.rfind("holds a udmabuf dma-buf fd 4 (/dmabuf:; exported by udmabuf, 8192 bytes): the "
                                  "memfd pages it exports are held for DMA",
                                  0),
              0u)
        << udmabuf->what;
    EXPECT_FALSE(udmabuf->named_by_fd);
    EXPECT_EQ(find(s, 600)->confidence, Confidence::Likely);

    ASSERT_TRUE(find(s, 700));
    EXPECT_EQ(find(s, 700)->confidence, Confidence::Possible);  // a GPU's dma-buf: only the mapping
    EXPECT_FALSE(pin_evidence(700));

    ASSERT_TRUE(pin_evidence(800));
    EXPECT_EQ(pin_evidence(800)->origin, Origin::Iommufd);

    // A busy ring does not list its buffers: it holds some, which ones is unknown.
    const Evidence* busy = pin_evidence(900);
    ASSERT_TRUE(busy);
    EXPECT_EQ(busy->origin, Origin::IoUringBuffers);
    EXPECT_THAT(busy->what, HasSubstr("2 registered buffer(s) the kernel did not list")) << busy->what;
    EXPECT_TRUE(std::any_of(s.notes.begin(), s.notes.end(), [](const std::string& n) {
        return n == "pid 900 io_uring fd 6 has 2 registered buffer(s) the kernel did not list (ring busy): retry";
    }));

    ASSERT_TRUE(find(s, 1000));
    EXPECT_FALSE(pin_evidence(1000));  // no registered buffers: its ring pins nothing
    EXPECT_TRUE(registered_pins(s).empty());  // no fd named a page
}

// --- The BPF reverse map on this kernel (root) ---

std::unique_ptr<BpfRmap> open_rmap_or_skip(std::string& why)
{
    if (geteuid() != 0) {
        why = "needs root";
        return nullptr;
    }
    auto r = BpfRmap::open();
    if (!r) {
        why = r.error().message;
        return nullptr;
    }
    return std::move(r.value());
}

std::optional<uint64_t> pfn_of(pid_t pid, const void* addr)
{
    int fd = ::open(("/proc/" + std::to_string(pid) + "/pagemap").c_str(), O_RDONLY);
    if (fd < 0) return std::nullopt;
    uint64_t entry = 0;
    ssize_t n = ::pread(fd, &entry, sizeof entry, static_cast<off_t>(reinterpret_cast<uintptr_t>(addr) / 4096 * 8));
    ::close(fd);
    if (n != sizeof entry) return std::nullopt;
    return pagemap_pfn(entry);
}

TEST(OwnersLive, ReverseMapFindsThisProcessAtItsAddresses)
{
    std::string why;
    auto rmap = open_rmap_or_skip(why);
    if (!rmap) GTEST_SKIP() << why;
    constexpr size_t kPages = 8;
    auto* anon =
        static_cast<char*>(mmap(nullptr, kPages * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    ASSERT_NE(anon, MAP_FAILED);
    std::string file = ::testing::TempDir() + "/owners_shared" + std::to_string(getpid());
    {
        std::ofstream(file) << std::string(kPages * 4096, 'x');
    }
    int fd = ::open(file.c_str(), O_RDWR);
    ASSERT_GE(fd, 0);
    auto* shared = static_cast<char*>(mmap(nullptr, kPages * 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0));
    ASSERT_NE(shared, MAP_FAILED);
    for (size_t i = 0; i < kPages; ++i) {
        anon[i * 4096] = 1;
        shared[i * 4096] = 'y';
    }
    for (auto [base, kind] : {std::pair{anon, RmapKind::Anon}, std::pair{shared, RmapKind::File}}) {
        for (size_t i = 0; i < kPages; ++i) {
            char* addr = base + i * 4096;
            auto pfn = pfn_of(getpid(), addr);
            ASSERT_TRUE(pfn);
            auto m = rmap->walk(*pfn);
            ASSERT_TRUE(m) << m.error().message;
            EXPECT_EQ(m->kind, kind) << "page " << i;
            bool me = false;
            for (const auto& x : m->mappers)
                me = me || (x.tgid == static_cast<uint32_t>(getpid()) && x.vaddr == reinterpret_cast<uintptr_t>(addr));
            EXPECT_TRUE(me) << "page " << i << ": " << m->mappers.size()
                            << " mappers, none this process at its address";
        }
    }
    munmap(anon, kPages * 4096);
    munmap(shared, kPages * 4096);
    ::close(fd);
    unlink(file.c_str());
}

// The run that walks a page's mappers also reads what the page is, with the
// reader the capture uses at a failure (bpf/page_identity.h): checked here
// against what user space knows of the same pages on this kernel.
TEST(OwnersLive, ReverseMapReadsWhatThePageIs)
{
    std::string why;
    auto rmap = open_rmap_or_skip(why);
    if (!rmap) GTEST_SKIP() << why;
    int fd = memfd_create("pintrace_identity", 0);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(ftruncate(fd, 4 * 4096), 0);
    auto* file = static_cast<char*>(mmap(nullptr, 4 * 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0));
    ASSERT_NE(file, MAP_FAILED);
    auto* anon = static_cast<char*>(mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    ASSERT_NE(anon, MAP_FAILED);
    for (int i = 0; i < 4; ++i) file[i * 4096] = 1;
    anon[0] = 1;
    struct stat st;
    ASSERT_EQ(fstat(fd, &st), 0);

    auto pfn = pfn_of(getpid(), file + 2 * 4096);
    ASSERT_TRUE(pfn);
    auto m = rmap->walk(*pfn);
    ASSERT_TRUE(m) << m.error().message;
    ASSERT_TRUE(m->identity);
    EXPECT_EQ(m->identity->kind, PT_PAGE_FILE);
    EXPECT_EQ(m->identity->type, PT_TYPE_NONE);
    ASSERT_TRUE(m->identity->file);
    const auto& f = *m->identity->file;
    EXPECT_EQ(f.ino, st.st_ino);
    EXPECT_EQ(f.major(), major(st.st_dev));
    EXPECT_EQ(f.minor(), minor(st.st_dev));
    EXPECT_EQ(f.index, 2u);
    EXPECT_EQ(f.fs, "tmpfs");  // memfd: shmem's internal mount
    EXPECT_EQ(f.path, "memfd:pintrace_identity");  // a dentry in no tree: its name alone
    EXPECT_GE(m->identity->refcount, 2);  // the page cache's and the mapping's

    pfn = pfn_of(getpid(), anon);
    ASSERT_TRUE(pfn);
    m = rmap->walk(*pfn);
    ASSERT_TRUE(m && m->identity);
    EXPECT_EQ(m->identity->kind, PT_PAGE_ANON);
    EXPECT_FALSE(m->identity->file);

    // Kernel pages, found by /proc/kpageflags: a slab page names its cache,
    // a free page is the buddy allocator's.
    int kpf = ::open("/proc/kpageflags", O_RDONLY);
    ASSERT_GE(kpf, 0);
    std::optional<uint64_t> slab;
    std::vector<uint64_t> buddies;
    std::vector<uint64_t> flags(4096);
    for (uint64_t base = 0x10000; (!slab || buddies.size() < 16) && base < 0x400000; base += flags.size()) {
        ssize_t n = ::pread(kpf, flags.data(), flags.size() * 8, static_cast<off_t>(base * 8));
        if (n <= 0) break;
        for (size_t i = 0; i < static_cast<size_t>(n) / 8; ++i) {
            if (!slab && (flags[i] & (1ull << 7)) && !(flags[i] & (1ull << 16))) slab = base + i;  // SLAB, not a tail
            if (buddies.size() < 16 && (flags[i] & (1ull << 10))) buddies.push_back(base + i);  // BUDDY
        }
    }
    ::close(kpf);
    ASSERT_TRUE(slab && !buddies.empty()) << "no slab or free page found below 16 GiB";
    m = rmap->walk(*slab);
    ASSERT_TRUE(m && m->identity);
    EXPECT_EQ(m->identity->type, PT_TYPE_SLAB) << std::hex << *slab << " page_type " << m->identity->raw_type;
    EXPECT_EQ(m->identity->kind, PT_PAGE_NO_MAPPING);
    EXPECT_FALSE(m->identity->slab_cache.empty());
    // Racy by nature (a free page may be taken meanwhile): one of 16 is.
    size_t free_now = 0;
    for (uint64_t pfn : buddies)
        if (auto b = rmap->walk(pfn); b && b->identity && b->identity->type == PT_TYPE_BUDDY) ++free_now;
    EXPECT_GT(free_now, 0u) << "none of " << buddies.size() << " free pages read as the buddy allocator's";

    munmap(file, 4 * 4096);
    munmap(anon, 4096);
    ::close(fd);
}

// A transparent huge page: its tail pages have no mapping of their own;
// the walk goes through the head and adds the tail's place in the folio.
TEST(OwnersLive, ReverseMapOfLargeFolioTailPages)
{
    std::string why;
    auto rmap = open_rmap_or_skip(why);
    if (!rmap) GTEST_SKIP() << why;
    constexpr size_t kHuge = 2 << 20;
    auto* raw =
        static_cast<char*>(mmap(nullptr, 2 * kHuge, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    ASSERT_NE(raw, MAP_FAILED);
    char* huge = reinterpret_cast<char*>((reinterpret_cast<uintptr_t>(raw) + kHuge - 1) & ~(kHuge - 1));
    madvise(huge, kHuge, MADV_HUGEPAGE);
    std::memset(huge, 1, kHuge);
    auto head = pfn_of(getpid(), huge);
    ASSERT_TRUE(head);
    uint64_t flags = 0;
    int kpf = ::open("/proc/kpageflags", O_RDONLY);
    bool read_flags = kpf >= 0 && ::pread(kpf, &flags, 8, static_cast<off_t>(*head * 8)) == 8;
    if (kpf >= 0) ::close(kpf);
    if (!read_flags || !(flags & (uint64_t{1} << 22))) {  // KPF_THP
        munmap(raw, 2 * kHuge);
        GTEST_SKIP() << "no transparent huge page here";
    }
    // The machine's compaction may move the huge page while it is walked
    // (kcompactd, or another process's huge page allocation): a walk counts
    // only when the page is where it was before and after it.
    auto walk_once = [&](size_t i) -> std::optional<std::string> {
        char* addr = huge + i * 4096;
        auto before = pfn_of(getpid(), addr);
        if (!before) return std::nullopt;  // mid-migration: no pfn to walk
        auto m = rmap->walk(*before);
        auto after = pfn_of(getpid(), addr);
        if (!after || *after != *before) return std::nullopt;
        if (!m) return m.error().message;
        if (*before != *head + i) return "page " + std::to_string(i) + " is not the head's pfn + " + std::to_string(i);
        if (m->kind != RmapKind::Anon) return "page " + std::to_string(i) + " not anonymous";
        for (const auto& x : m->mappers)
            if (x.tgid == static_cast<uint32_t>(getpid()) && x.vaddr == reinterpret_cast<uintptr_t>(addr)) return "";
        return "page " + std::to_string(i) + " of the huge page: this process not among its mappers";
    };
    for (size_t i : {size_t{0}, size_t{1}, size_t{255}, size_t{511}}) {
        std::optional<std::string> verdict;
        for (int attempt = 0; attempt < 5 && !verdict; ++attempt) {
            verdict = walk_once(i);
            if (!verdict) {
                head = pfn_of(getpid(), huge);  // it moved: where the head is now
                ASSERT_TRUE(head);
            }
        }
        ASSERT_TRUE(verdict) << "page " << i << " moved during each of 5 walks";
        EXPECT_EQ(*verdict, "");
    }
    munmap(raw, 2 * kHuge);
}

// A child maps 8 pages and forks; the grandchild writes to the first 4
// (its own copies) and shares the last 4. Both searches agree: the child
// maps all 8, the grandchild the shared 4; the reverse map also named the
// grandchild for the first 4 (same anon_vma) and pagemap refuted it.
TEST(OwnersLive, ReverseMapAndWalkAgreeAfterForkAndCopyOnWrite)
{
    std::string why;
    auto rmap = open_rmap_or_skip(why);
    if (!rmap) GTEST_SKIP() << why;
    constexpr size_t kPages = 8;
    int ready[2], stop[2];
    ASSERT_EQ(pipe(ready), 0);
    ASSERT_EQ(pipe(stop), 0);
    pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        close(stop[1]);  // else the read below never sees the test close its end
        close(ready[0]);
        auto* p = static_cast<char*>(
            mmap(nullptr, kPages * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
        for (size_t i = 0; i < kPages; ++i) p[i * 4096] = 1;
        int copied[2];
        if (pipe(copied) != 0) _exit(1);
        pid_t grandchild = fork();
        if (grandchild == 0) {
            for (size_t i = 0; i < kPages / 2; ++i) p[i * 4096] = 2;
            char c = 0;
            (void)!write(copied[1], &c, 1);
            (void)!read(stop[0], &c, 1);
            _exit(0);
        }
        char c;
        (void)!read(copied[0], &c, 1);
        uint64_t msg[2] = {reinterpret_cast<uintptr_t>(p), static_cast<uint64_t>(grandchild)};
        (void)!write(ready[1], msg, sizeof msg);
        (void)!read(stop[0], &c, 1);
        kill(grandchild, SIGKILL);
        waitpid(grandchild, nullptr, 0);
        _exit(0);
    }
    close(stop[0]);
    close(ready[1]);
    uint64_t msg[2] = {};
    ASSERT_EQ(read(ready[0], msg, sizeof msg), static_cast<ssize_t>(sizeof msg));
    auto* base = reinterpret_cast<char*>(msg[0]);
    auto grandchild = static_cast<uint32_t>(msg[1]);
    std::set<uint64_t> pfns;
    for (size_t i = 0; i < kPages; ++i) {
        auto pfn = pfn_of(child, base + i * 4096);
        ASSERT_TRUE(pfn);
        pfns.insert(*pfn);
    }

    OwnerOptions with;
    with.rmap = rmap->lookup();
    with.rdma_mr_text = "";
    auto by_rmap = find_owners(pfns, 0, 0, with);
    OwnerOptions without;
    without.rdma_mr_text = "";
    auto by_walk = find_owners(pfns, 0, 0, without);
    close(stop[1]);
    waitpid(child, nullptr, 0);

    EXPECT_EQ(by_rmap.method, OwnerMethod::ReverseMap);
    EXPECT_EQ(by_walk.method, OwnerMethod::PagemapWalk);
    auto owners_of = [](const OwnerScan& s) {
        std::map<uint32_t, std::set<uint64_t>> m;
        for (const auto& c : s.candidates) m[c.pid] = c.pfns;
        return m;
    };
    auto a = owners_of(by_rmap), b = owners_of(by_walk);
    EXPECT_EQ(a, b);
    ASSERT_TRUE(a.count(static_cast<uint32_t>(child)));
    EXPECT_EQ(a[static_cast<uint32_t>(child)], pfns);
    ASSERT_TRUE(a.count(grandchild));
    EXPECT_EQ(a[grandchild].size(), kPages / 2);
    EXPECT_GE(by_rmap.rmap_unconfirmed, kPages / 2);
    EXPECT_LT(by_rmap.pages_walked, by_walk.pages_walked);
}

// A reservation of 1 TiB with two pages touched: the kernel's page tables
// name the two pages, and the pagemap walk reads those, not 268 M entries
// (as it would for a sanitizer's shadow, which made snapshot and explain
// take minutes beside a fuzzer).
TEST(OwnersLive, TheWalkReadsOnlyWhatIsPresent)
{
    if (geteuid() != 0) GTEST_SKIP() << "needs root (pfns in pagemap)";
    constexpr uint64_t kSpan = uint64_t{1} << 40;
    auto* base = static_cast<char*>(
        mmap(nullptr, kSpan, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0));
    ASSERT_NE(base, MAP_FAILED);
    base[0] = 1;
    base[kSpan / 2] = 1;
    int pm = ::open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
    ASSERT_GE(pm, 0);
    auto start = reinterpret_cast<uintptr_t>(base);
    auto ranges = present_ranges(pm, start, start + kSpan);
    ::close(pm);
    if (!ranges) {
        munmap(base, kSpan);
        GTEST_SKIP() << "this kernel has no PAGEMAP_SCAN (before 6.7): the walk reads every entry";
    }
    ASSERT_EQ(ranges->size(), 2u);
    EXPECT_EQ((*ranges)[0].start, start);
    EXPECT_EQ((*ranges)[0].end, start + 4096);
    EXPECT_EQ((*ranges)[1].start, start + kSpan / 2);
    EXPECT_EQ((*ranges)[1].end, start + kSpan / 2 + 4096);

    // The same through the owner scan, from a child (the scan skips itself).
    auto pfn = pfn_of(getpid(), base + kSpan / 2);
    ASSERT_TRUE(pfn);
    int ready[2], stop[2];
    ASSERT_EQ(pipe(ready), 0);
    ASSERT_EQ(pipe(stop), 0);
    pid_t child = fork();
    if (child == 0) {
        close(stop[1]);  // the parent's close must be the last, for the read below to end
        base[kSpan / 2] = 2;  // its own copy now: the parent's pfn is the parent's
        char c = 0;
        (void)!write(ready[1], &c, 1);
        (void)!read(stop[0], &c, 1);
        _exit(0);
    }
    close(stop[0]);
    close(ready[1]);
    char c;
    ASSERT_EQ(read(ready[0], &c, 1), 1);
    close(ready[0]);
    auto child_pfn = pfn_of(child, base + kSpan / 2);
    ASSERT_TRUE(child_pfn);
    OwnerOptions walk;
    walk.rdma_mr_text = "";
    auto s = find_owners({*child_pfn}, 0, 0, walk);
    close(stop[1]);
    waitpid(child, nullptr, 0);
    munmap(base, kSpan);
    const Candidate* found = find(s, static_cast<uint32_t>(child));
    ASSERT_TRUE(found);
    EXPECT_EQ(found->pfns, (std::set<uint64_t>{*child_pfn}));
    EXPECT_LT(s.pages_walked, kSpan / 4096 / 4) << "the child's reservation was read entry by entry";
}

}  // namespace
}  // namespace pintrace::snapshot
