#include "capture/attach_plan.hpp"

#include <bpf/bpf.h>
#include <linux/bpf.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string_view>

#include "capture/kernel_info.hpp"
#include "capture/symbolize.hpp"
#include "pintrace.h"

namespace pintrace {
namespace {

constexpr const char* kHidesGrabSlow =
    "pins and references taken by slow GUP (pin_user_pages, get_user_pages, io_uring buffer registration) "
    "are invisible: failures on such pages have no culprit";
constexpr const char* kHidesGrabFast =
    "pins and references taken by fast GUP (pin_user_pages_fast, get_user_pages_fast, O_DIRECT, vmsplice) are "
    "invisible: failures on such pages have no culprit";
constexpr const char* kHidesRelease =
    "releases are invisible: every pin looks held until the trace ends, so a culprit may have let go already";
constexpr const char* kHidesFailedList =
    "which pages failed to migrate is unknown: failures are reported with counts only, without pfns or culprits";
constexpr const char* kHidesFollowPage =
    "references the kernel takes for itself through follow_page() (move_pages, KSM) look like holders: "
    "a migrating process may be blamed for its own transient references";
constexpr const char* kHidesExecTp =
    "user stacks of processes that exec after a grab may be resolved against the wrong program";
constexpr const char* kHidesExitTp =
    "the report cannot tell that a holder exited (its pins remain), and a pid reused after its pinner exited "
    "would be merged with it";
constexpr const char* kHidesIsolationTp =
    "contiguous allocations (CMA, gigantic pages) and memory offlining that fail at isolation are invisible";
constexpr const char* kHidesPageFreeTp =
    "references whose release cannot be seen (put_page) stay held in the report even after their page was freed";
constexpr const char* kHidesMigrateTp = "migration attempts are invisible: no failure can be reported";
constexpr const char* kHidesCmaStart =
    "CMA allocations are not told apart from other contiguous allocations (no area, no size)";
constexpr const char* kHidesCmaRetry =
    "the ranges a CMA allocation found busy are unknown: its failure is reported without culprits";
constexpr const char* kHidesCmaEnd = "failed CMA allocations are invisible (only their isolation failures show)";
constexpr const char* kNoCma = "kernel built without CMA (CONFIG_CMA off): no CMA allocation can fail";

constexpr const char* kNoSuchFunction = "no such function in the kernel's BTF";

std::string errno_text(int err)
{
    if (err == EPERM) return "refused by the kernel (EPERM)";
    if (err == 524 /* ENOTSUPP, kernel-internal */) return "not supported for this function (ENOTSUPP)";
    return std::strerror(err);
}

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

// Load and attach a program that does nothing, to learn whether the kernel
// gives this function a trampoline.
std::string probe_trampoline(const btf* vmlinux, const char* func, bpf_attach_type type)
{
    int id = btf__find_by_name_kind(vmlinux, func, BTF_KIND_FUNC);
    if (id < 0) return kNoSuchFunction;
    const bpf_insn insns[] = {
        {.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .src_reg = 0, .off = 0, .imm = 0},
        {.code = BPF_JMP | BPF_EXIT, .dst_reg = 0, .src_reg = 0, .off = 0, .imm = 0},
    };
    LIBBPF_OPTS(bpf_prog_load_opts, opts, .expected_attach_type = type, .attach_btf_id = static_cast<__u32>(id));
    Fd prog(bpf_prog_load(BPF_PROG_TYPE_TRACING, "pt_probe", "GPL", insns, 2, &opts));
    if (prog.get() < 0) return "load " + errno_text(errno);
    Fd link(bpf_raw_tracepoint_open(nullptr, prog.get()));
    if (link.get() < 0) return "attach " + errno_text(errno);
    return "";
}

void set_autoload(bpf_object* obj, const char* name, bool on)
{
    if (!name) return;
    if (bpf_program* p = bpf_object__find_program_by_name(obj, name)) bpf_program__set_autoload(p, on);
}

void set_variant_autoload(bpf_object* obj, const Variant* v, bool on)
{
    if (!v) return;
    set_autoload(obj, v->entry, on);
    set_autoload(obj, v->exit, on);
}

const Variant* matching(const std::vector<Variant>& variants, const std::optional<Signature>& sig)
{
    for (const auto& v : variants)
        if (!sig || signature_matches(v.sig, *sig)) return &v;
    return nullptr;
}

// "kprobe/try_grab_page" -> "try_grab_page"
std::string kprobe_target(const bpf_program* p)
{
    std::string_view sec = bpf_program__section_name(p);
    auto slash = sec.find('/');
    return std::string(slash == std::string_view::npos ? sec : sec.substr(slash + 1));
}

const KernelSymbols& kernel_symbols()
{
    static const KernelSymbols syms = KernelSymbols::load();  // only read when a function is not in BTF
    return syms;
}

// Empty when the kernel has no compiler clone of func either.
std::string clones_detail(const std::string& func)
{
    auto clones = kernel_symbols().compiler_clones(func);
    if (clones.empty()) return "";
    std::string names;
    for (const auto& c : clones) names += (names.empty() ? "" : ", ") + c;
    return "only compiler clones exist (" + names + "): their arguments differ from " + func +
           "'s, so reading them would be wrong";
}

std::string missing_symbol_detail(const std::string& func)
{
    auto clones = clones_detail(func);
    return clones.empty() ? "no such kernel symbol" : clones;
}

LinkPtr attach_program(bpf_object* obj, const char* name, std::string& error)
{
    bpf_program* p = bpf_object__find_program_by_name(obj, name);
    if (!p) {
        error = std::string("program ") + name + " missing from the object";
        return nullptr;
    }
    LinkPtr link(bpf_program__attach(p));
    if (!link) {
        int err = errno;
        bool kprobe = bpf_program__type(p) == BPF_PROG_TYPE_KPROBE;
        if (kprobe && access("/sys/bus/event_source/devices/kprobe", F_OK) != 0)
            error = "kprobes unavailable on this kernel (CONFIG_KPROBES off)";
        else if (kprobe && err == ENOENT)
            error = missing_symbol_detail(kprobe_target(p));
        else
            error = errno_text(err);
    }
    return link;
}

// Entry and exit programs work only as a pair: both attach or neither does.
bool attach_pair(bpf_object* obj, const Variant& v, std::vector<LinkPtr>& links, std::string& error)
{
    LinkPtr entry = v.entry ? attach_program(obj, v.entry, error) : nullptr;
    if (v.entry && !entry) return false;
    LinkPtr exit = v.exit ? attach_program(obj, v.exit, error) : nullptr;
    if (v.exit && !exit) return false;
    if (entry) links.push_back(std::move(entry));
    if (exit) links.push_back(std::move(exit));
    return true;
}

std::string mode_name(AttachKind kind, const Variant& v)
{
    if (kind == AttachKind::Trampoline) return v.entry && v.exit ? "fentry+fexit" : v.exit ? "fexit" : "fentry";
    return v.entry && v.exit ? "kprobe+kretprobe" : v.exit ? "kretprobe" : "kprobe";
}

// An absent function is fine only while some other function serving the
// same capability is attached; otherwise the work moved somewhere pintrace
// does not know (a kernel newer than its specs), and that must show.
void mark_uncovered_capabilities(const std::vector<PlannedAttach>& plan, std::vector<AttachPoint>& table)
{
    for (size_t i = 0; i < plan.size(); ++i) {
        const char* cap = plan[i].spec->capability;
        if (!cap || table[i].mode != "absent") continue;
        if (plan[i].feature_absent) continue;
        bool covered = false;
        for (size_t j = 0; j < plan.size(); ++j)
            if (plan[j].spec->capability && std::string_view(plan[j].spec->capability) == cap &&
                table[j].attached() && table[j].mode != "absent")
                covered = true;
        if (!covered) {
            table[i].mode = "missing";
            table[i].detail = std::string("not in this kernel, and nothing else pintrace knows attaches for ") + cap;
        }
    }
}

Variant tramp(const char* entry, const char* exit, Signature sig = {}) { return {entry, exit, sig}; }

}  // namespace

std::optional<Signature> function_signature(const btf* vmlinux, const char* func)
{
    int id = btf__find_by_name_kind(vmlinux, func, BTF_KIND_FUNC);
    if (id < 0) return std::nullopt;
    const btf_type* proto = btf__type_by_id(vmlinux, btf__type_by_id(vmlinux, id)->type);
    if (!proto || !btf_is_func_proto(proto)) return std::nullopt;
    return Signature{btf_vlen(proto), ret_kind(vmlinux, proto->type)};
}

bool signature_matches(const Signature& want, const Signature& have)
{
    return (want.nargs < 0 || want.nargs == have.nargs) && (want.ret == RetKind::Any || want.ret == have.ret);
}

const std::vector<AttachSpec>& attach_specs()
{
    const Signature ptr3{3, RetKind::Pointer}, int3{3, RetKind::Int};
    const char* grabs = "GUP grabs";
    const char* releases = "GUP releases";
    const char* cma_outcome = "CMA allocation outcomes";
    static const std::vector<AttachSpec> specs = {
        {PT_HOOK_FOLLOW_PAGE, "follow_page",
         {tramp("fentry_follow_page", "fexit_follow_page")},
         {tramp("kprobe_follow_page", "kretprobe_follow_page")}, nullptr, kHidesFollowPage, true},
        // Slow GUP: try_grab_page up to 6.9, try_grab_folio(folio, ...) from 6.10.
        {PT_HOOK_TRY_GRAB_PAGE, "try_grab_page",
         {tramp(nullptr, "fexit_try_grab_page")},
         {tramp("kprobe_try_grab_page", "kretprobe_try_grab_page")}, nullptr, kHidesGrabSlow, true, grabs},
        {PT_HOOK_TRY_GRAB_FOLIO, "try_grab_folio",
         {tramp(nullptr, "fexit_try_grab_folio", ptr3), tramp(nullptr, "fexit_try_grab_folio_int", int3)},
         {tramp("kprobe_try_grab_folio", "kretprobe_try_grab_folio", ptr3),
          tramp("kprobe_try_grab_folio_int", "kretprobe_try_grab_folio_int", int3)},
         nullptr, kHidesGrabFast, true, grabs},
        {PT_HOOK_TRY_GRAB_FOLIO_FAST, "try_grab_folio_fast",
         {tramp(nullptr, "fexit_try_grab_folio_fast", ptr3)},
         {tramp("kprobe_try_grab_folio_fast", "kretprobe_try_grab_folio_fast", ptr3)}, nullptr, kHidesGrabFast,
         true, grabs},
        {PT_HOOK_TRY_GRAB_COMPOUND_HEAD, "try_grab_compound_head",
         {tramp(nullptr, "fexit_try_grab_compound_head", ptr3)},
         {tramp("kprobe_try_grab_compound_head", "kretprobe_try_grab_compound_head", ptr3)}, nullptr,
         kHidesGrabFast, true, grabs},
        {PT_HOOK_GUP_PUT_FOLIO, "gup_put_folio",
         {tramp("fentry_gup_put_folio", nullptr)}, {tramp("kprobe_gup_put_folio", nullptr)}, nullptr,
         kHidesRelease, true, releases},
        {PT_HOOK_PUT_COMPOUND_HEAD, "put_compound_head",
         {tramp("fentry_put_compound_head", nullptr)}, {tramp("kprobe_put_compound_head", nullptr)}, nullptr,
         kHidesRelease, true, releases},
        {PT_HOOK_MIGRATE_TP, "migrate:mm_migrate_pages", {}, {}, "tp_mm_migrate_pages", kHidesMigrateTp},
        {PT_HOOK_EXEC_TP, "sched:sched_process_exec", {}, {}, "tp_sched_process_exec", kHidesExecTp},
        {PT_HOOK_EXIT_TP, "sched:sched_process_exit", {}, {}, "tp_sched_process_exit", kHidesExitTp},
        {PT_HOOK_ISOLATION_TP, "page_isolation:test_pages_isolated", {}, {}, "tp_test_pages_isolated",
         kHidesIsolationTp},
        {PT_HOOK_PAGE_FREE_TP, "kmem:mm_page_free", {}, {}, "tp_mm_page_free", kHidesPageFreeTp},
        // CMA: start and busy_retry since 5.11; the outcome from cma_alloc_finish,
        // or from cma_alloc before 5.11.
        {PT_HOOK_CMA_ALLOC_START_TP, "cma:cma_alloc_start", {}, {}, "tp_cma_alloc_start", kHidesCmaStart, false,
         nullptr, kNoCma},
        {PT_HOOK_CMA_BUSY_RETRY_TP, "cma:cma_alloc_busy_retry", {}, {}, "tp_cma_alloc_busy_retry", kHidesCmaRetry,
         false, nullptr, kNoCma},
        {PT_HOOK_CMA_ALLOC_FINISH_TP, "cma:cma_alloc_finish", {}, {}, "tp_cma_alloc_finish", kHidesCmaEnd, true,
         cma_outcome, kNoCma},
        {PT_HOOK_CMA_ALLOC_TP, "cma:cma_alloc", {}, {}, "tp_cma_alloc", kHidesCmaEnd, true, cma_outcome, kNoCma},
        {PT_HOOK_MIGRATE_PAGES_EXIT, "migrate_pages",
         {tramp(nullptr, "fexit_migrate_pages_6args", {6, RetKind::Any}),
          tramp(nullptr, "fexit_migrate_pages_7args", {7, RetKind::Any})},
         {tramp("kprobe_migrate_pages", "kretprobe_migrate_pages")}, nullptr, kHidesFailedList},
    };
    return specs;
}

std::vector<PlannedAttach> plan_attach(bpf_object* obj, const btf* vmlinux)
{
    // Nothing loads unless the plan picks it: a program no spec names, or a
    // variant for another kernel, could otherwise fail the whole load.
    bpf_program* prog;
    bpf_object__for_each_program(prog, obj) bpf_program__set_autoload(prog, false);

    std::vector<PlannedAttach> plan;
    for (const auto& spec : attach_specs()) {
        if (spec.tracepoint_prog) {
            std::string_view target = spec.target;
            if (!tracepoint_exists(target) && (spec.absent_is_fine || spec.feature_absent)) {
                bool no_feature = spec.feature_absent && !tracepoint_exists(target.substr(0, target.find(':')));
                plan.push_back({&spec, AttachKind::Absent, nullptr, "", no_feature});
                continue;
            }
            set_autoload(obj, spec.tracepoint_prog, true);
            plan.push_back({&spec, AttachKind::Tracepoint, nullptr, ""});
            continue;
        }
        auto sig = function_signature(vmlinux, spec.target);
        // Not in BTF, yet present as a clone with other arguments: the work
        // still happens there, unseen. That is missing, never absent.
        if (std::string clones; !sig && !(clones = clones_detail(spec.target)).empty()) {
            plan.push_back({&spec, AttachKind::Kprobe, nullptr, clones});
            continue;
        }
        if (!sig && spec.absent_is_fine) {
            plan.push_back({&spec, AttachKind::Absent, nullptr, kNoSuchFunction});
            continue;
        }
        std::string refusal = kNoSuchFunction;
        if (const Variant* v = sig ? matching(spec.trampolines, sig) : nullptr) {
            refusal = probe_trampoline(vmlinux, spec.target, v->exit ? BPF_TRACE_FEXIT : BPF_TRACE_FENTRY);
            if (refusal.empty()) {
                set_variant_autoload(obj, v, true);
                plan.push_back({&spec, AttachKind::Trampoline, v, ""});
                continue;
            }
        } else if (sig) {
            refusal = "no program variant for this kernel's signature";
        }
        const Variant* k = matching(spec.kprobes, sig);
        set_variant_autoload(obj, k, true);
        plan.push_back({&spec, AttachKind::Kprobe, k, refusal});
    }
    return plan;
}

std::vector<AttachPoint> attach_planned(bpf_object* obj, const std::vector<PlannedAttach>& plan,
                                        std::vector<LinkPtr>& links)
{
    std::vector<AttachPoint> table;
    for (const auto& p : plan) {
        const AttachSpec& s = *p.spec;
        AttachPoint point{s.target, s.hook, "missing", "", s.hides};
        std::string error;
        switch (p.kind) {
        case AttachKind::Absent:
            point.mode = "absent";
            point.detail = p.feature_absent ? s.feature_absent : "not in this kernel; the work happens elsewhere";
            break;
        case AttachKind::Tracepoint:
            if (auto l = attach_program(obj, s.tracepoint_prog, error)) {
                links.push_back(std::move(l));
                point.mode = "tracepoint";
            }
            break;
        case AttachKind::Trampoline:
        case AttachKind::Kprobe:
            if (!p.variant)
                error = "no program variant for this kernel's signature";
            else if (attach_pair(obj, *p.variant, links, error))
                point.mode = mode_name(p.kind, *p.variant);
            if (p.kind == AttachKind::Kprobe && !point.attached())
                error = p.variant ? "trampoline " + p.trampoline_refusal + "; kprobe " + error : p.trampoline_refusal;
            break;
        }
        if (!point.attached()) point.detail = error;
        else if (point.mode != "absent") point.hides.clear();
        table.push_back(std::move(point));
    }
    mark_uncovered_capabilities(plan, table);
    for (auto& point : table)
        if (point.attached()) point.hides.clear();
    return table;
}

}  // namespace pintrace
