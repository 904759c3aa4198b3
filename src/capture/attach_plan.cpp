#include "capture/attach_plan.hpp"

#include <bpf/bpf.h>
#include <linux/bpf.h>

#include <cerrno>
#include <cstring>
#include <unistd.h>

#include "pintrace.h"

namespace pintrace {
namespace {

constexpr const char* kHidesGrabSlow =
    "pins and references taken by slow GUP (pin_user_pages, get_user_pages, io_uring buffer registration) "
    "are invisible: failures on such pages have no culprit";
constexpr const char* kHidesGrabFast =
    "pins and references taken by fast GUP (pin_user_pages_fast, get_user_pages_fast, O_DIRECT) are "
    "invisible: failures on such pages have no culprit";
constexpr const char* kHidesRelease =
    "releases are invisible: every pin looks held until the trace ends, so a culprit may have let go already";
constexpr const char* kHidesFailedList =
    "which pages failed to migrate is unknown: failures are reported with counts only, without pfns or culprits";
constexpr const char* kHidesFollowPage =
    "references the kernel takes for itself through follow_page() (move_pages, KSM) look like holders: "
    "a migrating process may be blamed for its own transient references";
constexpr const char* kHidesMigrateTp = "migration attempts are invisible: no failure can be reported";

constexpr const char* kNoSuchFunction = "no such function in the kernel's BTF";

std::string errno_text(int err)
{
    if (err == EPERM) return "refused by the kernel (EPERM)";
    if (err == 524 /* ENOTSUPP, kernel-internal */) return "not supported for this function (ENOTSUPP)";
    return std::strerror(err);
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
            error = "no such kernel symbol";
        else
            error = errno_text(err);
    }
    return link;
}

}  // namespace

const std::vector<AttachSpec>& attach_specs()
{
    static const std::vector<AttachSpec> specs = {
        {PT_HOOK_FOLLOW_PAGE, "follow_page", BPF_TRACE_FENTRY, "fentry_follow_page", "fexit_follow_page",
         "kprobe_follow_page", "kretprobe_follow_page", nullptr, kHidesFollowPage, true},
        {PT_HOOK_TRY_GRAB_PAGE, "try_grab_page", BPF_TRACE_FEXIT, "fexit_try_grab_page", nullptr,
         "kprobe_try_grab_page", "kretprobe_try_grab_page", nullptr, kHidesGrabSlow},
        {PT_HOOK_TRY_GRAB_FOLIO, "try_grab_folio", BPF_TRACE_FEXIT, "fexit_try_grab_folio", nullptr,
         "kprobe_try_grab_folio", "kretprobe_try_grab_folio", nullptr, kHidesGrabFast},
        {PT_HOOK_GUP_PUT_FOLIO, "gup_put_folio", BPF_TRACE_FENTRY, "fentry_gup_put_folio", nullptr,
         "kprobe_gup_put_folio", nullptr, nullptr, kHidesRelease},
        {PT_HOOK_MIGRATE_TP, "migrate:mm_migrate_pages", BPF_TRACE_FENTRY, nullptr, nullptr, nullptr, nullptr,
         "tp_mm_migrate_pages", kHidesMigrateTp},
        {PT_HOOK_MIGRATE_PAGES_EXIT, "migrate_pages", BPF_TRACE_FEXIT, "fexit_migrate_pages", nullptr,
         "kprobe_migrate_pages", "kretprobe_migrate_pages", nullptr, kHidesFailedList},
    };
    return specs;
}

std::vector<PlannedAttach> plan_attach(bpf_object* obj, const btf* vmlinux)
{
    std::vector<PlannedAttach> plan;
    for (const auto& spec : attach_specs()) {
        if (spec.tracepoint_prog) {
            plan.push_back({&spec, AttachKind::Tracepoint, ""});
            continue;
        }
        std::string refusal = probe_trampoline(vmlinux, spec.target, spec.trampoline_type);
        bool trampoline = refusal.empty();
        if (refusal == kNoSuchFunction && spec.absent_is_fine) {
            for (auto* p : {spec.trampoline_prog, spec.trampoline_exit_prog, spec.kprobe_prog, spec.kretprobe_prog})
                set_autoload(obj, p, false);
            plan.push_back({&spec, AttachKind::Absent, refusal});
            continue;
        }
        set_autoload(obj, spec.trampoline_prog, trampoline);
        set_autoload(obj, spec.trampoline_exit_prog, trampoline);
        set_autoload(obj, spec.kprobe_prog, !trampoline);
        set_autoload(obj, spec.kretprobe_prog, !trampoline);
        plan.push_back({&spec, trampoline ? AttachKind::Trampoline : AttachKind::Kprobe, refusal});
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
        case AttachKind::Tracepoint:
            if (auto l = attach_program(obj, s.tracepoint_prog, error)) {
                links.push_back(std::move(l));
                point.mode = "tracepoint";
            }
            break;
        case AttachKind::Absent:
            point.mode = "absent";
            point.detail = "not in this kernel, nothing to watch there";
            break;
        case AttachKind::Trampoline: {
            LinkPtr first = attach_program(obj, s.trampoline_prog, error);
            LinkPtr second =
                (first && s.trampoline_exit_prog) ? attach_program(obj, s.trampoline_exit_prog, error) : nullptr;
            if (first && (second || !s.trampoline_exit_prog)) {
                links.push_back(std::move(first));
                if (second) links.push_back(std::move(second));
                point.mode = s.trampoline_exit_prog ? "fentry+fexit"
                             : s.trampoline_type == BPF_TRACE_FEXIT ? "fexit" : "fentry";
            }
            break;
        }
        case AttachKind::Kprobe: {
            // Entry and return probes work only as a pair.
            LinkPtr entry = s.kprobe_prog ? attach_program(obj, s.kprobe_prog, error) : nullptr;
            LinkPtr exit = (entry && s.kretprobe_prog) ? attach_program(obj, s.kretprobe_prog, error) : nullptr;
            if (entry && (exit || !s.kretprobe_prog)) {
                links.push_back(std::move(entry));
                if (exit) links.push_back(std::move(exit));
                point.mode = s.kretprobe_prog ? "kretprobe" : "kprobe";
            } else {
                error = "trampoline " + p.trampoline_refusal + "; kprobe " + error;
            }
            break;
        }
        }
        if (!point.attached()) point.detail = error;
        else point.hides.clear();
        table.push_back(std::move(point));
    }
    return table;
}

}  // namespace pintrace
