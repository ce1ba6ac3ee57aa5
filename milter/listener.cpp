// listener: see listener.hpp.
#include "milter/listener.hpp"

#include <libmilter/mfapi.h>
#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <thread>

namespace rcptguard {

ListenerStop run_listener() {
    // The listener thread outlives this call when a signal ends it: what it
    // shares with this one is static.
    static std::atomic<bool> returned{false};
    static std::atomic<int> result{MI_SUCCESS};
    pthread_t main_thread = pthread_self();
    std::thread([main_thread] {
        result.store(smfi_main());
        returned.store(true);
        // Wakes the sigwait() below when libmilter stopped by itself.
        pthread_kill(main_thread, SIGTERM);
    }).detach();

    // doc/platform.md §1.2: a process-directed signal goes to the main thread
    // when it waits for it, so libmilter's own signal thread never sees it.
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    for (int s : {SIGHUP, SIGTERM, SIGINT}) sigaddset(&stop_signals, s);
    int sig = 0;
    while (sigwait(&stop_signals, &sig) != 0) {}

    ListenerStop out;
    if (returned.load())
        out.failed = result.load() != MI_SUCCESS;
    else
        out.signal = sig;
    return out;
}

}  // namespace rcptguard
