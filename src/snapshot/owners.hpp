// Who may hold a page now, from what user space can see: the processes
// that map it (/proc/PID/pagemap, root only for pfns) and the long-term
// pin holders that say so (io_uring registered buffers in
// /proc/PID/fdinfo). Candidates with evidence, never certainty: a mapping
// is not a pin, and a buffer registered long ago may since have been
// remapped.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "util/result.hpp"

namespace pintrace::snapshot {

struct Vma {
    uint64_t start = 0, end = 0;
    std::string perms;  // "rw-p"
    std::string path;   // "" anonymous, "[heap]", a file
};
std::vector<Vma> parse_maps(std::string_view text);

// One pagemap entry: the pfn when the page is present (0 when the kernel
// hides pfns from an unprivileged reader).
std::optional<uint64_t> pagemap_pfn(uint64_t entry);

struct IoUringBuffer {
    uint32_t index = 0;
    uint64_t addr = 0;
    uint64_t len = 0;
};
struct IoUringInfo {
    uint32_t user_bufs = 0;             // "UserBufs:" count
    std::vector<IoUringBuffer> buffers;  // listed only when the kernel got the ring's lock
};
// /proc/PID/fdinfo/N of an io_uring fd (5.10 to 6.12 print "UserBufs:\tN"
// then "%5u: 0x%llx/%u" per buffer).
std::optional<IoUringInfo> parse_io_uring_fdinfo(std::string_view text);

// How sure: "likely" (a long-term pin holder that registered this page),
// "possible" (it maps the page: the mapping may be the only reference).
enum class Confidence { Likely, Possible };
std::string_view confidence_word(Confidence c);

struct Evidence {
    std::string what;  // "io_uring fd 5 registered buffer 0 (0x7f..., 65536 bytes) covers it", "maps it at 0x7f... (rw-p [heap])"
    std::vector<uint64_t> pfns;
};

struct Candidate {
    uint32_t pid = 0;
    std::string comm;
    std::string exe;
    Confidence confidence = Confidence::Possible;
    std::vector<Evidence> evidence;
    std::set<uint64_t> pfns;  // of the pages asked about
};

struct OwnerScan {
    std::vector<Candidate> candidates;  // likely first, then by pages
    std::vector<uint64_t> unowned;      // asked-about pfns no process maps or registered
    uint64_t processes = 0;
    uint64_t processes_unreadable = 0;  // exited meanwhile, or no permission
    uint64_t pages_walked = 0;          // pagemap entries read
    std::vector<std::string> notes;     // what it could not see
    double seconds = 0;
};

// Walks every process under root/proc; pfns are the pages asked about.
// Long-term pin holders (io_uring registered buffers) are always listed
// with the pages of theirs in [range_start, range_end), even when pfns is
// empty: the /proc fallback cannot see pins, these can.
OwnerScan find_owners(const std::set<uint64_t>& pfns, uint64_t range_start = 0, uint64_t range_end = 0,
                      const std::string& root = "");

// The pages candidates registered as long-term pins, with a one-line why
// ("io_uring buffer of pid 107 (fio)"), for snapshot::PinHints.
std::map<uint64_t, std::string> registered_pins(const OwnerScan& scan);

// Matching, separated for tests: what one process maps or registered
// that falls on the pages asked about (or, for io_uring buffers, in the
// range), and the candidate it makes.
struct Hit {
    uint64_t vaddr = 0;
    uint64_t pfn = 0;
};
struct MappedRun {
    Vma vma;                                                   // the mapping (io_uring: the buffer's range)
    std::optional<std::pair<uint32_t, IoUringBuffer>> io_uring;  // (fd, buffer): a long-term pin
    std::vector<Hit> hits;
};
std::optional<Candidate> make_candidate(uint32_t pid, std::string comm, const std::vector<MappedRun>& runs);

}  // namespace pintrace::snapshot
