// Loading the capture object so that a program the kernel refuses takes
// down its own attach point only, never the whole capture.
//
// libbpf loads an object's programs in one go and stops at the first the
// kernel refuses (a CO-RE relocation that does not resolve on this kernel,
// a verifier rejection, a missing attach target). So: load; if it fails,
// learn which program was refused and why (its own verifier log, or
// libbpf's line about it), turn that program's attach point off in the
// plan (or over to its kprobe variant), open a fresh object and load again.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "capture/attach_plan.hpp"
#include "capture/libbpf_owners.hpp"
#include "util/result.hpp"

namespace pintrace {

// Defined out of line: the skeleton's own __destroy is static inline, and a
// type built on it could not cross translation units.
struct CaptureSkelDeleter {
    void operator()(pintrace_bpf* skel) const;
};
using CaptureSkel = std::unique_ptr<pintrace_bpf, CaptureSkelDeleter>;

// Which build of the capture object to open: pintrace.bpf.c as it is, or
// compiled without BPF atomics (pintrace_compat.bpf.c) for kernels whose
// verifier refuses them even in dead code (before 5.12). Both have the same
// programs, maps and variables, so both open through one skeleton.
enum class CaptureObject { Full, WithoutAtomics };

// The capture skeleton, opened on the chosen object's ELF.
CaptureSkel open_capture(CaptureObject object);

struct LoadOptions {
    CaptureObject object = CaptureObject::Full;
    // Sets rodata and map sizes on each freshly opened object.
    std::function<void(pintrace_bpf*)> configure;
    // Called with the kernel's reason when it refuses a program while the
    // object pairs pins: returns true if it turned pairing off (configure
    // then loads without it), and the load is tried again as it was; a
    // refusal only pairing caused must not cost a hook or the capture.
    std::function<bool(const std::string& why)> stop_pairing;
    // For tests: the kernel is made to refuse this program (its verifier
    // log gets no room), to show that the others still capture.
    std::string refuse_for_test;
};

// Entries of `plan` whose program the kernel refused become Refused (or
// Kprobe, from a refused trampoline), with the kernel's reason.
Result<CaptureSkel> load_capture(std::vector<PlannedAttach>& plan, const KernelFacts& facts,
                                 const LoadOptions& options);

// The one line of a verifier log that says why the program was refused:
// libbpf's diagnosis of a CO-RE relocation if there is one, else the
// verifier's last complaint before its statistics.
std::string refusal_line(std::string_view verifier_log);

}  // namespace pintrace
