#include "capture/attach_plan.hpp"

#include <algorithm>
#include <cerrno>
#include <string_view>

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
constexpr const char* kHidesUnpinOne =
    "where the kernel inlines gup_put_folio into this function (7.x), its releases are invisible: io_uring "
    "fixed buffers unregistered and direct I/O completed look held until the trace ends";
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
constexpr const char* kHidesIsolationRefused =
    "contiguous allocations (CMA, gigantic pages) and memory offlining refused at isolation (a range holding a "
    "page the kernel will not move) are invisible";
constexpr const char* kHidesUnmovablePage =
    "a range refused at isolation is named without the page that made the kernel refuse it";
constexpr const char* kHidesDumpedPage =
    "a memory offline refused at isolation is named without the page that made the kernel refuse it (from 6.1, "
    "where has_unmovable_pages() is inline): what that page is (page table, slab) stays unknown";
constexpr const char* kHidesContigAlloc =
    "contiguous allocations (gigantic pages) that fail without trying a range are invisible, and the ranges "
    "one tried are not grouped as one allocation";
constexpr const char* kHidesSplice =
    "page cache pages spliced into a pipe (splice, tee, io_uring splice) are held by no one the report can name: "
    "a failure on them has no holder";
constexpr const char* kHidesSplicePipe =
    "the pipe a spliced page went into is not named: the report gives the process that spliced it, not the pipe "
    "or the processes that have it open";
constexpr const char* kHidesPipeRelease =
    "the release of a spliced page when its pipe is read or closed is invisible: the reference looks held until "
    "the page is freed or the trace ends";
constexpr const char* kHidesPipeGet =
    "a tee()'d copy of a spliced page is not counted: the page's release is recorded when its first copy goes, "
    "while the other may still hold it";
constexpr const char* kNoCma = "kernel built without CMA (CONFIG_CMA off): no CMA allocation can fail";

constexpr const char* kNoSuchFunction = "no such function in the kernel's BTF";
constexpr const char* kNoVariant = "no program variant for this kernel's signature";
constexpr const char* kWorkElsewhere = "not in this kernel; the work happens elsewhere";

using P = CapturePrograms;

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

// Empty when the kernel has no compiler clone of func either.
std::string clones_detail(const KernelFacts& facts, const std::string& func)
{
    auto clones = facts.compiler_clones(func);
    if (clones.empty()) return "";
    std::string names;
    for (const auto& c : clones) names += (names.empty() ? "" : ", ") + c;
    return "only compiler clones exist (" + names + "): their arguments differ from " + func +
           "'s, so reading them would be wrong";
}

LinkPtr attach_program(bpf_program* p, const KernelFacts& facts, std::string& error)
{
    LinkPtr link(bpf_program__attach(p));
    if (!link) {
        int err = errno;
        if (bpf_program__type(p) == BPF_PROG_TYPE_KPROBE && err == ENOENT) {
            std::string clones = clones_detail(facts, kprobe_target(p));
            error = clones.empty() ? "no such kernel symbol" : clones;
        } else {
            error = kernel_errno_text(err);
        }
    }
    return link;
}

// Entry and exit programs work only as a pair: both attach or neither does.
bool attach_pair(pintrace_bpf* skel, const Variant& v, const KernelFacts& facts, std::vector<LinkPtr>& links,
                 std::string& error)
{
    LinkPtr entry = v.entry ? attach_program(skel->progs.*v.entry, facts, error) : nullptr;
    if (v.entry && !entry) return false;
    LinkPtr exit = v.exit ? attach_program(skel->progs.*v.exit, facts, error) : nullptr;
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

bool feature_absent(const PlannedAttach& p)
{
    return p.kind == AttachKind::Absent && p.spec->feature_absent && p.why == p.spec->feature_absent;
}

AttachPoint planned_point(const PlannedAttach& p)
{
    const AttachSpec& s = *p.spec;
    AttachPoint point;
    point.target = s.target();
    point.hook = s.hook;
    point.detail = p.why;
    point.hides = s.hides;
    switch (p.kind) {
    case AttachKind::Trampoline:
    case AttachKind::Kprobe:
        point.state = AttachState::Attached;
        point.how = mode_name(p.kind, *p.variant);
        point.detail.clear();
        break;
    case AttachKind::Tracepoint:
        point.state = AttachState::Attached;
        point.how = "tracepoint";
        break;
    case AttachKind::Absent: point.state = AttachState::Absent; break;
    case AttachKind::Missing: point.state = AttachState::Missing; break;
    case AttachKind::Refused: point.state = AttachState::Refused; break;
    }
    return point;
}

// An absent function is fine only while some other function serving the
// same capability is attached; otherwise the work moved somewhere pintrace
// does not know (a kernel newer than its specs), and that must show. Then
// what an attached point does not hide is cleared.
void finish_table(const std::vector<PlannedAttach>& plan, std::vector<AttachPoint>& table)
{
    for (size_t i = 0; i < plan.size(); ++i) {
        const char* cap = plan[i].spec->capability;
        if (!cap || table[i].state != AttachState::Absent || feature_absent(plan[i])) continue;
        bool covered = false;
        for (size_t j = 0; j < plan.size(); ++j)
            if (plan[j].spec->capability && std::string_view(plan[j].spec->capability) == cap &&
                table[j].state == AttachState::Attached)
                covered = true;
        if (!covered) {
            table[i].state = AttachState::Missing;
            table[i].detail = std::string("not in this kernel, and nothing else pintrace knows attaches for ") + cap;
        }
    }
    for (auto& point : table)
        if (point.attached()) point.hides.clear();
}

Variant tramp(ProgramRef entry, ProgramRef exit, Signature sig = {}) { return {entry, exit, sig}; }

PlannedAttach plan_tracepoint(const AttachSpec& spec, const KernelFacts& facts)
{
    std::string target = spec.target();
    if (facts.tracepoint_exists(target)) return {&spec, AttachKind::Tracepoint};
    if (spec.feature_absent && !facts.tracepoint_exists(target.substr(0, target.find(':'))))
        return {&spec, AttachKind::Absent, nullptr, spec.feature_absent};
    if (spec.absent_is_fine || spec.feature_absent) return {&spec, AttachKind::Absent, nullptr, kWorkElsewhere};
    return {&spec, AttachKind::Missing, nullptr, "no such tracepoint in this kernel"};
}

PlannedAttach plan_function(const AttachSpec& spec, const KernelFacts& facts)
{
    auto sig = facts.signature(spec.target());
    if (!sig) {
        // Not in BTF, yet present as a clone with other arguments: the work
        // still happens there, unseen. That is missing, never absent.
        if (std::string clones = clones_detail(facts, spec.target()); !clones.empty())
            return {&spec, AttachKind::Missing, nullptr, clones};
        if (spec.absent_is_fine) return {&spec, AttachKind::Absent, nullptr, kWorkElsewhere};
    }
    std::string refusal = sig ? kNoVariant : kNoSuchFunction;
    if (const Variant* v = sig ? matching(spec.trampolines, sig) : nullptr) {
        refusal = facts.trampoline_refusal(spec.target(), v->exit ? TrampolineKind::Exit : TrampolineKind::Entry);
        if (refusal.empty()) return {&spec, AttachKind::Trampoline, v};
        refusal = "trampoline " + refusal;
    }
    // Not in BTF is no proof of absence (the symbol may still be there for
    // a kprobe); the attach says.
    const Variant* k = matching(spec.kprobes, sig);
    if (!k) return {&spec, AttachKind::Missing, nullptr, refusal};
    if (std::string why = facts.kprobes_refusal(); !why.empty())
        return {&spec, AttachKind::Missing, nullptr, refusal + "; kprobe " + why};
    return {&spec, AttachKind::Kprobe, k, refusal};
}

}  // namespace

const std::vector<AttachSpec>& attach_specs()
{
    const Signature ptr3{3, RetKind::Pointer}, int3{3, RetKind::Int};
    const char* grabs = "GUP grabs";
    const char* releases = "GUP releases";
    const char* cma_outcome = "CMA allocation outcomes";
    const char* contig = "contiguous allocations";
    const char* splices = "file pages spliced into pipes";
    // The rows of the table as written, one hook each.
    // clang-format off
    static const std::vector<AttachSpec> specs = {
        {.hook = PT_HOOK_FOLLOW_PAGE,
         .trampolines = {tramp(&P::fentry_follow_page, &P::fexit_follow_page)},
         .kprobes = {tramp(&P::kprobe_follow_page, &P::kretprobe_follow_page)},
         .hides = kHidesFollowPage, .absent_is_fine = true},
        // Slow GUP: try_grab_page up to 6.9, try_grab_folio(folio, ...) from 6.10.
        {.hook = PT_HOOK_TRY_GRAB_PAGE,
         .trampolines = {tramp(nullptr, &P::fexit_try_grab_page)},
         .kprobes = {tramp(&P::kprobe_try_grab_page, &P::kretprobe_try_grab_page)},
         .hides = kHidesGrabSlow, .absent_is_fine = true, .capability = grabs},
        {.hook = PT_HOOK_TRY_GRAB_FOLIO,
         .trampolines = {tramp(nullptr, &P::fexit_try_grab_folio, ptr3),
                         tramp(nullptr, &P::fexit_try_grab_folio_int, int3)},
         .kprobes = {tramp(&P::kprobe_try_grab_folio, &P::kretprobe_try_grab_folio, ptr3),
                     tramp(&P::kprobe_try_grab_folio_int, &P::kretprobe_try_grab_folio_int, int3)},
         .hides = kHidesGrabFast, .absent_is_fine = true, .capability = grabs},
        {.hook = PT_HOOK_TRY_GRAB_FOLIO_FAST,
         .trampolines = {tramp(nullptr, &P::fexit_try_grab_folio_fast, ptr3)},
         .kprobes = {tramp(&P::kprobe_try_grab_folio_fast, &P::kretprobe_try_grab_folio_fast, ptr3)},
         .hides = kHidesGrabFast, .absent_is_fine = true, .capability = grabs},
        {.hook = PT_HOOK_TRY_GRAB_COMPOUND_HEAD,
         .trampolines = {tramp(nullptr, &P::fexit_try_grab_compound_head, ptr3)},
         .kprobes = {tramp(&P::kprobe_try_grab_compound_head, &P::kretprobe_try_grab_compound_head, ptr3)},
         .hides = kHidesGrabFast, .absent_is_fine = true, .capability = grabs},
        {.hook = PT_HOOK_GUP_PUT_FOLIO,
         .trampolines = {tramp(&P::fentry_gup_put_folio, nullptr)},
         .kprobes = {tramp(&P::kprobe_gup_put_folio, nullptr)},
         .hides = kHidesRelease, .absent_is_fine = true, .capability = releases},
        {.hook = PT_HOOK_PUT_COMPOUND_HEAD,
         .trampolines = {tramp(&P::fentry_put_compound_head, nullptr)},
         .kprobes = {tramp(&P::kprobe_put_compound_head, nullptr)},
         .hides = kHidesRelease, .absent_is_fine = true, .capability = releases},
        // The exported one-folio unpins: 7.x inlines gup_put_folio into them
        // (io_uring buffer unregistration, direct I/O completion). Entry
        // reports, exit ends the mark that keeps gup_put_folio /
        // put_compound_head from reporting the same release again.
        {.hook = PT_HOOK_UNPIN_USER_PAGE,
         .trampolines = {tramp(&P::fentry_unpin_user_page, &P::fexit_unpin_user_page, {1, RetKind::Any})},
         .kprobes = {tramp(&P::kprobe_unpin_user_page, &P::kretprobe_unpin_user_page, {1, RetKind::Any})},
         .hides = kHidesUnpinOne, .absent_is_fine = true, .capability = releases},
        {.hook = PT_HOOK_UNPIN_FOLIO,
         .trampolines = {tramp(&P::fentry_unpin_folio, &P::fexit_unpin_folio, {1, RetKind::Any})},
         .kprobes = {tramp(&P::kprobe_unpin_folio, &P::kretprobe_unpin_folio, {1, RetKind::Any})},
         .hides = kHidesUnpinOne, .absent_is_fine = true, .capability = releases},
        {.hook = PT_HOOK_UNPIN_USER_FOLIO,
         .trampolines = {tramp(&P::fentry_unpin_user_folio, &P::fexit_unpin_user_folio, {2, RetKind::Any})},
         .kprobes = {tramp(&P::kprobe_unpin_user_folio, &P::kretprobe_unpin_user_folio, {2, RetKind::Any})},
         .hides = kHidesUnpinOne, .absent_is_fine = true, .capability = releases},
        // Page cache references a splice puts into a pipe, and their release.
        {.hook = PT_HOOK_SPLICE_TO,
         .trampolines = {tramp(&P::fentry_do_splice_to, &P::fexit_do_splice_to, {5, RetKind::Any})},
         .kprobes = {tramp(&P::kprobe_do_splice_to, &P::kretprobe_do_splice_to, {5, RetKind::Any})},
         .hides = kHidesSplice, .absent_is_fine = true, .capability = splices},
        {.hook = PT_HOOK_SPLICE_READ,
         .trampolines = {tramp(&P::fentry_do_splice_read, &P::fexit_do_splice_read, {5, RetKind::Any})},
         .kprobes = {tramp(&P::kprobe_do_splice_read, &P::kretprobe_do_splice_read, {5, RetKind::Any})},
         .hides = kHidesSplice, .absent_is_fine = true, .capability = splices},
        {.hook = PT_HOOK_DO_SPLICE,
         .trampolines = {tramp(&P::fentry_do_splice, nullptr, {6, RetKind::Any})},
         .kprobes = {tramp(&P::kprobe_do_splice, nullptr, {6, RetKind::Any})},
         .hides = kHidesSplicePipe},
        {.hook = PT_HOOK_PIPE_BUF_RELEASE,
         .trampolines = {tramp(&P::fentry_page_cache_pipe_buf_release, nullptr, {2, RetKind::Any})},
         .kprobes = {tramp(&P::kprobe_page_cache_pipe_buf_release, nullptr, {2, RetKind::Any})},
         .hides = kHidesPipeRelease},
        {.hook = PT_HOOK_PIPE_BUF_GET,
         .trampolines = {tramp(&P::fentry_generic_pipe_buf_get, nullptr, {2, RetKind::Any})},
         .kprobes = {tramp(&P::kprobe_generic_pipe_buf_get, nullptr, {2, RetKind::Any})},
         .hides = kHidesPipeGet},
        {.hook = PT_HOOK_MIGRATE_TP, .tracepoint = &P::tp_mm_migrate_pages,
         .hides = kHidesMigrateTp},
        {.hook = PT_HOOK_EXEC_TP, .tracepoint = &P::tp_sched_process_exec,
         .hides = kHidesExecTp},
        {.hook = PT_HOOK_EXIT_TP, .tracepoint = &P::tp_sched_process_exit,
         .hides = kHidesExitTp},
        {.hook = PT_HOOK_ISOLATION_TP,
         .tracepoint = &P::tp_test_pages_isolated, .hides = kHidesIsolationTp},
        {.hook = PT_HOOK_PAGE_FREE_TP, .tracepoint = &P::tp_mm_page_free,
         .hides = kHidesPageFreeTp},
        // CMA: start and busy_retry since 5.11; the outcome from cma_alloc_finish,
        // or from cma_alloc before 5.11.
        {.hook = PT_HOOK_CMA_ALLOC_START_TP, .tracepoint = &P::tp_cma_alloc_start,
         .hides = kHidesCmaStart, .feature_absent = kNoCma},
        {.hook = PT_HOOK_CMA_BUSY_RETRY_TP,
         .tracepoint = &P::tp_cma_alloc_busy_retry, .hides = kHidesCmaRetry, .feature_absent = kNoCma},
        {.hook = PT_HOOK_CMA_ALLOC_FINISH_TP,
         .tracepoint = &P::tp_cma_alloc_finish, .hides = kHidesCmaEnd, .absent_is_fine = true,
         .capability = cma_outcome, .feature_absent = kNoCma},
        {.hook = PT_HOOK_CMA_ALLOC_TP, .tracepoint = &P::tp_cma_alloc,
         .hides = kHidesCmaEnd, .absent_is_fine = true, .capability = cma_outcome, .feature_absent = kNoCma},
        // Refusals at isolation: the range always; the page only where
        // has_unmovable_pages() is a function of its own (5.x; inlined later).
        {.hook = PT_HOOK_ISOLATE_RANGE,
         .trampolines = {tramp(nullptr, &P::fexit_start_isolate_page_range_3args, {3, RetKind::Int}),
                         tramp(nullptr, &P::fexit_start_isolate_page_range_4args, {4, RetKind::Int}),
                         tramp(nullptr, &P::fexit_start_isolate_page_range_5args, {5, RetKind::Int})},
         .kprobes = {tramp(&P::kprobe_start_isolate_page_range, &P::kretprobe_start_isolate_page_range)},
         .hides = kHidesIsolationRefused},
        {.hook = PT_HOOK_UNMOVABLE_PAGE,
         .trampolines = {tramp(nullptr, &P::fexit_has_unmovable_pages, {4, RetKind::Pointer})},
         .kprobes = {tramp(nullptr, &P::kretprobe_has_unmovable_pages, {4, RetKind::Pointer})},
         .hides = kHidesUnmovablePage, .absent_is_fine = true},
        {.hook = PT_HOOK_DUMP_PAGE,
         .trampolines = {tramp(&P::fentry_dump_page, nullptr, {2, RetKind::Any})},
         .kprobes = {tramp(&P::kprobe_dump_page, nullptr, {2, RetKind::Any})},
         .hides = kHidesDumpedPage},
        // Contiguous allocations: alloc_contig_pages up to 6.9, *_noprof from
        // 6.10, and on 7.x the frozen variant it wraps (one capability).
        {.hook = PT_HOOK_CONTIG_PAGES,
         .trampolines = {tramp(&P::fentry_alloc_contig_pages, &P::fexit_alloc_contig_pages, {4, RetKind::Pointer})},
         .kprobes = {tramp(&P::kprobe_alloc_contig_pages, &P::kretprobe_alloc_contig_pages, {4, RetKind::Pointer})},
         .hides = kHidesContigAlloc, .absent_is_fine = true, .capability = contig},
        {.hook = PT_HOOK_CONTIG_PAGES_NOPROF,
         .trampolines = {tramp(&P::fentry_alloc_contig_pages_noprof, &P::fexit_alloc_contig_pages_noprof,
                               {4, RetKind::Pointer})},
         .kprobes = {tramp(&P::kprobe_alloc_contig_pages_noprof, &P::kretprobe_alloc_contig_pages_noprof,
                           {4, RetKind::Pointer})},
         .hides = kHidesContigAlloc, .absent_is_fine = true, .capability = contig},
        {.hook = PT_HOOK_CONTIG_FROZEN_PAGES,
         .trampolines = {tramp(&P::fentry_alloc_contig_frozen_pages_noprof, &P::fexit_alloc_contig_frozen_pages_noprof,
                               {4, RetKind::Pointer})},
         .kprobes = {tramp(&P::kprobe_alloc_contig_frozen_pages_noprof,
                           &P::kretprobe_alloc_contig_frozen_pages_noprof, {4, RetKind::Pointer})},
         .hides = kHidesContigAlloc, .absent_is_fine = true, .capability = contig},
        {.hook = PT_HOOK_MIGRATE_PAGES_EXIT,
         .trampolines = {tramp(nullptr, &P::fexit_migrate_pages_6args, {6, RetKind::Any}),
                         tramp(nullptr, &P::fexit_migrate_pages_7args, {7, RetKind::Any})},
         .kprobes = {tramp(&P::kprobe_migrate_pages, &P::kretprobe_migrate_pages)},
         .hides = kHidesFailedList},
    };
    // clang-format on
    return specs;
}

std::vector<std::string> spec_functions()
{
    std::vector<std::string> out;
    for (const auto& s : attach_specs())
        if (!s.tracepoint) out.push_back(s.target());
    return out;
}

std::vector<std::string> spec_tracepoints()
{
    std::vector<std::string> out;
    for (const auto& s : attach_specs()) {
        if (!s.tracepoint) continue;
        std::string t = s.target();
        std::string group = t.substr(0, t.find(':'));
        if (std::find(out.begin(), out.end(), group) == out.end()) out.push_back(group);
        out.push_back(t);
    }
    return out;
}

std::vector<PlannedAttach> plan_attach(const KernelFacts& facts)
{
    std::vector<PlannedAttach> plan;
    for (const auto& spec : attach_specs())
        plan.push_back(spec.tracepoint ? plan_tracepoint(spec, facts) : plan_function(spec, facts));
    return plan;
}

std::vector<ProgramRef> planned_programs(const PlannedAttach& p)
{
    switch (p.kind) {
    case AttachKind::Tracepoint: return {p.spec->tracepoint};
    case AttachKind::Trampoline:
    case AttachKind::Kprobe: {
        std::vector<ProgramRef> out;
        if (p.variant->entry) out.push_back(p.variant->entry);
        if (p.variant->exit) out.push_back(p.variant->exit);
        return out;
    }
    default: return {};
    }
}

void enable_planned(pintrace_bpf* skel, const std::vector<PlannedAttach>& plan)
{
    bpf_program* prog;
    bpf_object__for_each_program(prog, skel->obj) bpf_program__set_autoload(prog, false);
    for (const auto& p : plan)
        for (ProgramRef ref : planned_programs(p)) bpf_program__set_autoload(skel->progs.*ref, true);
}

bool refuse_program(std::vector<PlannedAttach>& plan, const pintrace_bpf* skel, const bpf_program* prog,
                    const std::string& why, const KernelFacts& facts)
{
    for (auto& p : plan) {
        auto refs = planned_programs(p);
        if (std::none_of(refs.begin(), refs.end(), [&](ProgramRef r) { return skel->progs.*r == prog; })) continue;
        std::string refusal = std::string("the kernel refused to load ") + bpf_program__name(prog) + ": " + why;
        if (p.kind == AttachKind::Trampoline && facts.kprobes_refusal().empty()) {
            if (const Variant* k = matching(p.spec->kprobes, facts.signature(p.spec->target()))) {
                p = {p.spec, AttachKind::Kprobe, k, "trampoline program: " + refusal};
                return true;
            }
        }
        p = {p.spec, AttachKind::Refused, nullptr, refusal};
        return true;
    }
    return false;
}

std::vector<AttachPoint> planned_table(const std::vector<PlannedAttach>& plan)
{
    std::vector<AttachPoint> table;
    for (const auto& p : plan) table.push_back(planned_point(p));
    finish_table(plan, table);
    return table;
}

std::vector<AttachPoint> attach_planned(pintrace_bpf* skel, const std::vector<PlannedAttach>& plan,
                                        const KernelFacts& facts, std::vector<LinkPtr>& links)
{
    std::vector<AttachPoint> table;
    for (const auto& p : plan) {
        AttachPoint point = planned_point(p);
        std::string error;
        bool attached = true;
        if (p.kind == AttachKind::Tracepoint) {
            LinkPtr l = attach_program(skel->progs.*p.spec->tracepoint, facts, error);
            attached = l != nullptr;
            if (l) links.push_back(std::move(l));
        } else if (p.kind == AttachKind::Trampoline || p.kind == AttachKind::Kprobe) {
            attached = attach_pair(skel, *p.variant, facts, links, error);
            if (!attached && p.kind == AttachKind::Kprobe) error = p.why + "; kprobe " + error;
        }
        if (!attached) {
            point.state = AttachState::Missing;
            point.how.clear();
            point.detail = error;
            point.hides = p.spec->hides;
        }
        table.push_back(std::move(point));
    }
    finish_table(plan, table);
    return table;
}

}  // namespace pintrace
