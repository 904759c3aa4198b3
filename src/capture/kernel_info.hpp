// Facts about the running kernel that capture depends on, read from its BTF
// (never from version numbers where BTF can tell).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "capture/libbpf_owners.hpp"
#include "events/gup_flags.hpp"
#include "util/result.hpp"

namespace pintrace {

struct KernelInfo {
    std::string release;
    std::string boot_id;
    std::string hostname;
    FlagLayout flags;
    std::map<int, std::string> migrate_reasons;  // names as the migrate tracepoints print them
    std::map<int, std::string> page_flags;  // bit -> "PG_locked": enum pageflags moves bits between releases
    bool try_grab_page_returns_errno = false;  // bool up to 6.1, 0/-errno later
    // The kernel has bpf_loop() (5.17+), and so BPF compare-and-exchange
    // (5.12+): what pairing pins in the kernel needs (docs/pairing.md).
    bool can_pair_in_kernel = false;
    // page_cache_pipe_buf_release's address (/proc/kallsyms): the release
    // of the pipe buffers that hold page cache references, by which the
    // splice hooks know them. 0 where kallsyms hides addresses.
    uint64_t pipe_buf_release_fn = 0;
};

// A kernel text symbol's address in /proc/kallsyms; 0 if absent or hidden.
uint64_t kallsyms_address(std::string_view name);

// Fails when the kernel has no BTF: CO-RE cannot relocate without it.
Result<BtfPtr> load_kernel_btf();
Result<KernelInfo> read_kernel_info(const btf* vmlinux);

// Number of arguments of a kernel function, from BTF.
std::optional<int> function_arg_count(const btf* vmlinux, const char* func);

// "syscall_or_cpuset" for MR_SYSCALL, as in include/trace/events/migrate.h.
std::string migrate_reason_label(const std::string& enumerator);

// Classic tracepoints are found through tracefs; mount it where it is
// missing (containers, minimal hosts). Returns a note when it mounted it.
Result<std::string> ensure_tracefs();

// Does tracefs list this tracepoint ("group:event"), or its group ("group")?
bool tracepoint_exists(std::string_view group_event);

// Does the process have what loading BPF needs? Empty if so, else what is missing.
std::string missing_privileges();

}  // namespace pintrace
