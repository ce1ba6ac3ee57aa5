// Unit tests for the per-minute ring behind the status page's charts
// (util/minute_history.hpp).
#include "util/minute_history.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace rcptguard {
namespace {

constexpr std::int64_t kT0 = 1'700'000'040;  // a whole minute

std::vector<std::uint64_t> last(const MinuteHistory::View& v, std::size_t series, std::size_t n) {
    const auto& c = v.counts[series];
    return std::vector<std::uint64_t>(c.end() - static_cast<std::ptrdiff_t>(n), c.end());
}

TEST(MinuteHistory, FirstSample_OnlyTheBaseline) {
    MinuteHistory h(2, 5);
    std::vector<std::uint64_t> totals = {100, 7};
    h.sample(kT0, totals);
    MinuteHistory::View v = h.view(kT0);
    EXPECT_EQ(v.newest_minute, kT0 / 60);
    EXPECT_EQ(v.counts[0], std::vector<std::uint64_t>(5, 0));
    EXPECT_EQ(v.counts[1], std::vector<std::uint64_t>(5, 0));
}

TEST(MinuteHistory, Growth_FiledUnderItsMinute_OldestFirst) {
    MinuteHistory h(2, 5);
    h.sample(kT0, std::vector<std::uint64_t>{0, 0});
    h.sample(kT0 + 10, std::vector<std::uint64_t>{3, 1});
    h.sample(kT0 + 50, std::vector<std::uint64_t>{5, 1});    // same minute: 5 in all
    h.sample(kT0 + 70, std::vector<std::uint64_t>{105, 1});  // next minute: a spike of 100
    MinuteHistory::View v = h.view(kT0 + 70);
    EXPECT_EQ(v.counts[0], (std::vector<std::uint64_t>{0, 0, 0, 5, 100}));
    EXPECT_EQ(v.counts[1], (std::vector<std::uint64_t>{0, 0, 0, 1, 0}));
}

TEST(MinuteHistory, QuietMinutes_ZeroIncludingThoseAfterTheLastSample) {
    MinuteHistory h(1, 5);
    h.sample(kT0, std::vector<std::uint64_t>{0});
    h.sample(kT0 + 1, std::vector<std::uint64_t>{4});
    h.sample(kT0 + 125, std::vector<std::uint64_t>{6});  // two minutes later
    EXPECT_EQ(h.view(kT0 + 125).counts[0], (std::vector<std::uint64_t>{0, 0, 4, 0, 2}));
    // Viewed a minute later without a sample: the columns move on.
    EXPECT_EQ(h.view(kT0 + 185).counts[0], (std::vector<std::uint64_t>{0, 4, 0, 2, 0}));
}

TEST(MinuteHistory, OlderThanTheRing_Dropped_MemoryFixed) {
    MinuteHistory h(1, 3);
    h.sample(kT0, std::vector<std::uint64_t>{0});
    std::uint64_t total = 0;
    for (int m = 0; m < 10; ++m) {
        total += static_cast<std::uint64_t>(m + 1);
        h.sample(kT0 + 60 * m + 5, std::vector<std::uint64_t>{total});
    }
    EXPECT_EQ(h.view(kT0 + 60 * 9 + 5).counts[0], (std::vector<std::uint64_t>{8, 9, 10}));
}

TEST(MinuteHistory, ClockStepsBack_CountedInTheNewestMinute) {
    MinuteHistory h(1, 3);
    h.sample(kT0 + 120, std::vector<std::uint64_t>{0});
    h.sample(kT0, std::vector<std::uint64_t>{7});
    EXPECT_EQ(h.view(kT0 + 120).counts[0], (std::vector<std::uint64_t>{0, 0, 7}));
}

TEST(MinuteHistory, ClockJumpsFarAhead_RingEmptied) {
    MinuteHistory h(1, 3);
    h.sample(kT0, std::vector<std::uint64_t>{0});
    h.sample(kT0 + 1, std::vector<std::uint64_t>{9});
    h.sample(kT0 + 86400, std::vector<std::uint64_t>{10});
    EXPECT_EQ(h.view(kT0 + 86400).counts[0], (std::vector<std::uint64_t>{0, 0, 1}));
}

TEST(MinuteHistory, CounterReset_GrowthFromZero) {
    MinuteHistory h(1, 2);
    h.sample(kT0, std::vector<std::uint64_t>{50});
    h.sample(kT0 + 1, std::vector<std::uint64_t>{3});
    EXPECT_EQ(last(h.view(kT0 + 1), 0, 1), std::vector<std::uint64_t>{3});
}

}  // namespace
}  // namespace rcptguard
