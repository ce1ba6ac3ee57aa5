// fake_clock: a Clock that only moves when told to, and a Sleeper that
// "sleeps" by moving that clock and recording the request - tarpit tests run
// without real waiting.
#pragma once

#include <atomic>
#include <mutex>
#include <vector>

#include "util/clock.hpp"

namespace rcptguard::testing {

class FakeClock final : public Clock {
public:
    Millis now() const override { return Millis(now_ms_.load()); }
    void advance(Millis d) { now_ms_ += d.count(); }

private:
    std::atomic<long long> now_ms_{1'000'000};
};

class FakeSleeper final : public Sleeper {
public:
    explicit FakeSleeper(FakeClock& clock) : clock_(clock) {}
    bool sleep_for(Millis d) override {
        {
            std::lock_guard<std::mutex> l(m_);
            sleeps_.push_back(d);
        }
        clock_.advance(d);
        return true;
    }
    std::vector<Millis> sleeps() const {
        std::lock_guard<std::mutex> l(m_);
        return sleeps_;
    }

private:
    FakeClock& clock_;
    mutable std::mutex m_;
    std::vector<Millis> sleeps_;
};

}  // namespace rcptguard::testing
