#include "capture/kernel_facts.hpp"

#include <bpf/bpf.h>
#include <linux/bpf.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <sstream>

#include "capture/kernel_info.hpp"
#include "capture/libbpf_owners.hpp"
#include "capture/symbolize.hpp"

namespace pintrace {
namespace {

constexpr const char* kNoSuchFunction = "no such function in the kernel's BTF";

RetKind ret_kind(const btf* b, int type_id)
{
    const btf_type* t = btf__type_by_id(b, type_id);
    while (t && (btf_is_typedef(t) || btf_is_const(t) || btf_is_volatile(t))) t = btf__type_by_id(b, t->type);
    if (!t || type_id == 0) return RetKind::Any;  // void
    if (btf_is_ptr(t)) return RetKind::Pointer;
    if (btf_is_int(t)) return (btf_int_encoding(t) & BTF_INT_BOOL) ? RetKind::Bool : RetKind::Int;
    if (btf_is_enum(t)) return RetKind::Int;
    return RetKind::Any;
}

// One name per return kind, for the facts file.
struct RetKindName {
    RetKind kind;
    const char* name;
};
constexpr RetKindName kRetKindNames[] = {
    {RetKind::Any, "any"}, {RetKind::Pointer, "pointer"}, {RetKind::Int, "int"}, {RetKind::Bool, "bool"}};

const char* ret_kind_name(RetKind k)
{
    for (const auto& r : kRetKindNames)
        if (r.kind == k) return r.name;
    return "any";
}

std::optional<RetKind> ret_kind_named(std::string_view name)
{
    for (const auto& r : kRetKindNames)
        if (name == r.name) return r.kind;
    return std::nullopt;
}

const char* trampoline_kind_name(TrampolineKind k) { return k == TrampolineKind::Exit ? "fexit" : "fentry"; }

const KernelSymbols& kernel_symbols()
{
    static const KernelSymbols syms = KernelSymbols::load();  // only read when a function is not in BTF
    return syms;
}

}  // namespace

std::string kernel_errno_text(int err)
{
    if (err == EPERM) return "refused by the kernel (EPERM)";
    if (err == 524 /* ENOTSUPP, kernel-internal */) return "not supported for this function (ENOTSUPP)";
    return std::strerror(err);
}

bool signature_matches(const Signature& want, const Signature& have)
{
    return (want.nargs < 0 || want.nargs == have.nargs) && (want.ret == RetKind::Any || want.ret == have.ret);
}

// ---- the running kernel ----

LiveKernelFacts::LiveKernelFacts(const btf* vmlinux) : vmlinux_(vmlinux) {}

std::string LiveKernelFacts::release() const
{
    utsname u{};
    uname(&u);
    return u.release;
}

std::optional<Signature> LiveKernelFacts::signature(std::string_view func) const
{
    int id = btf__find_by_name_kind(vmlinux_, std::string(func).c_str(), BTF_KIND_FUNC);
    if (id < 0) return std::nullopt;
    const btf_type* proto = btf__type_by_id(vmlinux_, btf__type_by_id(vmlinux_, id)->type);
    if (!proto || !btf_is_func_proto(proto)) return std::nullopt;
    return Signature{btf_vlen(proto), ret_kind(vmlinux_, proto->type)};
}

std::vector<std::string> LiveKernelFacts::compiler_clones(std::string_view func) const
{
    return kernel_symbols().compiler_clones(func);
}

bool LiveKernelFacts::tracepoint_exists(std::string_view name) const { return pintrace::tracepoint_exists(name); }

// Loads and attaches a program that does nothing, to learn whether the
// kernel gives this function a trampoline: one refused fentry program
// would otherwise fail the whole object's load.
std::string LiveKernelFacts::trampoline_refusal(std::string_view func, TrampolineKind kind) const
{
    auto key = std::make_pair(std::string(func), kind);
    if (auto it = trampolines_.find(key); it != trampolines_.end()) return it->second;
    std::string& answer = trampolines_[key];
    int id = btf__find_by_name_kind(vmlinux_, key.first.c_str(), BTF_KIND_FUNC);
    if (id < 0) return answer = kNoSuchFunction;
    const bpf_insn insns[] = {
        {.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .src_reg = 0, .off = 0, .imm = 0},
        {.code = BPF_JMP | BPF_EXIT, .dst_reg = 0, .src_reg = 0, .off = 0, .imm = 0},
    };
    LIBBPF_OPTS(bpf_prog_load_opts, opts,
                .expected_attach_type = kind == TrampolineKind::Exit ? BPF_TRACE_FEXIT : BPF_TRACE_FENTRY,
                .attach_btf_id = static_cast<__u32>(id));
    Fd prog(bpf_prog_load(BPF_PROG_TYPE_TRACING, "pt_probe", "GPL", insns, 2, &opts));
    if (prog.get() < 0) return answer = "load " + kernel_errno_text(errno);
    Fd link(bpf_raw_tracepoint_open(nullptr, prog.get()));
    if (link.get() < 0) return answer = "attach " + kernel_errno_text(errno);
    return answer;
}

std::string LiveKernelFacts::kprobes_refusal() const
{
    if (access("/sys/bus/event_source/devices/kprobe", F_OK) != 0)
        return "kprobes unavailable on this kernel (CONFIG_KPROBES off)";
    return "";
}

// ---- a recorded kernel ----

Result<RecordedKernelFacts> RecordedKernelFacts::parse(std::string_view text)
{
    RecordedKernelFacts f;
    std::istringstream in{std::string(text)};
    std::string line;
    int lineno = 0;
    auto bad = [&](const std::string& why) {
        return make_error("kernel facts line " + std::to_string(lineno) + ": " + why + ": " + line);
    };
    while (std::getline(in, line)) {
        ++lineno;
        if (line.empty() || line[0] == '#') continue;
        std::istringstream words(line);
        std::string kind, name;
        words >> kind;
        if (kind == "release") {
            words >> f.release_;
        } else if (kind == "kprobes") {
            std::string verdict;
            words >> verdict >> std::ws;
            std::getline(words, f.kprobes_refusal_);
            if (verdict != "ok" && (verdict != "refused" || f.kprobes_refusal_.empty()))
                return bad("expected 'kprobes ok' or 'kprobes refused WHY'");
        } else if (kind == "function") {
            std::string nargs, ret;
            words >> name >> nargs >> ret;
            if (nargs == "absent") {
                f.functions_[name] = std::nullopt;
                continue;
            }
            auto r = ret_kind_named(ret);
            if (name.empty() || !r || nargs.empty() || nargs.find_first_not_of("0123456789") != std::string::npos)
                return bad("expected 'function NAME NARGS any|pointer|int|bool' or 'function NAME absent'");
            f.functions_[name] = Signature{std::stoi(nargs), *r};
        } else if (kind == "clones") {
            words >> name;
            auto& list = f.clones_[name];
            for (std::string c; words >> c;) list.push_back(c);
        } else if (kind == "tracepoint") {
            std::string present;
            words >> name >> present;
            if (present != "yes" && present != "no") return bad("expected 'tracepoint NAME yes|no'");
            f.tracepoints_[name] = present == "yes";
        } else if (kind == "trampoline") {
            std::string tk, verdict, why;
            words >> tk >> name >> verdict >> std::ws;
            std::getline(words, why);
            if ((tk != "fentry" && tk != "fexit") || (verdict != "ok" && (verdict != "refused" || why.empty())))
                return bad("expected 'trampoline fentry|fexit NAME ok|refused WHY'");
            f.trampolines_[tk + " " + name] = verdict == "ok" ? "" : why;
        } else {
            return bad("unknown fact '" + kind + "'");
        }
    }
    if (f.release_.empty()) return make_error("kernel facts: no 'release' line");
    return f;
}

std::optional<Signature> RecordedKernelFacts::signature(std::string_view func) const
{
    auto it = functions_.find(func);
    if (it == functions_.end()) {
        unanswered_.insert("function " + std::string(func));
        return std::nullopt;
    }
    return it->second;
}

std::vector<std::string> RecordedKernelFacts::compiler_clones(std::string_view func) const
{
    auto it = clones_.find(func);
    return it == clones_.end() ? std::vector<std::string>{} : it->second;
}

bool RecordedKernelFacts::tracepoint_exists(std::string_view name) const
{
    auto it = tracepoints_.find(name);
    if (it == tracepoints_.end()) {
        unanswered_.insert("tracepoint " + std::string(name));
        return false;
    }
    return it->second;
}

std::string RecordedKernelFacts::trampoline_refusal(std::string_view func, TrampolineKind kind) const
{
    std::string key = std::string(trampoline_kind_name(kind)) + " " + std::string(func);
    auto it = trampolines_.find(key);
    if (it == trampolines_.end()) {
        unanswered_.insert("trampoline " + key);
        return "not recorded";
    }
    return it->second;
}

std::string write_kernel_facts(const KernelFacts& facts, const std::vector<std::string>& functions,
                               const std::vector<std::string>& tracepoints)
{
    std::string release = facts.release();
    std::string out = "# pintrace kernel facts: what the attach plan reads of " + release +
                      "\n# (written by `pintrace doctor --kernel-facts`)\nrelease " + release + "\n";
    std::string kprobes = facts.kprobes_refusal();
    out += kprobes.empty() ? "kprobes ok\n" : "kprobes refused " + kprobes + "\n";
    for (const auto& f : functions) {
        auto sig = facts.signature(f);
        if (!sig) {
            out += "function " + f + " absent\n";
            auto clones = facts.compiler_clones(f);
            if (!clones.empty()) {
                out += "clones " + f;
                for (const auto& c : clones) out += " " + c;
                out += "\n";
            }
            continue;
        }
        out += "function " + f + " " + std::to_string(sig->nargs) + " " + ret_kind_name(sig->ret) + "\n";
        for (auto kind : {TrampolineKind::Entry, TrampolineKind::Exit}) {
            std::string why = facts.trampoline_refusal(f, kind);
            out += std::string("trampoline ") + trampoline_kind_name(kind) + " " + f +
                   (why.empty() ? " ok" : " refused " + why) + "\n";
        }
    }
    for (const auto& t : tracepoints) out += "tracepoint " + t + (facts.tracepoint_exists(t) ? " yes" : " no") + "\n";
    return out;
}

}  // namespace pintrace
