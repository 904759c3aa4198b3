// Every exit status pintrace returns, for every command, as one table: the
// commands return these by name, their --help footers, `pintrace
// exit-codes` and README.md's table are generated from (or tested against)
// it, so a runbook reading the README reads what the code does.
#pragma once

#include <array>
#include <string>
#include <string_view>

namespace pintrace {

// A value may mean different things to different commands (5 is report's
// "inferred" and doctor's "degraded", as they were first documented); no
// two rows of one command share a value (tested).
enum ExitCode : int {
    kExitOk = 0,
    kExitError = 1,
    kExitUsage = 2,
    kExitFailuresExplained = 3,  // report
    kExitBlocked = 3,  // snapshot, explain
    kExitFailuresUnexplained = 4,
    // Every stuck page has a holder, but some only as the snapshot at the
    // start inferred it (pinned before the trace): not certain.
    kExitFailuresInferred = 5,
    kExitDegraded = 5,  // doctor
    kExitNoPrivileges = 6,
    kExitCommandNotStarted = 7,  // record -- COMMAND
    kExitCommandFailed = 8,  // record -- COMMAND
};

struct ExitCodeRow {
    ExitCode code;
    std::string_view name;  // stable, for runbooks and JSON
    std::string_view commands;  // "all", or the commands, comma-separated
    std::string_view meaning;
};

inline constexpr std::array kExitCodes{
    ExitCodeRow{kExitOk, "ok", "all",
                "nothing to flag: report: no (selected) migration failed; snapshot, explain: nothing seen "
                "would block migration; doctor: full coverage; record: recorded (and COMMAND, if any, exited 0)"},
    ExitCodeRow{kExitError, "error", "all",
                "an unreadable, corrupt or unclosed trace (report --allow-incomplete reads an unclosed one), "
                "the kernel refused the capture, an I/O error; record: the trace file could not be written "
                "(disk full), and it keeps what was written, closed where it could be; doctor: pintrace cannot "
                "capture here"},
    ExitCodeRow{kExitUsage, "usage", "all",
                "an unknown option or value (the message names the valid ones), a number out of range, a "
                "range that does not exist"},
    ExitCodeRow{kExitFailuresExplained, "failures_explained", "report", "failures, and every stuck page has a culprit"},
    ExitCodeRow{kExitBlocked, "blocked", "snapshot,explain",
                "something seen would block migrating the pages (or a process likely pins them)"},
    ExitCodeRow{kExitFailuresUnexplained, "failures_unexplained", "report",
                "failures with pages nothing in the trace explains (or pages the kernel did not show)"},
    ExitCodeRow{kExitFailuresInferred, "failures_inferred", "report",
                "every stuck page has a holder, but some only inferred by the snapshot of record --snapshot "
                "(likely, not certain)"},
    ExitCodeRow{kExitDegraded, "degraded", "doctor", "capture works, but some attach points are missing"},
    ExitCodeRow{kExitNoPrivileges, "no_privileges", "record,top,snapshot,explain,doctor",
                "capture needs root or CAP_BPF and CAP_PERFMON, page state needs root "
                "(/proc/kpageflags); top --replay and report need none"},
    ExitCodeRow{kExitCommandNotStarted, "command_not_started", "record",
                "COMMAND could not be started (not found, not executable); the trace is still complete"},
    ExitCodeRow{kExitCommandFailed, "command_failed", "record",
                "COMMAND exited non-zero or was killed; its status is printed (command_status=N) and stored in "
                "the trace"},
};

inline bool exit_code_applies(const ExitCodeRow& row, std::string_view command)
{
    if (row.commands == "all") return true;
    std::string_view list = row.commands;
    while (!list.empty()) {
        size_t comma = list.find(',');
        if (list.substr(0, comma) == command) return true;
        list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
    }
    return false;
}

// The --help footer of one command: "Exit status: 0 ok: ...; 1 error: ...".
inline std::string exit_codes_footer(std::string_view command)
{
    std::string s = "Exit status (pintrace exit-codes lists every command's):";
    for (const auto& row : kExitCodes)
        if (exit_code_applies(row, command))
            s += "\n  " + std::to_string(int(row.code)) + " " + std::string(row.name) + ": " + std::string(row.meaning);
    return s;
}

// README.md's table, row for row.
inline std::string exit_codes_markdown()
{
    std::string s = "| code | name | commands | meaning |\n|---|---|---|---|\n";
    for (const auto& row : kExitCodes)
        s += "| " + std::to_string(int(row.code)) + " | `" + std::string(row.name) + "` | " +
             std::string(row.commands) + " | " + std::string(row.meaning) + " |\n";
    return s;
}

}  // namespace pintrace
