// Which program variant serves each attach point on this kernel.
//
// Per attach point, in order of preference: fentry/fexit (a BPF trampoline:
// cheapest, typed), then kprobe/kretprobe, then nothing. Where the target's
// signature changed across kernels there is one variant per signature, and
// the kernel's BTF picks (argument count, kind of return value).
// Trampolines are probed with a two-instruction program before the real
// object is loaded, because one refused fentry program would fail the whole
// load (this host refuses them all with EPERM; before 6.3 x86 refuses
// functions with more than six arguments with ENOTSUPP).
#pragma once

#include <bpf/libbpf.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "capture/libbpf_owners.hpp"
#include "trace/trace_info.hpp"

namespace pintrace {

enum class RetKind { Any, Pointer, Int, Bool };

// The shape of a kernel function, as BTF tells it.
struct Signature {
    int nargs = -1;  // -1: any
    RetKind ret = RetKind::Any;
};

// A pair of programs that together serve one attach point: entry and exit
// (fentry+fexit or kprobe+kretprobe); either may be absent.
struct Variant {
    const char* entry;
    const char* exit;
    Signature sig;
};

struct AttachSpec {
    uint16_t hook;
    const char* target;               // kernel function, or "group:event" for a tracepoint
    std::vector<Variant> trampolines; // first whose signature matches wins
    std::vector<Variant> kprobes;
    const char* tracepoint_prog;      // nullptr unless a tracepoint
    const char* hides;                // what the report loses without it
    // Kernels without this function have nothing to watch there (the work
    // happens in another function, with its own spec).
    bool absent_is_fine = false;
    // Specs serving the same capability stand in for one another: an absent
    // one is fine only while another of its capability is attached.
    const char* capability = nullptr;
    // Tracepoints of an optional kernel feature: when the whole group is
    // missing the kernel lacks the feature, there is nothing to miss, and
    // this says so (e.g. CONFIG_CMA off: no CMA allocation can fail).
    const char* feature_absent = nullptr;
};

const std::vector<AttachSpec>& attach_specs();

enum class AttachKind { Trampoline, Kprobe, Tracepoint, Absent };

struct PlannedAttach {
    const AttachSpec* spec;
    AttachKind kind;
    const Variant* variant;          // nullptr for tracepoints, absent functions, or no match
    std::string trampoline_refusal;  // why the trampoline was not used
    bool feature_absent = false;     // the kernel lacks the feature (spec.feature_absent)
};

// Probes trampolines and turns off (set_autoload false) every program the
// plan does not use. Call between open and load.
std::vector<PlannedAttach> plan_attach(bpf_object* obj, const btf* vmlinux);

// Attaches what the plan chose; links go to `links`. The result is the
// attach table stored in the trace header and shown by report.
std::vector<AttachPoint> attach_planned(bpf_object* obj, const std::vector<PlannedAttach>& plan,
                                        std::vector<LinkPtr>& links);

// The signature of a kernel function, if BTF has it.
std::optional<Signature> function_signature(const btf* vmlinux, const char* func);
bool signature_matches(const Signature& want, const Signature& have);

}  // namespace pintrace
