// What the attach plan needs to know about a kernel, behind one interface:
// the live kernel answers from its BTF, tracefs, kallsyms and a probe load;
// a recorded kernel answers from a small text file of the same facts
// (tests/unit/kernels/*.facts), so the plan for 5.10 or 7.3 can be computed
// and tested on any machine.
#pragma once

#include <bpf/btf.h>

#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "util/result.hpp"

namespace pintrace {

enum class RetKind { Any, Pointer, Int, Bool };

// The shape of a kernel function, as BTF tells it.
struct Signature {
    int nargs = -1;  // -1: any
    RetKind ret = RetKind::Any;
};

bool signature_matches(const Signature& want, const Signature& have);

// "refused by the kernel (EPERM)" and the like: an errno as a load or attach
// answered it.
std::string kernel_errno_text(int err);

enum class TrampolineKind { Entry, Exit };  // fentry, fexit

class KernelFacts {
public:
    virtual ~KernelFacts() = default;
    virtual std::string release() const = 0;
    // The function's signature if the kernel's BTF has it.
    virtual std::optional<Signature> signature(std::string_view func) const = 0;
    // Compiler clones of a function ("f.isra.0"): the work happens there,
    // with other arguments.
    virtual std::vector<std::string> compiler_clones(std::string_view func) const = 0;
    // "group:event", or a whole "group".
    virtual bool tracepoint_exists(std::string_view name) const = 0;
    // Empty when the kernel gives func a BPF trampoline of this kind, else why not.
    virtual std::string trampoline_refusal(std::string_view func, TrampolineKind kind) const = 0;
    // Empty when kprobes can attach, else why not.
    virtual std::string kprobes_refusal() const = 0;
};

// The running kernel. Trampoline answers come from loading and attaching a
// two-instruction program; each is asked once.
class LiveKernelFacts : public KernelFacts {
public:
    explicit LiveKernelFacts(const btf* vmlinux);
    std::string release() const override;
    std::optional<Signature> signature(std::string_view func) const override;
    std::vector<std::string> compiler_clones(std::string_view func) const override;
    bool tracepoint_exists(std::string_view name) const override;
    std::string trampoline_refusal(std::string_view func, TrampolineKind kind) const override;
    std::string kprobes_refusal() const override;

private:
    const btf* vmlinux_;
    mutable std::map<std::pair<std::string, TrampolineKind>, std::string> trampolines_;
};

// Facts as `pintrace doctor --kernel-facts` wrote them. A question the file
// has no line for is a test that asks what the fixture never recorded: it
// is answered "absent" and remembered, so tests can fail on it.
class RecordedKernelFacts : public KernelFacts {
public:
    static Result<RecordedKernelFacts> parse(std::string_view text);
    std::string release() const override { return release_; }
    std::optional<Signature> signature(std::string_view func) const override;
    std::vector<std::string> compiler_clones(std::string_view func) const override;
    bool tracepoint_exists(std::string_view name) const override;
    std::string trampoline_refusal(std::string_view func, TrampolineKind kind) const override;
    std::string kprobes_refusal() const override { return kprobes_refusal_; }
    // Questions asked that the file did not answer.
    const std::set<std::string>& unanswered() const { return unanswered_; }

private:
    std::string release_;
    std::string kprobes_refusal_;
    std::map<std::string, std::optional<Signature>, std::less<>> functions_;
    std::map<std::string, std::vector<std::string>, std::less<>> clones_;
    std::map<std::string, bool, std::less<>> tracepoints_;
    std::map<std::string, std::string, std::less<>> trampolines_;  // "fexit f" -> refusal
    mutable std::set<std::string> unanswered_;
};

// The facts file for these functions and tracepoints, as the given kernel
// answers: what RecordedKernelFacts reads back.
std::string write_kernel_facts(const KernelFacts& facts, const std::vector<std::string>& functions,
                               const std::vector<std::string>& tracepoints);

}  // namespace pintrace
