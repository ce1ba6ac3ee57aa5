// clock: see clock.hpp.
#include "util/clock.hpp"

namespace rcptguard {

Millis SteadyClock::now() const {
    return std::chrono::duration_cast<Millis>(std::chrono::steady_clock::now().time_since_epoch());
}

bool InterruptibleSleeper::sleep_for(Millis d) {
    std::unique_lock<std::mutex> lock(mutex_);
    return !cv_.wait_for(lock, d, [this] { return stopped_; });
}

void InterruptibleSleeper::stop() {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        stopped_ = true;
    }
    cv_.notify_all();
}

}  // namespace rcptguard
