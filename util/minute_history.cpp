// minute_history: see minute_history.hpp.
#include "util/minute_history.hpp"

#include <algorithm>

namespace rcptguard {

namespace {

std::int64_t minute_of(std::int64_t unix_seconds) {
    return unix_seconds >= 0 ? unix_seconds / 60 : (unix_seconds - 59) / 60;
}

}  // namespace

MinuteHistory::MinuteHistory(std::size_t series, std::size_t minutes)
    : series_(series),
      minutes_(std::max<std::size_t>(minutes, 1)),
      ring_(series_ * minutes_, 0),
      last_totals_(series_, 0) {}

void MinuteHistory::advance_to(std::int64_t minute) {
    if (minute <= newest_minute_) return;
    // Every minute skipped since the newest one starts empty (all of them
    // after a jump longer than the ring).
    std::int64_t steps = std::min<std::int64_t>(minute - newest_minute_, static_cast<std::int64_t>(minutes_));
    for (std::int64_t m = minute - steps + 1; m <= minute; ++m) {
        std::size_t row = static_cast<std::size_t>(m % static_cast<std::int64_t>(minutes_));
        std::fill_n(ring_.begin() + static_cast<std::ptrdiff_t>(row * series_), series_, 0);
    }
    newest_minute_ = minute;
}

void MinuteHistory::sample(std::int64_t unix_seconds, std::span<const std::uint64_t> totals) {
    std::lock_guard<std::mutex> lock(mutex_);
    std::int64_t minute = std::max<std::int64_t>(minute_of(unix_seconds), 0);
    std::size_t n = std::min(totals.size(), series_);
    if (newest_minute_ < 0) {
        std::copy_n(totals.begin(), n, last_totals_.begin());
        newest_minute_ = minute - 1;
        advance_to(minute);
        return;
    }
    advance_to(minute);
    std::size_t row = static_cast<std::size_t>(newest_minute_ % static_cast<std::int64_t>(minutes_));
    for (std::size_t i = 0; i < n; ++i) {
        std::uint64_t grown = totals[i] >= last_totals_[i] ? totals[i] - last_totals_[i] : totals[i];
        ring_[row * series_ + i] += grown;
        last_totals_[i] = totals[i];
    }
}

MinuteHistory::View MinuteHistory::view(std::int64_t unix_seconds) const {
    std::lock_guard<std::mutex> lock(mutex_);
    View v;
    v.newest_minute = std::max<std::int64_t>(minute_of(unix_seconds), newest_minute_);
    v.counts.assign(series_, std::vector<std::uint64_t>(minutes_, 0));
    if (newest_minute_ < 0) return v;
    for (std::size_t col = 0; col < minutes_; ++col) {
        std::int64_t m = v.newest_minute - static_cast<std::int64_t>(minutes_ - 1 - col);
        // Only minutes the ring still holds: not older than the ring, not
        // newer than the last sample.
        if (m > newest_minute_ || m <= newest_minute_ - static_cast<std::int64_t>(minutes_) || m < 0) continue;
        std::size_t row = static_cast<std::size_t>(m % static_cast<std::int64_t>(minutes_));
        for (std::size_t s = 0; s < series_; ++s) v.counts[s][col] = ring_[row * series_ + s];
    }
    return v;
}

}  // namespace rcptguard
