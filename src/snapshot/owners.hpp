// Who may hold a page now, from what user space can see, as candidates
// with evidence, never certainty: the processes that map it, found from
// the page through the kernel's reverse map (BPF) or, without BPF, by
// walking every process's /proc/PID/pagemap; and the long-term pin holders
// user space can see: io_uring registered buffers (/proc/PID/fdinfo), VFIO
// and iommufd file descriptors, RDMA verbs file descriptors and the memory
// regions `rdma resource show mr` lists. A mapping is not a pin, a buffer
// registered long ago may since have been remapped, and a VFIO or RDMA fd
// says the process pins memory for DMA, not which pages.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "events/page_identity.hpp"

#include "explain/origin.hpp"
#include "snapshot/holder_fds.hpp"
#include "util/result.hpp"

namespace pintrace::snapshot {

struct Vma {
    uint64_t start = 0, end = 0;
    std::string perms;  // "rw-p"
    std::string path;  // "" anonymous, "[heap]", a file
};
std::vector<Vma> parse_maps(std::string_view text);

// One pagemap entry: the pfn when the page is present (0 when the kernel
// hides pfns from an unprivileged reader).
std::optional<uint64_t> pagemap_pfn(uint64_t entry);

// The present pages of [start, end) in a process, as ranges, from the
// kernel's page tables (the PAGEMAP_SCAN ioctl on its pagemap fd, 6.7+):
// what was never populated is skipped, where reading pagemap costs 8 bytes
// per page of virtual size (terabytes for a sanitizer's shadow or a
// reserved heap). nullopt when the kernel cannot tell; then every entry is
// read.
struct VaRange {
    uint64_t start = 0, end = 0;
};
std::optional<std::vector<VaRange>> present_ranges(int pagemap_fd, uint64_t start, uint64_t end);

// How sure: "likely" (a long-term pin holder that registered this page),
// "possible" (it maps the page: the mapping may be the only reference).
enum class Confidence { Likely, Possible };
std::string_view confidence_word(Confidence c);

struct Evidence {
    std::string
        what;  // "io_uring fd 5 has registered buffer 0 (0x7f..., 65536 bytes; ...) on 2 pages", "maps 1 page at ..."
    std::vector<uint64_t> pfns;
    bool long_term = false;  // says the holder pins long-term (a holder fd: holder_fds.hpp), not just maps
    Origin origin = Origin::Unknown;  // what takes the pin; Unknown for a mapping
    // The holder's fd itself names these pages as pinned (an io_uring
    // registered buffer), rather than the process holding a pinning fd and
    // mapping them.
    bool named_by_fd = false;
};

struct Candidate {
    uint32_t pid = 0;
    std::string comm;
    std::string exe;
    Confidence confidence = Confidence::Possible;
    std::vector<Evidence> evidence;
    std::set<uint64_t> pfns;  // of the pages asked about
};

// How the mappers of the pages asked about were found.
enum class OwnerMethod {
    None,  // no pages asked about
    ReverseMap,  // from each page (BPF), each answer confirmed by one pagemap read
    PagemapWalk,  // every process's whole pagemap: proportional to mapped memory
};
std::string_view method_name(OwnerMethod m);  // "rmap", "pagemap_walk", "none"

struct OwnerScan {
    std::vector<Candidate> candidates;  // likely first, then by pages
    std::vector<uint64_t> unowned;  // asked-about pfns no process maps or registered
    OwnerMethod method = OwnerMethod::None;
    uint64_t processes = 0;
    uint64_t processes_unreadable = 0;  // exited meanwhile, or no permission
    uint64_t pages_walked = 0;  // pagemap entries read
    uint64_t rmap_pages = 0;  // pages walked from, through the reverse map
    uint64_t rmap_mappers = 0;  // (task, address) answers it gave
    uint64_t rmap_unconfirmed = 0;  // answers pagemap did not confirm (stale, or a forked copy)
    std::vector<std::string> notes;  // what it could not see, and which method was used
    double seconds = 0;
    // What each page asked about is, where the reverse map read it.
    std::map<uint64_t, PageIdentity> identities;
};

// The reverse map's answer for one page (bpf/rmap.bpf.c).
enum class RmapKind { None, Anon, File, Ksm, Movable, Unreadable };
struct RmapMapper {
    uint32_t tgid = 0;  // 0: the mm has no owner field (no CONFIG_MEMCG) or none was read
    uint64_t vaddr = 0;
    uint64_t mm = 0;
    std::string comm;
};
struct PageMappers {
    uint64_t pfn = 0;
    RmapKind kind = RmapKind::Unreadable;
    uint64_t pgoff = 0;
    std::vector<RmapMapper> mappers;
    uint64_t nodes_visited = 0;
    bool truncated = false;  // more mappers than were searched or kept
    bool no_owner = false;
    bool no_head = false;  // a tail page whose head the program could not find: not walked
    std::optional<PageIdentity> identity;  // what the page is, read by the same run
};
using RmapLookup = std::function<Result<PageMappers>(uint64_t pfn)>;

struct OwnerOptions {
    std::string root;  // a prefix for /proc (tests)
    // From the pages (the BPF reverse map); empty: walk every process's pagemap.
    RmapLookup rmap;
    std::string rmap_unavailable;  // why there is no reverse map, for the notes
    // `rdma resource show mr` output; unset: run `rdma` when some process
    // holds an RDMA verbs fd and the tool is installed.
    std::optional<std::string> rdma_mr_text;
};

// pfns are the pages asked about. Long-term pin holders (io_uring
// registered buffers) are always listed with the pages of theirs in
// [range_start, range_end), even when pfns is empty: the /proc fallback
// cannot see pins, these can.
OwnerScan find_owners(const std::set<uint64_t>& pfns, uint64_t range_start, uint64_t range_end,
                      const OwnerOptions& options);
// On this machine: the BPF reverse map when there are pages to look for
// and the kernel allows it, else the walk. Without vmemmap_base (known to
// a caller that already has BpfRefcounts), loading it calibrates again.
OwnerScan find_owners(const std::set<uint64_t>& pfns, uint64_t range_start = 0, uint64_t range_end = 0,
                      std::optional<uint64_t> vmemmap_base = std::nullopt);
// As the page reader goes: with its BPF (and its calibrated base) the
// reverse map; without (--source proc, or BPF refused), the walk, with
// why_not in the notes.
class BpfRefcounts;
OwnerScan find_owners_as(const std::set<uint64_t>& pfns, uint64_t range_start, uint64_t range_end,
                         const BpfRefcounts* bpf, const std::string& why_not);

// One line of `rdma resource show mr` (iproute2):
// "dev mlx5_0 mrn 4 rkey 0x.. lkey 0x.. iova 0x.. mrlen 4096 pdn 3 pid 1234 comm ib_write_bw".
// Keys and iova need CAP_NET_ADMIN; kernel MRs have no pid.
struct RdmaMr {
    std::string dev;
    uint32_t mrn = 0;
    std::optional<uint64_t> iova;
    uint64_t len = 0;
    std::optional<uint32_t> pid;
    std::string comm;
};
// Lines it cannot read are skipped (counted in bad_lines when given).
std::vector<RdmaMr> parse_rdma_mr(std::string_view text, size_t* bad_lines = nullptr);

// Who may hold one page now: each candidate that maps or pinned it,
// "likely" only where its long-term pin evidence covers this very page.
struct PageHolderNow {
    uint32_t pid = 0;
    std::string comm;
    Confidence confidence = Confidence::Possible;
    Origin origin = Origin::Unknown;  // of the evidence that makes it likely
    bool named_by_fd = false;  // its fd names this page as pinned (an io_uring buffer)
};
std::vector<PageHolderNow> holders_now(const OwnerScan& scan, uint64_t pfn);

// The pages candidates' fds name as pinned, with a one-line why ("pinned
// as io_uring fixed buffers by pid 107 (fio)"), for snapshot::PinHints.
std::map<uint64_t, std::string> registered_pins(const OwnerScan& scan);

// Matching, separated for tests: what one process maps or registered
// that falls on the pages asked about (or, for io_uring buffers, in the
// range), and the candidate it makes.
struct Hit {
    uint64_t vaddr = 0;
    uint64_t pfn = 0;
};
// A range one of the process's fds names as pinned.
struct PinnedBy {
    uint32_t fd = 0;
    const HolderFdKind* kind = nullptr;
    PinnedRange range;
};
struct MappedRun {
    Vma vma;  // the mapping (a pinned range: the range)
    std::optional<PinnedBy> pinned_by;  // set: a long-term pin, not just a mapping
    std::vector<Hit> hits;
};
std::optional<Candidate> make_candidate(uint32_t pid, std::string comm, const std::vector<MappedRun>& runs);

}  // namespace pintrace::snapshot
