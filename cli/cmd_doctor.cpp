// pintrace doctor: what pintrace can and cannot see on this machine, and why.
// Each prerequisite is checked and reported even when an earlier one fails:
// diagnosing is the point.
#include <algorithm>
#include <cstdio>
#include <memory>

#include "capture/attach_plan.hpp"
#include "capture/kernel_facts.hpp"
#include "capture/kernel_info.hpp"
#include "capture/session.hpp"
#include "commands.hpp"
#include "render/attach_table.hpp"
#include "render/json_writer.hpp"

namespace pintrace::cli {
namespace {

struct Check {
    std::string name;
    bool ok;
    std::string detail;
};

struct DoctorArgs {
    std::string format = "text";
    bool kernel_facts = false;
};

// The facts the attach plan reads of this kernel, in the format of
// tests/unit/kernels/*.facts: how a new kernel's fixture is made.
int print_kernel_facts()
{
    if (std::string why = missing_privileges(); !why.empty()) {
        std::fprintf(stderr, "pintrace doctor: %s\n", why.c_str());
        return kExitNoPrivileges;
    }
    auto btf = load_kernel_btf();
    if (!btf) {
        std::fprintf(stderr, "pintrace doctor: %s\n", btf.error().message.c_str());
        return kExitError;
    }
    if (auto tracefs = ensure_tracefs(); !tracefs) {
        std::fprintf(stderr, "pintrace doctor: %s\n", tracefs.error().message.c_str());
        return kExitError;
    }
    LiveKernelFacts facts(btf.value().get());
    std::fputs(write_kernel_facts(facts, spec_functions(), spec_tracepoints()).c_str(), stdout);
    return kExitOk;
}

int run_doctor(const DoctorArgs& args)
{
    if (args.kernel_facts) return print_kernel_facts();
    std::vector<Check> checks;
    std::string release = "?";
    std::vector<AttachPoint> attach;

    std::string priv = missing_privileges();
    checks.push_back({"privileges", priv.empty(), priv.empty() ? "root or CAP_BPF+CAP_PERFMON" : priv});

    auto btf = load_kernel_btf();
    checks.push_back({"kernel BTF", btf.ok(), btf.ok() ? "/sys/kernel/btf/vmlinux" : btf.error().message});
    if (btf) {
        if (auto k = read_kernel_info(btf.value().get())) {
            release = k->release;
            checks.push_back({"FOLL_* layout", true, "from " + k->flags.source});
        }
    }

    bool can_load = priv.empty() && btf.ok();
    if (can_load) {
        auto session = CaptureSession::open(CaptureOptions{});
        checks.push_back(
            {"load and attach", session.ok(), session.ok() ? "capture programs loaded" : session.error().message});
        if (session) {
            attach = session.value()->info().attach;
            const auto& meta = session.value()->info().meta;
            if (auto it = meta.find("vmemmap_base"); it != meta.end())
                checks.push_back({"pfn calibration", true, "vmemmap base " + it->second});
            if (auto it = meta.find("note_tracefs"); it != meta.end()) checks.push_back({"tracefs", true, it->second});
        }
    } else {
        checks.push_back({"load and attach", false, "not attempted: fix the checks above first"});
    }

    bool all_ok = std::all_of(checks.begin(), checks.end(), [](const Check& c) { return c.ok; });
    size_t missing = missing_attach_points(attach);
    int code = !priv.empty()             ? kExitNoPrivileges :
               !all_ok || attach.empty() ? kExitError :
               missing                   ? kExitDegraded :
                                           kExitOk;

    if (args.format == "json") {
        JsonWriter j;
        j.begin_object().field("schema", "pintrace.doctor/1").field("kernel_release", release);
        j.key("checks").begin_array();
        for (const auto& c : checks)
            j.begin_object().field("name", c.name).field("ok", c.ok).field("detail", c.detail).end_object();
        j.end_array().key("attach").begin_array();
        for (const auto& a : attach) {
            j.begin_object().field("target", a.target).field("mode", a.mode());
            if (!a.attached() || a.state == AttachState::Absent) j.field("detail", a.detail);
            if (!a.attached()) j.field("hides", a.hides);
            j.end_object();
        }
        j.end_array().field("exit_code", code).end_object();
        std::printf("%s\n", j.str().c_str());
        return code;
    }

    std::printf("pintrace doctor — kernel %s\n\n", release.c_str());
    for (const auto& c : checks)
        std::printf("  %-16s %-4s %s\n", c.name.c_str(), c.ok ? "ok" : "FAIL", c.detail.c_str());
    if (!attach.empty()) std::printf("\nattach points:\n%s", render_attach_table(attach).c_str());
    if (code == kExitOk)
        std::printf("\nverdict: full coverage; reports can name every culprit pintrace knows how to see.\n");
    else if (code == kExitDegraded)
        std::printf("\nverdict: DEGRADED, %zu attach point(s) missing; reports say what they cannot see.\n", missing);
    else
        std::printf("\nverdict: pintrace cannot capture here; see the failed checks.\n");
    return code;
}

}  // namespace

Runner setup_doctor(CLI::App& sub)
{
    auto args = std::make_shared<DoctorArgs>();
    sub.add_option("--format", args->format, "text or json")
        ->check(CLI::IsMember({"text", "json"}))
        ->capture_default_str();
    sub.add_flag("--kernel-facts", args->kernel_facts,
                 "print what the attach plan reads of this kernel (signatures, trampolines, tracepoints), "
                 "as a fixture for the attach-plan tests");
    sub.footer(exit_codes_footer("doctor"));
    return [args] { return run_doctor(*args); };
}

}  // namespace pintrace::cli
