// Unit tests for the harvest defence's shared memory (SharedClientState)
// with a fake store behind the SharedStore interface and a fake clock: two
// hosts counting into one store, the cost contract (no round trip for what is
// already known, the two-second cache), the circuit breaker (one outage, the
// local state at once, the retry, the way back), unban everywhere, and many
// threads against a store that fails now and then.
#include "core/tarpit/shared_client_state.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "tests/fakes/fake_clock.hpp"
#include "tests/fakes/fake_shared_store.hpp"

namespace rcptguard {
namespace {

using testing::FakeClock;
using testing::FakeSharedStore;

BanSettings bans(unsigned threshold = 8) {
    BanSettings b;
    b.ban_threshold = threshold;
    b.window = Millis(600000);
    b.ban_time = Millis(3600000);
    return b;
}

// One MX host: its own table and metrics, the shared store.
struct Host {
    Host(FakeSharedStore& store, FakeClock& clock, const std::string& name)
        : local(LocalStateOptions{1000, name, "", nullptr}, clock),
          state(store, local, clock, &metrics, SharedStateOptions{name, Millis(10000), Millis(2000), 1000}) {}
    Metrics metrics;
    LocalClientState local;
    SharedClientState state;
};

class SharedState : public ::testing::Test {
protected:
    FakeClock clock_;
    FakeSharedStore store_{clock_};
    Host mx1_{store_, clock_, "mx1"};
    Host mx2_{store_, clock_, "mx2"};
};

TEST_F(SharedState, TwoHosts_BanAtCombinedThreshold_SeenByTheOther) {
    const std::string k = "192.0.2.7";
    for (int i = 0; i < 5; ++i) EXPECT_FALSE(mx1_.state.add_bad(k, 1, bans()).banned);
    ClientStatus st = mx2_.state.add_bad(k, 1, bans());
    EXPECT_EQ(st.bad_in_window, 6u);
    EXPECT_TRUE(st.shared);
    mx2_.state.add_bad(k, 1, bans());
    st = mx2_.state.add_bad(k, 1, bans());
    EXPECT_TRUE(st.newly_banned);
    EXPECT_TRUE(st.banned);
    EXPECT_EQ(st.bad_in_window, 8u);
    // Neither host's own table banned anyone: while the store answers, it decides.
    EXPECT_FALSE(mx1_.local.local_table().status(k, bans()).banned);
    EXPECT_EQ(mx1_.local.local_table().status(k, bans()).bad_in_window, 5u);
    EXPECT_FALSE(mx2_.local.local_table().status(k, bans()).banned);
    // MX 1 asked about this client less than two seconds ago (its last count):
    // the cache answers; after that, the store, with the ban.
    EXPECT_FALSE(mx1_.state.connection_status(k, bans()).banned);
    clock_.advance(Millis(2000));
    st = mx1_.state.connection_status(k, bans());
    EXPECT_TRUE(st.banned);
    EXPECT_FALSE(st.newly_banned);
    EXPECT_LE(st.ban_left, Millis(3600000));
    EXPECT_TRUE(mx1_.state.known_status(k, bans()).banned);
}

TEST_F(SharedState, ValidRecipients_NoRoundTrip_ConnectionCheckCached) {
    const std::string k = "192.0.2.8";
    mx1_.state.connection_status(k, bans());
    int after_first = store_.calls();
    EXPECT_EQ(after_first, 1);
    for (int i = 0; i < 100; ++i) EXPECT_FALSE(mx1_.state.known_status(k, bans()).banned);
    EXPECT_EQ(store_.calls(), after_first);
    // New connections within two seconds: from the cache.
    clock_.advance(Millis(1999));
    mx1_.state.connection_status(k, bans());
    EXPECT_EQ(store_.calls(), after_first);
    EXPECT_EQ(mx1_.metrics.shared_state_cached.load(), 1u);
    clock_.advance(Millis(1));
    mx1_.state.connection_status(k, bans());
    EXPECT_EQ(store_.calls(), after_first + 1);
    // One round trip per bad recipient, no more.
    mx1_.state.add_bad(k, 1, bans());
    EXPECT_EQ(store_.calls(), after_first + 2);
    // A client without an address is never asked about.
    mx1_.state.connection_status("", bans());
    mx1_.state.add_bad("", 1, bans());
    EXPECT_EQ(store_.calls(), after_first + 2);
}

TEST_F(SharedState, CachedBan_RunsOutWhileCached) {
    const std::string k = "192.0.2.9";
    BanSettings b = bans(1);
    b.ban_time = Millis(1500);
    EXPECT_TRUE(mx1_.state.add_bad(k, 1, b).banned);
    clock_.advance(Millis(1000));
    EXPECT_TRUE(mx1_.state.known_status(k, b).banned);
    EXPECT_EQ(mx1_.state.known_status(k, b).ban_left, Millis(500));
    clock_.advance(Millis(600));
    EXPECT_FALSE(mx1_.state.known_status(k, b).banned);
}

struct Failure {
    const char* what;
};

class StoreFails : public ::testing::TestWithParam<Failure> {
protected:
    FakeClock clock_;
    FakeSharedStore store_{clock_};
    Host mx1_{store_, clock_, "mx1"};
};

TEST_P(StoreFails, OneOutage_LocalStateAtOnce_NoCallsUntilRetry_ThenSharedAgain) {
    const std::string k = "198.51.100.7";
    mx1_.state.add_bad(k, 1, bans());  // counted in the store and locally
    store_.fail_with(GetParam().what);
    int calls = store_.calls();
    // The first call that notices fails over; it still counts locally.
    ClientStatus st = mx1_.state.add_bad(k, 1, bans());
    EXPECT_FALSE(st.shared);
    EXPECT_EQ(st.bad_in_window, 2u);
    EXPECT_FALSE(mx1_.state.healthy());
    EXPECT_EQ(mx1_.metrics.shared_state_outages.load(), 1u);
    EXPECT_EQ(mx1_.metrics.shared_state_failed.load(), 1u);
    EXPECT_EQ(store_.calls(), calls + 1);
    EXPECT_GE(store_.resets(), 1);
    EXPECT_NE(mx1_.state.describe().find(GetParam().what), std::string::npos) << mx1_.state.describe();
    EXPECT_NE(mx1_.state.describe().find("NOT answering"), std::string::npos);
    // From now on no call waits for the store: the local table judges, and bans.
    for (int i = 0; i < 6; ++i) st = mx1_.state.add_bad(k, 1, bans());
    EXPECT_TRUE(st.banned);
    EXPECT_TRUE(st.newly_banned);
    EXPECT_FALSE(st.shared);
    EXPECT_TRUE(mx1_.state.connection_status(k, bans()).banned);
    EXPECT_TRUE(mx1_.state.known_status(k, bans()).banned);
    EXPECT_EQ(store_.calls(), calls + 1);
    EXPECT_EQ(mx1_.metrics.shared_state_skipped.load(), 7u);
    EXPECT_EQ(mx1_.metrics.shared_state_outages.load(), 1u);
    // The retry waits for redis_retry_after; a failed retry is no new outage.
    mx1_.state.maintain(bans());
    EXPECT_EQ(store_.pings(), 0);
    clock_.advance(Millis(10000));
    mx1_.state.maintain(bans());
    EXPECT_EQ(store_.pings(), 1);
    EXPECT_FALSE(mx1_.state.healthy());
    EXPECT_EQ(mx1_.metrics.shared_state_outages.load(), 1u);
    // Back: the store decides again. It never heard of the local ban, so the
    // client is free again, here too.
    store_.fail_with("");
    clock_.advance(Millis(10000));
    mx1_.state.maintain(bans());
    EXPECT_TRUE(mx1_.state.healthy());
    st = mx1_.state.connection_status(k, bans());
    EXPECT_FALSE(st.banned);
    EXPECT_TRUE(st.shared);
    EXPECT_EQ(st.bad_in_window, 1u);
    EXPECT_FALSE(mx1_.local.local_table().status(k, bans()).banned);
    EXPECT_EQ(mx1_.state.add_bad(k, 1, bans()).bad_in_window, 2u);
}

INSTANTIATE_TEST_SUITE_P(Table, StoreFails,
                         ::testing::Values(Failure{"127.0.0.1:6379: cannot connect: Connection refused"},
                                           Failure{"127.0.0.1:6379: no answer in time"},
                                           Failure{"127.0.0.1:6379: refused the login: WRONGPASS"},
                                           Failure{"127.0.0.1:6379: not a Redis answer: Protocol error"},
                                           Failure{"unexpected answer to the counting script"}));

TEST_F(SharedState, StoreDownAtStart_LocalStateFromTheFirstRecipient) {
    store_.fail_with("cannot connect");
    mx1_.state.start();
    EXPECT_FALSE(mx1_.state.healthy());
    EXPECT_EQ(mx1_.metrics.shared_state_outages.load(), 1u);
    int calls = store_.calls();
    mx1_.state.connection_status("192.0.2.50", bans());
    mx1_.state.add_bad("192.0.2.50", 1, bans());
    EXPECT_EQ(store_.calls(), calls);
}

TEST_F(SharedState, Unban_LiftsOnEveryHost) {
    const std::string k = "203.0.113.9";
    for (int i = 0; i < 8; ++i) mx1_.state.add_bad(k, 1, bans());
    clock_.advance(Millis(2000));
    EXPECT_TRUE(mx2_.state.connection_status(k, bans()).banned);
    std::size_t lifted = 0;
    std::string error;
    ASSERT_TRUE(mx2_.state.forget(*parse_network("203.0.113.0/24"), &lifted, &error)) << error;
    EXPECT_EQ(lifted, 1u);
    // The host that lifted it knows at once; the other within its cache time.
    EXPECT_FALSE(mx2_.state.connection_status(k, bans()).banned);
    clock_.advance(Millis(2000));
    EXPECT_FALSE(mx1_.state.connection_status(k, bans()).banned);
    EXPECT_EQ(mx1_.state.connection_status(k, bans()).bad_in_window, 0u);
}

TEST_F(SharedState, UnbanWhileStoreDown_LiftedHereOnly_AndSaysSo) {
    const std::string k = "203.0.113.10";
    store_.fail_with("no answer in time");
    for (int i = 0; i < 8; ++i) mx1_.state.add_bad(k, 1, bans());
    EXPECT_TRUE(mx1_.state.known_status(k, bans()).banned);
    std::size_t lifted = 0;
    std::string error;
    EXPECT_FALSE(mx1_.state.forget(*parse_network(k), &lifted, &error));
    EXPECT_EQ(lifted, 1u);
    EXPECT_NE(error.find("lifted on this host only"), std::string::npos) << error;
    EXPECT_FALSE(mx1_.state.known_status(k, bans()).banned);
}

TEST_F(SharedState, List_FromTheStore_OrThisHostWithANote) {
    mx1_.state.add_bad("192.0.2.60", 1, bans());
    mx2_.state.add_bad("192.0.2.61", 1, bans());
    std::string note;
    std::vector<ClientRecord> records = mx1_.state.list(bans(), 100, &note);
    EXPECT_EQ(records.size(), 2u);
    EXPECT_EQ(note, "");
    store_.fail_with("cannot connect");
    records = mx1_.state.list(bans(), 100, &note);
    ASSERT_EQ(records.size(), 1u);
    EXPECT_EQ(records[0].key, "192.0.2.60");
    EXPECT_EQ(records[0].host, "mx1");
    EXPECT_NE(note.find("this host's own counts and bans only"), std::string::npos) << note;
}

TEST_F(SharedState, FlushCache_NextConnectionAsksTheStore) {
    const std::string k = "192.0.2.70";
    mx1_.state.connection_status(k, bans());
    int calls = store_.calls();
    mx1_.state.connection_status(k, bans());
    EXPECT_EQ(store_.calls(), calls);
    mx1_.state.forget_cached(nullptr);
    mx1_.state.connection_status(k, bans());
    EXPECT_EQ(store_.calls(), calls + 1);
    Network other = *parse_network("10.0.0.0/8");
    mx1_.state.forget_cached(&other);
    mx1_.state.connection_status(k, bans());
    EXPECT_EQ(store_.calls(), calls + 1);
}

TEST_F(SharedState, ManyThreads_StoreFailingOnAndOff_NothingBreaks) {
    std::atomic<bool> stop{false};
    std::vector<std::thread> threads;
    for (int t = 0; t < 6; ++t) {
        threads.emplace_back([&, t] {
            Host& h = t % 2 ? mx1_ : mx2_;
            for (int i = 0; i < 300; ++i) {
                std::string k = "192.0.2." + std::to_string(i % 20);
                h.state.connection_status(k, bans());
                h.state.known_status(k, bans());
                h.state.add_bad(k, 1, bans());
                if (i % 50 == 0) {
                    std::string note;
                    h.state.list(bans(), 10, &note);
                    h.state.describe();
                }
            }
        });
    }
    threads.emplace_back([&] {
        for (int i = 0; i < 200 && !stop; ++i) {
            store_.fail_with(i % 2 ? "no answer in time" : "");
            clock_.advance(Millis(5000));
            mx1_.state.maintain(bans());
            mx2_.state.maintain(bans());
        }
    });
    for (std::size_t i = 0; i + 1 < threads.size(); ++i) threads[i].join();
    stop = true;
    threads.back().join();
    store_.fail_with("");
    clock_.advance(Millis(20000));
    mx1_.state.maintain(bans());
    EXPECT_TRUE(mx1_.state.healthy());
}

}  // namespace
}  // namespace rcptguard
