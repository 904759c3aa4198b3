// SIGINT, SIGTERM and SIGHUP stop a capture (record, top) cleanly: the
// handler only notes the signal, and the drain loop sees it and finishes the
// file or the screen.
#pragma once

#include <atomic>

namespace pintrace::cli {

// The last stop signal received, 0 before any.
extern std::atomic<int> g_stop_signal;

// Installs the handler without SA_RESTART, so a signal cuts a poll short.
void install_stop_signals();

}  // namespace pintrace::cli
