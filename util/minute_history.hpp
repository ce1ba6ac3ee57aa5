// minute_history: how much a few cumulative counters grew in each minute of
// the last hour (or of any number of minutes), for the status page's charts.
//
// The counters themselves live elsewhere (util/metrics) and only grow; this
// class is handed their current totals now and then (sample(), about once a
// second) and files the growth since the previous sample under the current
// minute. Memory is fixed: minutes x series numbers in a ring, whatever the
// traffic and however long the daemon runs.
//
// Time is wall-clock Unix seconds, so the minutes line up with the clock on
// the admin's wall (and the log). A clock that steps back is treated as
// "still the newest minute"; one that jumps far ahead empties the ring.
// A total smaller than the previous one (a counter that was reset) counts as
// growth from zero.
// Thread-safety: every member may be called from any thread (one mutex,
// held for a few hundred additions at most).
#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <span>
#include <vector>

namespace rcptguard {

class MinuteHistory {
public:
    MinuteHistory(std::size_t series, std::size_t minutes = 60);

    // totals[i] is the cumulative value of series i now. The first sample
    // only sets the baseline.
    void sample(std::int64_t unix_seconds, std::span<const std::uint64_t> totals);

    struct View {
        std::int64_t newest_minute = 0;  // Unix time / 60 of the last column (the current, unfinished minute)
        // counts[series][i], oldest minute first; minutes() columns, the last
        // one being newest_minute. Minutes before the first sample are 0.
        std::vector<std::vector<std::uint64_t>> counts;
    };
    // The ring as of unix_seconds: minutes that passed without a sample are 0.
    View view(std::int64_t unix_seconds) const;

    std::size_t series() const { return series_; }
    std::size_t minutes() const { return minutes_; }

private:
    void advance_to(std::int64_t minute);  // mutex held

    const std::size_t series_;
    const std::size_t minutes_;
    mutable std::mutex mutex_;
    std::vector<std::uint64_t> ring_;  // minutes_ rows of series_ counts; row = minute % minutes_
    std::vector<std::uint64_t> last_totals_;
    std::int64_t newest_minute_ = -1;  // -1: no sample yet
};

}  // namespace rcptguard
