#include <cstdio>
#include <string>

#include "commands.hpp"

namespace pintrace::cli {

int fail(const std::string& command, const std::string& message, int code)
{
    std::fprintf(stderr, "pintrace %s: %s\n", command.c_str(), message.c_str());
    return code;
}

namespace {

const Command kCommands[] = {
    {"record", "Record pins, releases and migration failures system-wide into a trace file", setup_record},
    {"report", "Explain the migration failures in a trace: which pages, held by whom, how, since when",
     setup_report},
    {"top", "Watch pins and migration failures live, full screen (or --batch; --replay FILE from a trace)",
     setup_top},
    {"doctor", "Check what pintrace can see on this kernel: privileges, BTF, and every attach point", setup_doctor},
    {"snapshot", "Read the live state of a pfn range: what would make migrating it fail, and who may hold those pages",
     setup_snapshot},
    {"explain", "One page's whole story: its state now, who may hold it now, and its recorded history (explain --pfn)",
     setup_explain},
};

}  // namespace
}  // namespace pintrace::cli

int main(int argc, char** argv)
{
    using namespace pintrace::cli;
    CLI::App app{"pintrace: who holds the pages Linux cannot migrate"};
    app.set_version_flag("--version", PINTRACE_VERSION);
    app.require_subcommand(1);
    std::vector<std::pair<CLI::App*, Runner>> runners;
    for (const auto& c : kCommands) {
        CLI::App* sub = app.add_subcommand(c.name, c.summary);
        runners.emplace_back(sub, c.setup(*sub));
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
        return 2;
    }
    for (auto& [sub, run] : runners)
        if (sub->parsed()) return run();
    return 2;
}
