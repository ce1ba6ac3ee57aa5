// listener: runs libmilter's smfi_main() on a thread of its own and returns
// as soon as a stop signal (SIGTERM, SIGHUP, SIGINT) arrives or libmilter
// stops by itself.
//
// On a stop signal libmilter is deliberately left running: the caller
// finishes its own shutdown within milliseconds and leaves with _exit(),
// and the kernel closes the listening socket and every session. Asking
// libmilter to stop (smfi_stop()) would gain nothing and cost two things:
// its listener notices the request only when its poll() times out, every
// MI_CHK_TIME (5 s), and its worker pool's controller, on noticing it,
// destroys the mutex the pool's worker threads still lock
// (doc/platform.md §1.3).
//
// Thread-safety: call once, from the main thread, after smfi_register(),
// smfi_setconn() and smfi_opensocket(), with SIGHUP, SIGTERM and SIGINT
// blocked in every thread (main() blocks them before any thread exists).
#pragma once

namespace rcptguard {

struct ListenerStop {
    int signal = 0;       // the stop signal received; 0: libmilter stopped on its own
    bool failed = false;  // libmilter stopped on its own and smfi_main() reported a failure
};

// Runs smfi_main() until a stop signal or until it returns by itself.
ListenerStop run_listener();

}  // namespace rcptguard
