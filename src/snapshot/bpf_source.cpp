#include "snapshot/bpf_source.hpp"

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <future>
#include <string>

#include "capture/calibrate.hpp"
#include "capture/kernel_info.hpp"
#include "capture/libbpf_owners.hpp"
#include "snapshot.skel.h"

namespace pintrace::snapshot {

struct BpfRefcounts::Impl {
    std::unique_ptr<snapshot_bpf, SkelDeleter<snapshot_bpf, snapshot_bpf__destroy>> skel;
};

BpfRefcounts::BpfRefcounts(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
BpfRefcounts::~BpfRefcounts() = default;

namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

std::string read_whole(const char* path)
{
    std::string out;
    int fd = ::open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return out;
    char buf[1 << 16];
    for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0;) out.append(buf, static_cast<size_t>(n));
    ::close(fd);
    return out;
}

std::vector<std::pair<std::string, int>> enumerators(const btf* b, const char* name)
{
    std::vector<std::pair<std::string, int>> out;
    int id = btf__find_by_name_kind(b, name, BTF_KIND_ENUM);
    if (id <= 0) return out;
    const btf_type* t = btf__type_by_id(b, id);
    const struct btf_enum* e = btf_enum(t);
    for (int i = 0; i < btf_vlen(t); ++i) out.emplace_back(btf__name_by_offset(b, e[i].name_off), e[i].val);
    return out;
}

// What the migratetype needs besides the program: mem_section's address,
// this kernel's pageblock layout and migratetype names. Run next to the
// calibration (it reads all of /proc/kallsyms: ~0.05 s of kernel time).
struct KernelFacts {
    uint64_t mem_section = 0;
    std::string why_not;
    PageblockLayout layout;
};

KernelFacts read_kernel_facts()
{
    KernelFacts k;
    k.mem_section = find_kallsyms_symbol(read_whole("/proc/kallsyms"), "mem_section");
    if (!k.mem_section) {
        k.why_not =
            "migratetype of the pageblock: its bits hang off the kernel's mem_section table, which "
            "/proc/kallsyms does not name on this kernel (data symbols need CONFIG_KALLSYMS_ALL)";
        return k;
    }
    BtfPtr b(btf__load_vmlinux_btf());
    if (b)
        k.layout =
            PageblockLayout::from_enums(enumerators(b.get(), "migratetype"), enumerators(b.get(), "pageblock_bits"));
    if (auto order = parse_pageblock_order(read_whole("/proc/pagetypeinfo"))) k.layout.order = *order;
    return k;
}

}  // namespace

uint64_t find_kallsyms_symbol(std::string_view kallsyms, std::string_view name)
{
    // "ffffffff8a6c2a28 B mem_section\n": the name after the type letter
    // and a space, ending the line (module symbols end in "\t[module]").
    std::string needle = " " + std::string(name) + "\n";
    for (size_t at = kallsyms.find(needle); at != std::string_view::npos; at = kallsyms.find(needle, at + 1)) {
        size_t line = kallsyms.rfind('\n', at);
        line = line == std::string_view::npos ? 0 : line + 1;
        // address, space, one type letter, then the needle
        if (at < line + 2 || kallsyms[at - 2] != ' ') continue;
        uint64_t addr = std::strtoull(std::string(kallsyms.substr(line, at - 2 - line)).c_str(), nullptr, 16);
        if (addr) return addr;
    }
    return 0;
}

std::optional<unsigned> parse_pageblock_order(std::string_view text)
{
    constexpr std::string_view key = "Page block order:";
    size_t at = text.find(key);
    if (at == std::string_view::npos) return std::nullopt;
    unsigned v = 0;
    if (std::sscanf(std::string(text.substr(at + key.size(), 16)).c_str(), "%u", &v) != 1 || v > 20)
        return std::nullopt;
    return v;
}

Result<std::unique_ptr<BpfRefcounts>> BpfRefcounts::open()
{
    auto t0 = Clock::now();
    libbpf_set_print(libbpf_print_when_debugging);  // a refused load: auto falls back to /proc
    if (std::string why = missing_privileges(); !why.empty()) return make_error(why);
    // The calibration first, alone: attaching to mm_page_alloc patches the
    // kernel's text in __alloc_pages, and under QEMU's TCG (the VM bench) a
    // CPU allocating pages meanwhile can run a stale int3 of that patch
    // (6.12 oopsed, 5.10 locked up, when our own threads allocated during
    // it). Then the load (the verifier) and the facts (kallsyms) at once.
    BpfOpenTimes times;
    auto tc = Clock::now();
    auto mapping = calibrate_page_mapping();
    times.calibrate = since(tc);
    auto facts = std::async(std::launch::async, [&times] {
        auto t = Clock::now();
        auto k = read_kernel_facts();
        times.kernel_facts = since(t);
        return k;
    });
    auto tl = Clock::now();
    auto impl = std::make_unique<Impl>();
    impl->skel.reset(snapshot_bpf__open_and_load());
    int load_errno = errno;
    times.load = since(tl);
    KernelFacts k = facts.get();
    if (!impl->skel) return make_error(std::string("cannot load the snapshot program: ") + std::strerror(load_errno));
    if (!mapping) return mapping.error();

    auto* bss = impl->skel->bss;
    bss->vmemmap_base = mapping->vmemmap_base;
    bss->mem_section_sym = k.mem_section;
    impl->skel->data->pageblock_order = k.layout.order;
    impl->skel->data->pageblock_bits = k.layout.bits;
    std::unique_ptr<BpfRefcounts> r(new BpfRefcounts(std::move(impl)));
    r->base_ = mapping->vmemmap_base;
    r->mem_section_ = k.mem_section;
    r->no_migratetype_ = k.why_not;
    r->layout_ = k.layout;
    if (k.mem_section && (k.layout.order < 5 || k.layout.bits > 16)) {
        // More blocks per run than the program has room for, or bits that do not fit its u16.
        r->mem_section_ = 0;
        bss->mem_section_sym = 0;
        r->no_migratetype_ =
            "migratetype of the pageblock: pageblock order " + std::to_string(k.layout.order) + " is not supported";
    }
    // One empty run: finds out now whether test runs work here, and fills
    // in the layout the program found (pincount_field()).
    if (auto ok = r->read(0, 0, {}, {}, {}); !ok) return ok.error();
    times.total = since(t0);
    r->times_ = times;
    return r;
}

using Bss = snapshot_bpf::snapshot_bpf__bss;

size_t BpfRefcounts::run_pages()
{
    return sizeof(Bss::op[0]);  // one byte per page
}

unsigned BpfRefcounts::slots() { return sizeof(Bss::op) / sizeof(Bss::op[0]); }

size_t BpfRefcounts::pageblocks_in(uint64_t start, size_t n) const
{
    if (!n) return 0;
    return static_cast<size_t>(((start + n - 1) >> layout_.order) - (start >> layout_.order) + 1);
}

std::string BpfRefcounts::pincount_field() const
{
    switch (impl_->skel->bss->pincount_where) {
    case 1: return "folio._pincount";
    case 2: return "page[1].compound_pincount";
    case 3: return "page[2].hpage_pinned_refcount (order >= 2)";
    default: return "";
    }
}

std::string BpfRefcounts::head_field() const
{
    switch (impl_->skel->bss->head_mode) {  // bpf/compound_head.h's enum head_mode
    case 1: return "page.compound_head (head | 1)";
    case 2: return "page.compound_info (head | 1)";
    case 3: return "page.compound_info (mask | 1)";
    default: return "";
    }
}

uint64_t BpfRefcounts::heads_not_found() const
{
    return __atomic_load_n(&impl_->skel->bss->heads_not_found, __ATOMIC_RELAXED);
}

Result<void> BpfRefcounts::read(unsigned slot, uint64_t start, std::span<const PageOp> ops, std::span<BpfPage> out,
                                std::span<uint16_t> blocks, uint64_t* tail_head)
{
    auto* bss = impl_->skel->bss;
    const size_t kRun = run_pages();
    constexpr size_t kBlocks = sizeof(Bss::block_bits[0]) / sizeof(Bss::block_bits[0][0]);
    size_t n = ops.size();
    size_t nblocks = mem_section_ ? pageblocks_in(start, n) : 0;
    if (slot >= slots() || n > kRun || out.size() < n || nblocks > kBlocks || blocks.size() < nblocks)
        return make_error("snapshot program: bad run (slot " + std::to_string(slot) + ", " + std::to_string(n) +
                          " pages)");
    std::memcpy(bss->op[slot], ops.data(), n);
    std::memset(bss->op[slot] + n, 0, kRun - n);
    // The run's arguments go in the raw_tp context, not in globals, so
    // that every thread can run the one program with its own slot.
    uint64_t args[4] = {slot, start, n, nblocks};
    LIBBPF_OPTS(bpf_test_run_opts, opts, .ctx_in = args, .ctx_size_in = sizeof(args));
    if (bpf_prog_test_run_opts(bpf_program__fd(impl_->skel->progs.snapshot_pages), &opts) != 0)
        return make_error(std::string("running the snapshot program: ") + std::strerror(errno));
    if (bss->bad_layout)
        return make_error("the snapshot program cannot read this kernel's struct page (" +
                          std::to_string(bss->page_size) + " bytes)");
    if (bss->done[slot] != kRun)
        return make_error("the snapshot program stopped after " + std::to_string(bss->done[slot]) + " pages");
    for (size_t i = 0; i < n; ++i) {
        BpfPage& p = out[i];
        p = BpfPage{};
        if (ops[i] == PageOp::Skip) continue;
        p.refcount = bss->refcount[slot][i];
        p.mapcount = bss->mapcount[slot][i];
        if (ops[i] == PageOp::Head || ops[i] == PageOp::Tail) {
            p.order = bss->order[slot][i];
            if (bss->pincount[slot][i] != kNoPage) p.pincount = bss->pincount[slot][i];
        }
    }
    for (size_t j = 0; j < nblocks; ++j) blocks[j] = bss->block_bits[slot][j];
    if (tail_head) *tail_head = bss->tail_head[slot];
    return {};
}

}  // namespace pintrace::snapshot
