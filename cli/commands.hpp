// The subcommand table: each entry adds its options to a CLI11 subcommand
// and returns what runs it. main.cpp dispatches; nothing else knows the list.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <string>

namespace pintrace::cli {

using Runner = std::function<int()>;

struct Command {
    const char* name;
    const char* summary;
    Runner (*setup)(CLI::App& sub);
};

Runner setup_record(CLI::App& sub);
Runner setup_report(CLI::App& sub);
Runner setup_doctor(CLI::App& sub);
Runner setup_top(CLI::App& sub);
Runner setup_snapshot(CLI::App& sub);
Runner setup_explain(CLI::App& sub);

// One-line error, prefixed with the subcommand: "pintrace report: x.pt: truncated ...".
int fail(const std::string& command, const std::string& message, int code = 1);

}  // namespace pintrace::cli
