// Which program variant serves each attach point on this kernel.
//
// Per attach point, in order of preference: fentry/fexit (a BPF trampoline:
// cheapest, typed), then kprobe/kretprobe, then nothing. Where the target's
// signature changed across kernels there is one variant per signature, and
// the kernel's facts pick (argument count, kind of return value). The plan
// is computed from a KernelFacts, so it is the same function of the same
// facts on a live kernel and in a unit test with a recorded one.
//
// Planning, loading and attaching are three steps, and each can take one
// attach point down without the others: the plan (no such function, no
// trampoline, no kprobes), the load (the kernel refuses a program:
// capture/load.hpp), the attach (the kernel refuses the link).
#pragma once

#include <bpf/libbpf.h>

#include <string>
#include <vector>

#include "capture/kernel_facts.hpp"
#include "capture/libbpf_owners.hpp"
#include "events/event.hpp"
#include "pintrace.skel.h"
#include "trace/trace_info.hpp"

namespace pintrace {

// A program of the capture object, by its skeleton handle: a name that
// does not exist does not compile.
using CapturePrograms = decltype(pintrace_bpf::progs);
using ProgramRef = bpf_program* CapturePrograms::*;

// A pair of programs that together serve one attach point: entry and exit
// (fentry+fexit or kprobe+kretprobe); either may be absent.
struct Variant {
    ProgramRef entry = nullptr;
    ProgramRef exit = nullptr;
    Signature sig;
};

struct AttachSpec {
    uint16_t hook = 0;  // enum pt_hook: its PT_HOOKS row names the target
    std::vector<Variant> trampolines;  // first whose signature matches wins
    std::vector<Variant> kprobes;
    ProgramRef tracepoint = nullptr;  // set for a tracepoint
    const char* hides = nullptr;  // what the report loses without it
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

    // The kernel function, or "group:event" for a tracepoint.
    std::string target() const { return std::string(hook_name(hook)); }
};

const std::vector<AttachSpec>& attach_specs();

// Programs of the capture object that attach nowhere: user space runs them
// (BPF_PROG_TEST_RUN) and loads them itself, never through the plan.
inline constexpr ProgramRef kRunByUserSpace[] = {
    &CapturePrograms::flush_parked,  // sends parked pins at every drain (docs/pairing.md)
};

// What a kernel's facts file must answer for attach_specs(): every
// function target, every tracepoint and its group.
std::vector<std::string> spec_functions();
std::vector<std::string> spec_tracepoints();

enum class AttachKind {
    Trampoline,  // variant's fentry/fexit
    Kprobe,  // variant's kprobe/kretprobe
    Tracepoint,
    Absent,  // nothing to watch on this kernel
    Missing,  // something to watch, and no way to (why says)
    Refused,  // the kernel refused to load its program (why: its verifier's or libbpf's line)
};

struct PlannedAttach {
    const AttachSpec* spec;
    AttachKind kind;
    const Variant* variant = nullptr;  // Trampoline and Kprobe
    // Missing, Refused: why. Kprobe: why the trampoline was not used.
    // Absent: what the kernel lacks.
    std::string why;
};

std::vector<PlannedAttach> plan_attach(const KernelFacts& facts);

// The programs one planned attach point loads.
std::vector<ProgramRef> planned_programs(const PlannedAttach& p);

// Turns on (set_autoload) exactly the programs the plan uses. Call between
// open and load: a program no plan entry uses, or a variant for another
// kernel, could otherwise fail the whole load.
void enable_planned(pintrace_bpf* skel, const std::vector<PlannedAttach>& plan);

// The kernel refused to load `prog`: its attach point falls back to its
// kprobe variant if it was a trampoline and one fits, or else is Refused.
// False when no planned attach point uses prog.
bool refuse_program(std::vector<PlannedAttach>& plan, const pintrace_bpf* skel, const bpf_program* prog,
                    const std::string& why, const KernelFacts& facts);

// The attach table as planned, as if every attach succeeds: the modes, and
// for what the plan already lost, why and what it hides.
std::vector<AttachPoint> planned_table(const std::vector<PlannedAttach>& plan);

// Attaches what the plan chose; links go to `links`. The result is the
// attach table stored in the trace header and shown by report.
std::vector<AttachPoint> attach_planned(pintrace_bpf* skel, const std::vector<PlannedAttach>& plan,
                                        const KernelFacts& facts, std::vector<LinkPtr>& links);

}  // namespace pintrace
