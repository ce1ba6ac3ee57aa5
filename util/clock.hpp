// clock: time and waiting behind interfaces, so the tarpit and the cache can be
// unit-tested with an injected clock and a sleeper that does not sleep.
// SteadyClock/InterruptibleSleeper are the real ones: a tarpit wait is a
// condition-variable wait that stop() interrupts at once (shutdown never waits
// for sleeping connections).
// Thread-safety: all members may be called from any thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>

namespace rcptguard {

using Millis = std::chrono::milliseconds;

class Clock {
public:
    virtual ~Clock() = default;
    // Monotonic time in milliseconds since an arbitrary epoch.
    virtual Millis now() const = 0;
};

class Sleeper {
public:
    virtual ~Sleeper() = default;
    // Waits for d; returns false if interrupted (shutdown) before d elapsed.
    virtual bool sleep_for(Millis d) = 0;
};

class SteadyClock final : public Clock {
public:
    Millis now() const override;
};

class InterruptibleSleeper final : public Sleeper {
public:
    bool sleep_for(Millis d) override;
    void stop();  // wakes every sleeper; later sleeps return at once

private:
    std::mutex mutex_;
    std::condition_variable cv_;
    bool stopped_ = false;
};

}  // namespace rcptguard
