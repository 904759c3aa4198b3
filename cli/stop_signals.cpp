#include "stop_signals.hpp"

#include <signal.h>

namespace pintrace::cli {

std::atomic<int> g_stop_signal{0};

namespace {

void on_signal(int sig) { g_stop_signal.store(sig); }

}  // namespace

void install_stop_signals()
{
    struct sigaction sa {};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);
    sigaction(SIGHUP, &sa, nullptr);
}

}  // namespace pintrace::cli
