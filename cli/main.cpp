#include <bpf/libbpf.h>

#include <cstdio>
#include <functional>
#include <memory>
#include <string>

#include "commands.hpp"

namespace pintrace::cli {

int fail(const std::string& command, const std::string& message, ExitCode code)
{
    std::fprintf(stderr, "pintrace %s: %s\n", command.c_str(), message.c_str());
    return code;
}

namespace {

const Command kCommands[] = {
    {"record", "Record pins, releases and migration failures system-wide into a trace file", setup_record},
    {"report", "Explain the migration failures in a trace: which pages, held by whom, how, since when", setup_report},
    {"top", "Watch pins and migration failures live, full screen (or --batch; --replay FILE from a trace)", setup_top},
    {"doctor", "Check what pintrace can see on this kernel: privileges, BTF, and every attach point", setup_doctor},
    {"snapshot", "Read the live state of a pfn range: what would make migrating it fail, and who may hold those pages",
     setup_snapshot},
    {"explain", "One page's whole story: its state now, who may hold it now, and its recorded history (explain --pfn)",
     setup_explain},
    {"exit-codes", "List every command's exit codes (--markdown: the table in README.md)", setup_exit_codes},
};

}  // namespace

Runner setup_exit_codes(CLI::App& sub)
{
    auto markdown = std::make_shared<bool>(false);
    sub.add_flag("--markdown", *markdown, "As README.md's table");
    return [markdown] {
        if (*markdown) {
            std::fputs(exit_codes_markdown().c_str(), stdout);
            return int(kExitOk);
        }
        for (const auto& row : kExitCodes)
            std::printf("%d %-20s %-34s %s\n", int(row.code), std::string(row.name).c_str(),
                        std::string(row.commands).c_str(), std::string(row.meaning).c_str());
        return int(kExitOk);
    };
}

namespace {

// --version: what a bug report needs beyond the number (compare `bpftrace
// --info`, `perf version --build-options`).
std::string version_text()
{
#ifdef PINTRACE_STATIC_LINK
    const char* linked = "statically";
#else
    const char* linked = "dynamically";
#endif
    return std::string("pintrace ") + PINTRACE_VERSION + "\nlibbpf " + libbpf_version_string() + " (" + linked +
           " linked)\ncapture: BPF CO-RE, two objects (with BPF atomics; without, for 5.10), "
           "fentry/fexit, kprobe/kretprobe, tracepoints\n";
}

}  // namespace
}  // namespace pintrace::cli

int main(int argc, char** argv)
{
    using namespace pintrace;
    using namespace pintrace::cli;
    CLI::App app{"pintrace: who holds the pages Linux cannot migrate", "pintrace"};
    app.set_version_flag("--version", std::function<std::string()>(version_text));
    app.require_subcommand(1);
    std::string common;
    for (const auto& row : kExitCodes)
        if (row.commands == "all")
            common += (common.empty() ? "" : ", ") + std::to_string(int(row.code)) + " " + std::string(row.name);
    app.footer("Exit status: " + common +
               " for every command; the others in each command's --help, and all of "
               "them in `pintrace exit-codes`.");
    std::vector<std::pair<CLI::App*, Runner>> runners;
    for (const auto& c : kCommands) {
        CLI::App* sub = app.add_subcommand(c.name, c.summary);
        runners.emplace_back(sub, c.setup(*sub));
    }
    // No command: what the commands are, not just that one is missing.
    if (argc < 2) {
        std::fputs(app.help().c_str(), stderr);
        return kExitUsage;
    }
    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForAllHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForVersion& e) {
        return app.exit(e);
    } catch (const CLI::ParseError& e) {
        app.exit(e);
        return kExitUsage;
    }
    for (auto& [sub, run] : runners)
        if (sub->parsed()) return run();
    return kExitUsage;
}
