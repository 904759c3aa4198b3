// The subcommand table: each entry adds its options to a CLI11 subcommand
// and returns what runs it. main.cpp dispatches; nothing else knows the list.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <memory>
#include <string>

#include "util/exit_codes.hpp"
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
Runner setup_exit_codes(CLI::App& sub);

// snapshot and explain --source: auto, bpf or proc. fallback_note says why
// auto fell back to /proc.
Result<std::unique_ptr<snapshot::BpfRefcounts>> open_page_source(const std::string& source, std::string& fallback_note);

// Why this process may not read page state (/proc/kpageflags needs
// CAP_SYS_ADMIN), or "" when it may: snapshot and explain check it first,
// so a missing privilege is not mistaken for a range that does not exist.
std::string page_state_denied();

// Counts and ids are decimal, within [min, max]: CLI11 alone also reads
// 0x10 and 0b11, and wraps "-1" into an unsigned.
inline CLI::Validator decimal_in(uint64_t min, uint64_t max)
{
    return CLI::Validator(
        [min, max](std::string& text) -> std::string {
            std::string range = "a decimal number from " + std::to_string(min) + " to " + std::to_string(max);
            if (text.empty() || text.size() > 20 || text.find_first_not_of("0123456789") != std::string::npos)
                return "'" + text + "' is not " + range;
            uint64_t v = 0;
            for (char c : text)
                if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, uint64_t(c - '0'), &v))
                    return "'" + text + "' is not " + range;
            if (v < min || v > max) return "'" + text + "' is not " + range;
            return "";
        },
        "N");
}

// One-line error, prefixed with the subcommand: "pintrace report: x.pt: truncated ...".
int fail(const std::string& command, const std::string& message, ExitCode code = kExitError);

}  // namespace pintrace::cli
