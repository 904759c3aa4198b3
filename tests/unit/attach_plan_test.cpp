// The attach plan without a kernel: recorded facts of the kernels the VM
// bench runs (tests/unit/kernels/*.facts, written there by `pintrace doctor
// --kernel-facts`) give the program each kernel gets and what it loses; a
// refused program takes down its own attach point only.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <sstream>

#include "capture/attach_plan.hpp"
#include "capture/kernel_facts.hpp"
#include "capture/load.hpp"

namespace pintrace {
namespace {

using testing::HasSubstr;

std::string read_fixture(const std::string& kernel)
{
    std::ifstream in(std::string(PINTRACE_TEST_DATA) + "/kernels/" + kernel + ".facts");
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

RecordedKernelFacts facts_of(const std::string& kernel)
{
    std::string text = read_fixture(kernel);
    EXPECT_FALSE(text.empty()) << "no fixture for " << kernel;
    auto facts = RecordedKernelFacts::parse(text);
    EXPECT_TRUE(facts.ok()) << (facts.ok() ? "" : facts.error().message);
    return facts.ok() ? std::move(facts.value()) : RecordedKernelFacts::parse("release none\n").value();
}

std::map<std::string, std::string> modes(const std::vector<AttachPoint>& table)
{
    std::map<std::string, std::string> out;
    for (const auto& a : table) out[a.target] = a.mode();
    return out;
}

struct Skeleton {
    Skeleton() : skel(pintrace_bpf__open()) {}
    CaptureSkel skel;
};

// The program a planned attach point loads, by name: what a reader of the
// plan for a kernel wants to know.
std::vector<std::string> program_names(const pintrace_bpf* skel, const PlannedAttach& p)
{
    std::vector<std::string> out;
    for (ProgramRef ref : planned_programs(p)) out.push_back(bpf_program__name(skel->progs.*ref));
    return out;
}

const PlannedAttach& planned(const std::vector<PlannedAttach>& plan, std::string_view target)
{
    for (const auto& p : plan)
        if (p.spec->target() == target) return p;
    ADD_FAILURE() << "no plan entry for " << target;
    return plan.front();
}

// ---- every kernel of the bench ----

struct KernelCase {
    const char* kernel;
    std::map<std::string, std::string> modes;  // every attach point, as the plan leaves it
};

// Function targets per kernel, from their BTF: try_grab_page(page, flags)
// up to 6.9; try_grab_compound_head (5.x) then try_grab_folio(page, refs,
// flags) -> folio (6.0-6.9), then try_grab_folio(folio, refs, flags) -> int
// and try_grab_folio_fast (6.10+); put_compound_head (5.x) then
// gup_put_folio; unpin_user_page on all, unpin_folio and unpin_user_folio
// from 6.11 (6.12's BTF has them; 7.x inlines gup_put_folio into all three,
// so they are hooked beside it); follow_page gone in 6.12; migrate_pages with 7 arguments
// from 6.1, which x86 trampolines refuse before 6.3 (ENOTSUPP). CMA
// tracepoints only where the kernel has CMA (7.x of Debian's amd64
// kernels); cma_alloc_finish names the outcome there, cma_alloc no more.
// Splices into a pipe pass do_splice_to in 5.10's and 6.1's BTF and
// do_splice_read in 6.12's and 7.x's; page_cache_pipe_buf_release and
// generic_pipe_buf_get in all.
// 7.3 (trixie-backports) and 7.2 (sid) give the same plan.
const std::map<std::string, std::string> k7x = {{"follow_page", "absent"},
                                                {"try_grab_page", "absent"},
                                                {"try_grab_folio", "fexit"},
                                                {"try_grab_folio_fast", "fexit"},
                                                {"try_grab_compound_head", "absent"},
                                                {"gup_put_folio", "fentry"},
                                                {"put_compound_head", "absent"},
                                                {"unpin_user_page", "fentry+fexit"},
                                                {"unpin_folio", "fentry+fexit"},
                                                {"unpin_user_folio", "fentry+fexit"},
                                                {"do_splice_to", "absent"},
                                                {"do_splice_read", "fentry+fexit"},
                                                {"page_cache_pipe_buf_release", "fentry"},
                                                {"generic_pipe_buf_get", "fentry"},
                                                {"do_splice", "fentry"},
                                                {"migrate:mm_migrate_pages", "tracepoint"},
                                                {"sched:sched_process_exec", "tracepoint"},
                                                {"sched:sched_process_exit", "tracepoint"},
                                                {"page_isolation:test_pages_isolated", "tracepoint"},
                                                {"kmem:mm_page_free", "tracepoint"},
                                                {"cma:cma_alloc_start", "tracepoint"},
                                                {"cma:cma_alloc_busy_retry", "tracepoint"},
                                                {"cma:cma_alloc_finish", "tracepoint"},
                                                {"cma:cma_alloc", "absent"},
                                                {"start_isolate_page_range", "fexit"},
                                                {"has_unmovable_pages", "absent"},
                                                {"dump_page", "fentry"},
                                                {"alloc_contig_pages", "absent"},
                                                {"alloc_contig_pages_noprof", "fentry+fexit"},
                                                {"alloc_contig_frozen_pages_noprof", "fentry+fexit"},
                                                {"migrate_pages", "fexit"}};

const KernelCase kCases[] = {
    {"5.10",
     {{"follow_page", "fentry+fexit"},
      {"try_grab_page", "fexit"},
      {"try_grab_folio", "absent"},
      {"try_grab_folio_fast", "absent"},
      {"try_grab_compound_head", "fexit"},
      {"gup_put_folio", "absent"},
      {"put_compound_head", "fentry"},
      {"unpin_user_page", "fentry+fexit"},
      {"unpin_folio", "absent"},
      {"unpin_user_folio", "absent"},
      {"do_splice_to", "fentry+fexit"},
      {"do_splice_read", "absent"},
      {"page_cache_pipe_buf_release", "fentry"},
      {"generic_pipe_buf_get", "fentry"},
      {"do_splice", "fentry"},
      {"migrate:mm_migrate_pages", "tracepoint"},
      {"sched:sched_process_exec", "tracepoint"},
      {"sched:sched_process_exit", "tracepoint"},
      {"page_isolation:test_pages_isolated", "tracepoint"},
      {"kmem:mm_page_free", "tracepoint"},
      {"cma:cma_alloc_start", "absent"},
      {"cma:cma_alloc_busy_retry", "absent"},
      {"cma:cma_alloc_finish", "absent"},
      {"cma:cma_alloc", "absent"},
      {"start_isolate_page_range", "fexit"},
      {"has_unmovable_pages", "fexit"},
      {"dump_page", "fentry"},
      {"alloc_contig_pages", "fentry+fexit"},
      {"alloc_contig_pages_noprof", "absent"},
      {"alloc_contig_frozen_pages_noprof", "absent"},
      {"migrate_pages", "fexit"}}},
    {"6.1",
     {{"follow_page", "fentry+fexit"},
      {"try_grab_page", "fexit"},
      {"try_grab_folio", "fexit"},
      {"try_grab_folio_fast", "absent"},
      {"try_grab_compound_head", "absent"},
      {"gup_put_folio", "fentry"},
      {"put_compound_head", "absent"},
      {"unpin_user_page", "fentry+fexit"},
      {"unpin_folio", "absent"},
      {"unpin_user_folio", "absent"},
      {"do_splice_to", "fentry+fexit"},
      {"do_splice_read", "absent"},
      {"page_cache_pipe_buf_release", "fentry"},
      {"generic_pipe_buf_get", "fentry"},
      {"do_splice", "fentry"},
      {"migrate:mm_migrate_pages", "tracepoint"},
      {"sched:sched_process_exec", "tracepoint"},
      {"sched:sched_process_exit", "tracepoint"},
      {"page_isolation:test_pages_isolated", "tracepoint"},
      {"kmem:mm_page_free", "tracepoint"},
      {"cma:cma_alloc_start", "absent"},
      {"cma:cma_alloc_busy_retry", "absent"},
      {"cma:cma_alloc_finish", "absent"},
      {"cma:cma_alloc", "absent"},
      {"start_isolate_page_range", "fexit"},
      {"has_unmovable_pages", "absent"},
      {"dump_page", "fentry"},
      {"alloc_contig_pages", "fentry+fexit"},
      {"alloc_contig_pages_noprof", "absent"},
      {"alloc_contig_frozen_pages_noprof", "absent"},
      {"migrate_pages", "kprobe+kretprobe"}}},
    {"6.12",
     {{"follow_page", "absent"},
      {"try_grab_page", "absent"},
      {"try_grab_folio", "fexit"},
      {"try_grab_folio_fast", "fexit"},
      {"try_grab_compound_head", "absent"},
      {"gup_put_folio", "fentry"},
      {"put_compound_head", "absent"},
      {"unpin_user_page", "fentry+fexit"},
      {"unpin_folio", "fentry+fexit"},
      {"unpin_user_folio", "fentry+fexit"},
      {"do_splice_to", "absent"},
      {"do_splice_read", "fentry+fexit"},
      {"page_cache_pipe_buf_release", "fentry"},
      {"generic_pipe_buf_get", "fentry"},
      {"do_splice", "fentry"},
      {"migrate:mm_migrate_pages", "tracepoint"},
      {"sched:sched_process_exec", "tracepoint"},
      {"sched:sched_process_exit", "tracepoint"},
      {"page_isolation:test_pages_isolated", "tracepoint"},
      {"kmem:mm_page_free", "tracepoint"},
      {"cma:cma_alloc_start", "absent"},
      {"cma:cma_alloc_busy_retry", "absent"},
      {"cma:cma_alloc_finish", "absent"},
      {"cma:cma_alloc", "absent"},
      {"start_isolate_page_range", "fexit"},
      {"has_unmovable_pages", "absent"},
      {"dump_page", "fentry"},
      {"alloc_contig_pages", "absent"},
      {"alloc_contig_pages_noprof", "fentry+fexit"},
      {"alloc_contig_frozen_pages_noprof", "absent"},
      {"migrate_pages", "fexit"}}},
    // The development host: fentry and fexit refused (EPERM), no kprobes.
    {"6.18-host",
     {{"follow_page", "absent"},
      {"try_grab_page", "missing"},
      {"try_grab_folio", "missing"},
      {"try_grab_folio_fast", "missing"},
      {"try_grab_compound_head", "missing"},
      {"gup_put_folio", "missing"},
      {"put_compound_head", "missing"},
      {"unpin_user_page", "missing"},
      {"unpin_folio", "missing"},
      {"unpin_user_folio", "missing"},
      {"do_splice_to", "missing"},
      {"do_splice_read", "missing"},
      {"page_cache_pipe_buf_release", "missing"},
      {"generic_pipe_buf_get", "missing"},
      {"do_splice", "missing"},
      {"migrate:mm_migrate_pages", "tracepoint"},
      {"sched:sched_process_exec", "tracepoint"},
      {"sched:sched_process_exit", "tracepoint"},
      {"page_isolation:test_pages_isolated", "tracepoint"},
      {"kmem:mm_page_free", "tracepoint"},
      {"cma:cma_alloc_start", "absent"},
      {"cma:cma_alloc_busy_retry", "absent"},
      {"cma:cma_alloc_finish", "absent"},
      {"cma:cma_alloc", "absent"},
      {"start_isolate_page_range", "missing"},
      {"has_unmovable_pages", "absent"},
      {"dump_page", "missing"},
      {"alloc_contig_pages", "missing"},
      {"alloc_contig_pages_noprof", "missing"},
      {"alloc_contig_frozen_pages_noprof", "missing"},
      {"migrate_pages", "missing"}}},
    {"7.3", k7x},
    {"7.2", k7x},
};

void PrintTo(const KernelCase& c, std::ostream* os) { *os << c.kernel; }

class PlanPerKernel : public ::testing::TestWithParam<KernelCase> {};

TEST_P(PlanPerKernel, EachAttachPointGetsTheModeItsKernelAllows)
{
    const KernelCase& c = GetParam();
    RecordedKernelFacts facts = facts_of(c.kernel);
    auto plan = plan_attach(facts);
    EXPECT_EQ(modes(planned_table(plan)), c.modes);
    EXPECT_TRUE(facts.unanswered().empty()) << "the fixture lacks " << *facts.unanswered().begin();
}

TEST_P(PlanPerKernel, TheFixtureIsWhatDoctorWouldWriteAgain)
{
    std::string text = read_fixture(GetParam().kernel);
    auto facts = RecordedKernelFacts::parse(text);
    ASSERT_TRUE(facts.ok()) << facts.error().message;
    EXPECT_EQ(write_kernel_facts(facts.value(), spec_functions(), spec_tracepoints()), text);
}

INSTANTIATE_TEST_SUITE_P(Kernels, PlanPerKernel, ::testing::ValuesIn(kCases), [](const auto& info) {
    std::string name = info.param.kernel;
    for (auto& ch : name)
        if (!isalnum(static_cast<unsigned char>(ch))) ch = '_';
    return name;
});

TEST(AttachPlan, SixOneGetsTheSevenArgumentMigratePagesThroughKprobesAndSaysWhy)
{
    Skeleton s;
    ASSERT_TRUE(s.skel);
    auto plan = plan_attach(facts_of("6.1"));
    const PlannedAttach& p = planned(plan, "migrate_pages");
    EXPECT_EQ(program_names(s.skel.get(), p),
              (std::vector<std::string>{"kprobe_migrate_pages", "kretprobe_migrate_pages"}));
    EXPECT_THAT(p.why, HasSubstr("ENOTSUPP")) << p.why;
}

TEST(AttachPlan, TheSignatureChoosesTheVariant)
{
    Skeleton s;
    ASSERT_TRUE(s.skel);
    // try_grab_folio returned the folio up to 6.9, 0/-errno from 6.10.
    EXPECT_EQ(program_names(s.skel.get(), planned(plan_attach(facts_of("6.1")), "try_grab_folio")),
              std::vector<std::string>{"fexit_try_grab_folio"});
    EXPECT_EQ(program_names(s.skel.get(), planned(plan_attach(facts_of("6.12")), "try_grab_folio")),
              std::vector<std::string>{"fexit_try_grab_folio_int"});
    EXPECT_EQ(program_names(s.skel.get(), planned(plan_attach(facts_of("7.3")), "migrate_pages")),
              std::vector<std::string>{"fexit_migrate_pages_7args"});
}

TEST(AttachPlan, AHostWithoutTrampolinesOrKprobesSaysBothReasons)
{
    auto table = planned_table(plan_attach(facts_of("6.18-host")));
    for (const auto& a : table) {
        if (a.target != "migrate_pages") continue;
        EXPECT_EQ(a.mode(), "missing");
        EXPECT_THAT(a.detail, HasSubstr("EPERM")) << a.detail;
        EXPECT_THAT(a.detail, HasSubstr("CONFIG_KPROBES off")) << a.detail;
        EXPECT_FALSE(a.hides.empty());
    }
}

TEST(AttachPlan, WithoutCmaTheCmaTracepointsAreAbsentAndSaySo)
{
    for (const auto& a : planned_table(plan_attach(facts_of("6.1"))))
        if (a.target.starts_with("cma:")) {
            EXPECT_THAT(a.detail, HasSubstr("CONFIG_CMA off")) << a.target;
        }
}

// ---- the skeleton and the specs ----

// Every program a spec names, in any variant.
std::vector<ProgramRef> programs_of(const AttachSpec& spec)
{
    std::vector<ProgramRef> refs;
    if (spec.tracepoint) refs.push_back(spec.tracepoint);
    for (const auto* variants : {&spec.trampolines, &spec.kprobes})
        for (const auto& v : *variants)
            for (ProgramRef r : {v.entry, v.exit})
                if (r) refs.push_back(r);
    return refs;
}

TEST(AttachSpecs, EveryCaptureProgramIsNamedByExactlyOneSpec)
{
    Skeleton s;
    ASSERT_TRUE(s.skel);
    std::map<const bpf_program*, int> named;
    for (const auto& spec : attach_specs()) {
        for (ProgramRef r : programs_of(spec)) ++named[s.skel->progs.*r];
    }
    for (ProgramRef r : kRunByUserSpace) ++named[s.skel->progs.*r];
    bpf_program* prog;
    int programs = 0;
    bpf_object__for_each_program(prog, s.skel->obj)
    {
        ++programs;
        EXPECT_EQ(named[prog], 1) << bpf_program__name(prog) << " is named by " << named[prog] << " specs";
    }
    EXPECT_EQ(named.size(), static_cast<size_t>(programs));
}

// A spec's target comes from its hook's row in bpf/pintrace.h; its
// programs' sections name the same function or tracepoint, so a typo in
// either shows here, not as a missing attach point on some kernel.
TEST(AttachSpecs, EveryProgramAttachesWhereItsHookRowSays)
{
    Skeleton s;
    ASSERT_TRUE(s.skel);
    std::set<uint16_t> hooks;
    for (const auto& spec : attach_specs()) {
        std::string target = spec.target();
        EXPECT_NE(target, "unknown") << "hook " << spec.hook << " has no PT_HOOKS row";
        EXPECT_TRUE(hooks.insert(spec.hook).second) << target << ": two specs share hook " << spec.hook;
        for (ProgramRef r : programs_of(spec)) {
            std::string sec = bpf_program__section_name(s.skel->progs.*r);
            std::string where = sec.substr(sec.find('/') + 1);  // "try_grab_page", "cma/cma_alloc"
            if (sec.starts_with("tracepoint/")) where[where.find('/')] = ':';
            if (sec.starts_with("tp_btf/")) where = target.substr(0, target.find(':') + 1) + where;
            EXPECT_EQ(where, target) << bpf_program__name(s.skel->progs.*r) << " in " << sec;
        }
    }
}

// ---- a refused program ----

TEST(Refusal, ARefusedTracepointProgramTakesDownItsAttachPointAlone)
{
    Skeleton s;
    ASSERT_TRUE(s.skel);
    RecordedKernelFacts facts = facts_of("7.3");
    auto plan = plan_attach(facts);
    auto before = modes(planned_table(plan));
    ASSERT_TRUE(refuse_program(
        plan, s.skel.get(), s.skel->progs.tp_cma_alloc_start,
        "failed to resolve CO-RE relocation <byte_off> struct trace_event_raw_cma_alloc_start.count", facts));
    auto table = planned_table(plan);
    auto after = modes(table);
    EXPECT_EQ(after["cma:cma_alloc_start"], "refused");
    after.erase("cma:cma_alloc_start");
    before.erase("cma:cma_alloc_start");
    EXPECT_EQ(after, before);
    for (const auto& a : table) {
        if (a.target != "cma:cma_alloc_start") continue;
        EXPECT_FALSE(a.attached());
        EXPECT_THAT(a.detail, HasSubstr("tp_cma_alloc_start")) << a.detail;
        EXPECT_THAT(a.detail, HasSubstr("trace_event_raw_cma_alloc_start.count")) << a.detail;
        EXPECT_FALSE(a.hides.empty());
    }
    EXPECT_EQ(missing_attach_points(table), 1u);
}

TEST(Refusal, ARefusedTrampolineFallsBackToItsKprobes)
{
    Skeleton s;
    ASSERT_TRUE(s.skel);
    RecordedKernelFacts facts = facts_of("6.12");
    auto plan = plan_attach(facts);
    ASSERT_TRUE(
        refuse_program(plan, s.skel.get(), s.skel->progs.fexit_migrate_pages_7args, "R1 invalid mem access", facts));
    const PlannedAttach& p = planned(plan, "migrate_pages");
    EXPECT_EQ(p.kind, AttachKind::Kprobe);
    EXPECT_EQ(program_names(s.skel.get(), p),
              (std::vector<std::string>{"kprobe_migrate_pages", "kretprobe_migrate_pages"}));
    EXPECT_THAT(p.why, HasSubstr("R1 invalid mem access"));
    // Refused again, as a kprobe: nothing left to fall back to.
    ASSERT_TRUE(refuse_program(plan, s.skel.get(), s.skel->progs.kretprobe_migrate_pages, "again", facts));
    EXPECT_EQ(planned(plan, "migrate_pages").kind, AttachKind::Refused);
}

// 7.x: io_uring and direct I/O release through unpin_user_folio, where
// gup_put_folio is inlined. Its refused exit program (the one that ends the
// mark keeping gup_put_folio from reporting the release twice) moves that
// point to its kprobes and leaves every other release hook as it was.
TEST(Refusal, ARefusedUnpinHookTakesOnlyItselfDown)
{
    Skeleton s;
    ASSERT_TRUE(s.skel);
    RecordedKernelFacts facts = facts_of("7.3");
    auto plan = plan_attach(facts);
    auto before = modes(planned_table(plan));
    EXPECT_EQ(program_names(s.skel.get(), planned(plan, "unpin_user_folio")),
              (std::vector<std::string>{"fentry_unpin_user_folio", "fexit_unpin_user_folio"}));
    ASSERT_TRUE(
        refuse_program(plan, s.skel.get(), s.skel->progs.fexit_unpin_user_folio, "R1 invalid mem access", facts));
    EXPECT_EQ(program_names(s.skel.get(), planned(plan, "unpin_user_folio")),
              (std::vector<std::string>{"kprobe_unpin_user_folio", "kretprobe_unpin_user_folio"}));
    auto after = modes(planned_table(plan));
    EXPECT_EQ(after["unpin_user_folio"], "kprobe+kretprobe");
    after.erase("unpin_user_folio");
    before.erase("unpin_user_folio");
    EXPECT_EQ(after, before);
    ASSERT_TRUE(refuse_program(plan, s.skel.get(), s.skel->progs.kretprobe_unpin_user_folio, "again", facts));
    auto table = planned_table(plan);
    for (const auto& a : table) {
        if (a.target == "unpin_user_folio") {
            EXPECT_FALSE(a.attached());
            EXPECT_FALSE(a.hides.empty());
        }
        if (a.target == "gup_put_folio") {
            EXPECT_TRUE(a.attached());
            EXPECT_EQ(a.mode(), "fentry");
        }
    }
}

TEST(Refusal, AProgramThePlanDoesNotLoadIsNotTaken)
{
    Skeleton s;
    ASSERT_TRUE(s.skel);
    RecordedKernelFacts facts = facts_of("6.12");
    auto plan = plan_attach(facts);
    EXPECT_FALSE(refuse_program(plan, s.skel.get(), s.skel->progs.fexit_try_grab_page, "x", facts));
}

TEST(Refusal, TheVerifierLogLineThatSaysWhy)
{
    // libbpf rewrites the poisoned instruction's complaint into a diagnosis.
    EXPECT_EQ(
        refusal_line("0: R1=ctx() R10=fp0\n; int tp(void *ctx)\n1: (85) call unknown#195896080\n"
                     "failed to resolve CO-RE relocation <byte_off> [12] struct trace_event_raw_cma_alloc_start.count "
                     "(0:2 @ offset 16)\nprocessed 12 insns (limit 1000000) max_states_per_insn 0\n"),
        "failed to resolve CO-RE relocation <byte_off> [12] struct trace_event_raw_cma_alloc_start.count "
        "(0:2 @ offset 16)");
    EXPECT_EQ(refusal_line("0: R1=ctx() R10=fp0\n0: (bf) r0 = r2\nR2 !read_ok\nprocessed 1 insns (limit 1000000)\n"
                           "verification time 12 usec\nstack depth 0\n"),
              "R2 !read_ok");
    EXPECT_EQ(refusal_line(""), "no reason in the verifier log");
}

// ---- the facts file ----

TEST(KernelFactsFile, BadLinesAreNamed)
{
    auto bad = [](const char* text) {
        auto f = RecordedKernelFacts::parse(text);
        return f.ok() ? std::string() : f.error().message;
    };
    EXPECT_THAT(bad("release 6.1\nfunction f three int\n"), HasSubstr("line 2"));
    EXPECT_THAT(bad("release 6.1\nfunction f 3 float\n"), HasSubstr("line 2"));
    EXPECT_THAT(bad("release 6.1\nwhatever x\n"), HasSubstr("unknown fact"));
    EXPECT_THAT(bad("release 6.1\ntracepoint a:b maybe\n"), HasSubstr("line 2"));
    EXPECT_THAT(bad("release 6.1\ntrampoline fentry f refused\n"), HasSubstr("line 2"));
    EXPECT_THAT(bad("function f 3 int\n"), HasSubstr("no 'release' line"));
    EXPECT_EQ(bad("release 6.1\nkprobes ok\nfunction f 3 int\ntrampoline fexit f ok\n"), "");
}

TEST(KernelFactsFile, AQuestionTheFixtureNeverAnsweredIsRemembered)
{
    auto f = RecordedKernelFacts::parse("release 6.1\n");
    ASSERT_TRUE(f.ok());
    EXPECT_FALSE(f->signature("try_grab_page"));
    EXPECT_FALSE(f->tracepoint_exists("cma:cma_alloc"));
    EXPECT_EQ(f->unanswered(), (std::set<std::string>{"function try_grab_page", "tracepoint cma:cma_alloc"}));
}

}  // namespace
}  // namespace pintrace

namespace pintrace {
namespace {

// What a skeleton binds by name or offset: programs (name, section), maps
// (name, type, key and value sizes, entries) and the global variables of
// each data section (name, offset, size), as one comparable text.
std::string skeleton_layout(const pintrace_bpf* skel)
{
    std::ostringstream out;
    bpf_program* prog;
    bpf_object__for_each_program(prog, skel->obj)
    {
        out << "prog " << bpf_program__name(prog) << " " << bpf_program__section_name(prog) << "\n";
    }
    bpf_map* map;
    bpf_object__for_each_map(map, skel->obj)
    {
        out << "map " << bpf_map__name(map) << " " << bpf_map__type(map) << " " << bpf_map__key_size(map) << " "
            << bpf_map__value_size(map) << " " << bpf_map__max_entries(map) << "\n";
    }
    const btf* b = bpf_object__btf(skel->obj);
    for (uint32_t id = 1; b && id < btf__type_cnt(b); ++id) {
        const btf_type* t = btf__type_by_id(b, id);
        if (!btf_is_datasec(t)) continue;
        const btf_var_secinfo* v = btf_var_secinfos(t);
        for (uint16_t i = 0; i < btf_vlen(t); ++i, ++v)
            out << "var " << btf__name_by_offset(b, t->name_off) << " "
                << btf__name_by_offset(b, btf__type_by_id(b, v->type)->name_off) << " " << v->offset << " "
                << v->size << "\n";
    }
    return out.str();
}

// Kernels before 5.12 get the capture object compiled without atomics,
// opened through the full object's skeleton: everything the skeleton finds
// by name or offset must be the same in both, or its fields would point at
// the wrong program, map or variable.
TEST(CaptureObjects, TheObjectWithoutAtomicsHasTheFullObjectsLayout)
{
    CaptureSkel full = open_capture(CaptureObject::Full);
    CaptureSkel compat = open_capture(CaptureObject::WithoutAtomics);
    ASSERT_TRUE(full && compat);
    std::string layout = skeleton_layout(full.get());
    EXPECT_THAT(layout, HasSubstr("prog flush_parked raw_tp"));
    EXPECT_THAT(layout, HasSubstr("var .rodata pair_pins"));
    EXPECT_EQ(skeleton_layout(compat.get()), layout);
    // Not the same code: the compat object has no atomic instruction.
    auto atomics = [](const pintrace_bpf* skel) {
        size_t n = 0;
        bpf_program* prog;
        bpf_object__for_each_program(prog, skel->obj)
        {
            const bpf_insn* insn = bpf_program__insns(prog);
            for (size_t i = 0; i < bpf_program__insn_cnt(prog); ++i)
                n += BPF_CLASS(insn[i].code) == BPF_STX && BPF_MODE(insn[i].code) == BPF_ATOMIC && insn[i].imm != 0;
        }
        return n;
    };
    EXPECT_GT(atomics(full.get()), 0u);
    EXPECT_EQ(atomics(compat.get()), 0u);
}

}  // namespace
}  // namespace pintrace
