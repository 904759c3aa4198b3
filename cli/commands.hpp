// The subcommand table: each entry adds its options to a CLI11 subcommand
// and returns what runs it. main.cpp dispatches; nothing else knows the list.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <memory>
#include <string>

#include "util/result.hpp"

namespace pintrace::snapshot {
class BpfRefcounts;
}

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

// snapshot and explain --source: auto, bpf or proc. fallback_note says why
// auto fell back to /proc.
Result<std::unique_ptr<snapshot::BpfRefcounts>> open_page_source(const std::string& source,
                                                                 std::string& fallback_note);

// One-line error, prefixed with the subcommand: "pintrace report: x.pt: truncated ...".
int fail(const std::string& command, const std::string& message, int code = 1);

}  // namespace pintrace::cli
