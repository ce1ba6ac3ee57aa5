// listener: see listener.hpp.
#include "milter/listener.hpp"

#include <libmilter/mfapi.h>
#include <pthread.h>
#include <signal.h>

#include <condition_variable>
#include <mutex>
#include <thread>

namespace rcptguard {

namespace {

// Interrupts the listener's poll() (EINTR makes it re-check the stop flag).
// SA_RESTART: a stray SIGUSR2 restarts any other interrupted call; poll() is
// never restarted (signal(7)).
constexpr int kWakeSignal = SIGUSR2;
// libmilter answers within MI_CHK_TIME even unwoken; past twice that, leave.
constexpr std::chrono::seconds kStopLimit{10};
constexpr std::chrono::milliseconds kWakeEvery{20};

extern "C" void on_wake_signal(int) {}

}  // namespace

ListenerStop run_listener(const std::function<void(int)>& on_stop) {
    struct sigaction sa = {};
    sa.sa_handler = on_wake_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(kWakeSignal, &sa, nullptr);

    struct Shared {
        std::mutex mutex;
        std::condition_variable cv;
        bool done = false;
        int result = MI_SUCCESS;
    };
    // Shared with threads that may outlive this call when libmilter hangs.
    auto shared = std::make_shared<Shared>();
    pthread_t main_thread = pthread_self();
    std::thread listener([shared, main_thread] {
        int r = smfi_main();
        {
            std::lock_guard<std::mutex> lock(shared->mutex);
            shared->done = true;
            shared->result = r;
        }
        shared->cv.notify_all();
        // Wakes the sigwait() below when libmilter stopped by itself.
        pthread_kill(main_thread, SIGTERM);
    });

    // doc/platform.md §1.3: a process-directed signal goes to the main thread
    // when it waits for it, so libmilter's own signal thread never sees it.
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    for (int s : {SIGHUP, SIGTERM, SIGINT}) sigaddset(&stop_signals, s);
    int sig = 0;
    while (sigwait(&stop_signals, &sig) != 0) {}

    ListenerStop out;
    auto t0 = std::chrono::steady_clock::now();
    std::unique_lock<std::mutex> lock(shared->mutex);
    if (!shared->done) {
        out.signal = sig;
        lock.unlock();
        if (on_stop) on_stop(sig);
        // smfi_stop() sets libmilter's stop flag, then waits for the
        // listener's lock to close the socket: on a thread of its own, while
        // this one keeps interrupting the listener's poll().
        std::thread([] { smfi_stop(); }).detach();
        lock.lock();
        while (!shared->done && std::chrono::steady_clock::now() - t0 < kStopLimit) {
            pthread_kill(listener.native_handle(), kWakeSignal);
            shared->cv.wait_for(lock, kWakeEvery);
        }
    }
    out.failed = shared->result != MI_SUCCESS;
    out.timed_out = !shared->done;
    out.stop_time = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0);
    lock.unlock();
    if (out.timed_out)
        listener.detach();
    else
        listener.join();
    return out;
}

}  // namespace rcptguard
