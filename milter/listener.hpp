// listener: runs libmilter's smfi_main() and stops it promptly on SIGTERM,
// SIGHUP or SIGINT.
//
// Left to itself, libmilter notices a stop request only when its listener's
// poll() times out, every MI_CHK_TIME (5 s): meanwhile the MTA defers all
// mail. Here smfi_main() runs on a thread of its own while the main thread
// waits for the stop signals; on one, rcptguard calls smfi_stop() and
// interrupts the listener's poll() with a thread-directed no-op signal until
// smfi_main() returns, typically within milliseconds (doc/platform.md §1.3).
//
// Thread-safety: call once, from the main thread, after smfi_register(),
// smfi_setconn() and smfi_opensocket(), with SIGHUP, SIGTERM and SIGINT
// blocked in every thread (main() blocks them before any thread exists).
#pragma once

#include <chrono>
#include <functional>

namespace rcptguard {

struct ListenerStop {
    bool failed = false;                     // smfi_main() reported a failure
    int signal = 0;                          // the stop signal received; 0: libmilter stopped on its own
    std::chrono::milliseconds stop_time{0};  // from the signal until smfi_main() returned
    bool timed_out = false;                  // libmilter did not return in time; the caller leaves anyway
};

// Runs smfi_main() until a stop signal or a libmilter failure. on_stop(sig)
// runs first thing after a stop signal (e.g. to wake tarpit waits).
ListenerStop run_listener(const std::function<void(int)>& on_stop);

}  // namespace rcptguard
