// Which program variant serves each attach point on this kernel.
//
// Per attach point, in order of preference: fentry/fexit (a BPF trampoline:
// cheapest, typed) then kprobe/kretprobe, then nothing. Trampolines are
// probed with a two-instruction program before the real object is loaded,
// because a single refused fentry program would fail the whole load (this
// host refuses them all with EPERM; 6.1 refuses functions with more than six
// arguments with ENOTSUPP).
#pragma once

#include <bpf/libbpf.h>

#include <string>
#include <vector>

#include "capture/libbpf_owners.hpp"
#include "trace/trace_info.hpp"

namespace pintrace {

enum class AttachKind { Trampoline, Kprobe, Tracepoint, Absent };

struct AttachSpec {
    uint16_t hook;
    const char* target;
    bpf_attach_type trampoline_type;  // BPF_TRACE_FENTRY or BPF_TRACE_FEXIT
    const char* trampoline_prog;      // nullptr: none
    const char* trampoline_exit_prog; // a second, fexit, program on the same function, or nullptr
    const char* kprobe_prog;          // entry kprobe, or nullptr
    const char* kretprobe_prog;       // return probe, or nullptr
    const char* tracepoint_prog;      // nullptr unless a tracepoint
    const char* hides;                // what the report loses without it
    bool absent_is_fine = false;      // a function some kernels lack, with nothing to see there
};

const std::vector<AttachSpec>& attach_specs();

struct PlannedAttach {
    const AttachSpec* spec;
    AttachKind kind;
    std::string trampoline_refusal;  // why the trampoline was not used
};

// Probes trampolines and turns off (set_autoload false) every program the
// plan does not use. Call between open and load.
std::vector<PlannedAttach> plan_attach(bpf_object* obj, const btf* vmlinux);

// Attaches what the plan chose; links go to `links`. The result is the
// attach table stored in the trace header and shown by doctor and report.
std::vector<AttachPoint> attach_planned(bpf_object* obj, const std::vector<PlannedAttach>& plan,
                                        std::vector<LinkPtr>& links);

}  // namespace pintrace
