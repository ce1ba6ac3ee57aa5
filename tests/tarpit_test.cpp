// Unit tests for the harvest defence (milter/tarpit/*) with an injected clock
// and a sleeper that does not sleep: delay sequence and caps, budget, 421 after
// N, uniform deferral, sliding-window bans, IPv6 aggregation, the bounded
// client table, exemptions, and "no configured wait can trip the MTA's timeout".
#include "core/tarpit/tarpit.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "core/session.hpp"
#include "core/settings.hpp"
#include "tests/fakes/fake_backend.hpp"
#include "tests/fakes/fake_clock.hpp"

namespace rcptguard {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using testing::FakeBackend;
using testing::FakeClock;
using testing::FakeSleeper;

TarpitSettings defaults() {
    TarpitSettings s;
    s.tarpit_after = 3;
    s.tarpit_delay = seconds(1);
    s.tarpit_max_delay = seconds(4);
    s.tarpit_budget = seconds(60);
    s.mta_timeout = seconds(10);
    return s;
}

struct DelayCase {
    unsigned bad_before;
    long long slept_ms;
    long long lookup_ms;
    long long want_ms;
};

class DelaySequence : public ::testing::TestWithParam<DelayCase> {};

TEST_P(DelaySequence, DelayForBadCount_DoublesThenCaps) {
    const DelayCase& c = GetParam();
    EXPECT_EQ(tarpit_delay_for(defaults(), c.bad_before, Millis(c.slept_ms), Millis(c.lookup_ms)).count(), c.want_ms);
}

INSTANTIATE_TEST_SUITE_P(
    Table, DelaySequence,
    ::testing::Values(DelayCase{0, 0, 0, 0}, DelayCase{2, 0, 0, 0}, DelayCase{3, 0, 0, 1000}, DelayCase{4, 0, 0, 2000},
                      DelayCase{5, 0, 0, 4000}, DelayCase{6, 0, 0, 4000}, DelayCase{1000, 0, 0, 4000},
                      // budget nearly spent
                      DelayCase{5, 59500, 0, 500}, DelayCase{5, 60000, 0, 0}, DelayCase{5, 70000, 0, 0},
                      // a slow lookup eats into the wait: never past mta_timeout/2
                      DelayCase{5, 0, 2500, 2500}, DelayCase{5, 0, 4900, 100}, DelayCase{5, 0, 9000, 0}));

TEST(Tarpit, NoConfiguredWaitComesNearTheMtaTimeout) {
    // Sendmail's default T=R:10s, Postfix's 30s: whatever is configured, every
    // wait plus the lookup stays within half of mta_timeout.
    for (long long mta : {10000LL, 30000LL, 3000LL}) {
        for (long long maxd : {0LL, 500LL, 1000LL, 5000LL, 15000LL}) {
            TarpitSettings s = defaults();
            s.mta_timeout = Millis(mta);
            s.tarpit_max_delay = Millis(maxd);
            s.tarpit_delay = Millis(std::min(maxd, 1000LL));
            if (s.tarpit_max_delay > s.max_single_wait()) continue;  // refused by the config check
            for (unsigned bad = 0; bad < 40; ++bad)
                for (long long lookup : {0LL, 100LL, 1000LL, 4999LL, 20000LL}) {
                    Millis d = tarpit_delay_for(s, bad, Millis(0), Millis(lookup));
                    EXPECT_LE(d.count() + std::min(lookup, mta), std::max(mta / 2, std::min(lookup, mta)));
                    EXPECT_GE(d.count(), 0);
                }
        }
    }
}

std::string tarpit_config_error(const std::string& keys) {
    try {
        ConfigFile f =
            parse_config_text("domains = a.test\nbackends = u\n" + keys + "\n[backend u]\ntype = fail\n", "t.conf");
        read_settings(f);
    } catch (const ConfigError& e) {
        return e.what();
    }
    return "";
}

TEST(TarpitConfig, MaxDelayNearSendmailTimeout_Refused) {
    EXPECT_EQ(tarpit_config_error("mta_timeout = 10s\ntarpit_max_delay = 9s"),
              "t.conf:4: tarpit_max_delay: 9s is too close to mta_timeout 10s: at most half of it (5s) leaves "
              "room for the lookup itself");
    EXPECT_EQ(tarpit_config_error("mta_timeout = 10s\ntarpit_max_delay = 5s"), "");
    EXPECT_EQ(tarpit_config_error("mta_timeout = 30s\ntarpit_max_delay = 15s"), "");
    EXPECT_NE(tarpit_config_error("tarpit_delay = 5s\ntarpit_max_delay = 2s"), "");
    EXPECT_NE(tarpit_config_error("trusted_networks = 10.0.0.0/33"), "");
    EXPECT_NE(tarpit_config_error("ban_ipv6_prefix = 8"), "");
}

TEST(Network, ClientKey_Ipv6AggregatedToPrefix_Ipv4Kept) {
    EXPECT_EQ(client_key("192.0.2.7", 32, 64), "192.0.2.7");
    EXPECT_EQ(client_key("192.0.2.7", 24, 64), "192.0.2.0/24");
    EXPECT_EQ(client_key("2001:db8:1:2:aaaa::1", 32, 64), "2001:db8:1:2::/64");
    EXPECT_EQ(client_key("2001:db8:1:2:bbbb::99", 32, 64), "2001:db8:1:2::/64");
    EXPECT_EQ(client_key("2001:db8:1:3::1", 32, 64), "2001:db8:1:3::/64");
    EXPECT_EQ(client_key("IPv6:2001:db8::5", 32, 128), "2001:db8::5");
    EXPECT_EQ(client_key("::ffff:192.0.2.9", 32, 64), "192.0.2.9");
    EXPECT_EQ(client_key("", 32, 64), "");
    EXPECT_EQ(client_key("localhost", 32, 64), "");
}

TEST(Network, TrustedNetworks_Contains) {
    NetworkList l;
    ASSERT_EQ(l.add_all({"192.0.2.0/24", "[2001:db8::]/32", "198.51.100.7"}), "");
    EXPECT_TRUE(l.contains(*IpAddress::parse("192.0.2.200")));
    EXPECT_FALSE(l.contains(*IpAddress::parse("192.0.3.1")));
    EXPECT_TRUE(l.contains(*IpAddress::parse("2001:db8:ffff::1")));
    EXPECT_TRUE(l.contains(*IpAddress::parse("198.51.100.7")));
    EXPECT_FALSE(l.contains(*IpAddress::parse("198.51.100.8")));
    EXPECT_EQ(l.add_all({"300.1.1.1"}), "300.1.1.1");
}

TEST(ClientTable, SlidingWindowBan_AndExpiry) {
    FakeClock clock;
    ClientTable t(1000, clock);
    BanSettings b;
    b.ban_threshold = 5;
    b.window = seconds(80);
    b.ban_time = seconds(300);
    for (int i = 0; i < 4; ++i) EXPECT_FALSE(t.add_bad("192.0.2.1", 1, b).banned);
    ClientStatus st = t.add_bad("192.0.2.1", 1, b);
    EXPECT_TRUE(st.banned);
    EXPECT_TRUE(st.newly_banned);
    EXPECT_TRUE(t.status("192.0.2.1", b).banned);
    EXPECT_FALSE(t.status("192.0.2.2", b).banned);
    clock.advance(seconds(299));
    EXPECT_TRUE(t.status("192.0.2.1", b).banned);
    clock.advance(seconds(2));
    EXPECT_FALSE(t.status("192.0.2.1", b).banned);
}

TEST(ClientTable, OldBadRecipientsLeaveTheWindow) {
    FakeClock clock;
    ClientTable t(1000, clock);
    BanSettings b;
    b.ban_threshold = 5;
    b.window = seconds(80);
    for (int i = 0; i < 4; ++i) t.add_bad("192.0.2.1", 1, b);
    EXPECT_EQ(t.status("192.0.2.1", b).bad_in_window, 4u);
    clock.advance(seconds(90));
    EXPECT_EQ(t.status("192.0.2.1", b).bad_in_window, 0u);
    EXPECT_FALSE(t.add_bad("192.0.2.1", 1, b).banned);  // 1 in window, not 5
}

TEST(ClientTable, List_BannedFirstThenByCount_Bounded_QuietClientsLeftOut_AllCounted) {
    FakeClock clock;
    ClientTable t(1000, clock);
    BanSettings b;
    b.ban_threshold = 5;
    b.window = seconds(80);
    b.ban_time = seconds(300);
    t.add_bad("192.0.2.9", 1, b);
    clock.advance(seconds(60));
    t.add_bad("192.0.2.2", 9, b);  // banned for 300s
    clock.advance(seconds(50));    // .9's bad recipient leaves the window
    t.add_bad("192.0.2.4", 6, b);  // banned later: longer ban left, but fewer bad recipients than .2
    t.add_bad("192.0.2.3", 4, b);
    t.add_bad("192.0.2.1", 2, b);
    ClientCounts counts;
    std::vector<ClientRecord> all = t.list(b, 10, &counts);
    EXPECT_EQ(counts.total, 4u);
    EXPECT_EQ(counts.banned, 2u);
    ASSERT_EQ(all.size(), 4u);
    EXPECT_EQ(all[0].key, "192.0.2.2");
    EXPECT_EQ(all[0].bad_in_window, 9u);
    EXPECT_EQ(all[0].ban_left, seconds(250));
    EXPECT_EQ(all[1].key, "192.0.2.4");
    EXPECT_EQ(all[1].ban_left, seconds(300));
    EXPECT_EQ(all[2].key, "192.0.2.3");
    EXPECT_FALSE(all[2].banned());
    EXPECT_EQ(all[2].bad_in_window, 4u);
    EXPECT_EQ(all[3].key, "192.0.2.1");
    EXPECT_EQ(all[3].host, "");
    std::vector<ClientRecord> top = t.list(b, 2, &counts);
    EXPECT_EQ(counts.total, 4u);
    EXPECT_EQ(counts.banned, 2u);
    ASSERT_EQ(top.size(), 2u);
    EXPECT_EQ(top[1].key, "192.0.2.4");
}

TEST(ClientTable, FloodOfDistinctClients_SizeBounded_RecentKept) {
    FakeClock clock;
    ClientTable t(1600, clock);
    BanSettings b;
    b.ban_threshold = 2;
    for (int i = 0; i < 100000; ++i)
        t.add_bad(
            "10." + std::to_string(i / 65536) + "." + std::to_string((i / 256) % 256) + "." + std::to_string(i % 256),
            1, b);
    EXPECT_LE(t.size(), 1600u);
    // The most recent client is still remembered; the first one was evicted.
    EXPECT_EQ(t.status("10.1.134.159", b).bad_in_window, 1u);
    EXPECT_EQ(t.status("10.0.0.0", b).bad_in_window, 0u);
}

TEST(ClientTable, EmptyKey_NeverTracked) {
    FakeClock clock;
    ClientTable t(100, clock);
    BanSettings b;
    b.ban_threshold = 1;
    EXPECT_FALSE(t.add_bad("", 10, b).banned);
    EXPECT_EQ(t.size(), 0u);
}

// Many threads at once, as libmilter's workers and the policy service call
// it (the sanitizer builds run these under ASan and TSan).
TEST(ClientTable, ManyThreads_CountsAddUp_BansOnce_SizeBounded) {
    FakeClock clock;
    ClientTable t(64, clock);
    BanSettings b;
    b.ban_threshold = 2000;
    constexpr int kThreads = 4, kEach = 1000;
    std::atomic<int> newly_banned{0};
    std::vector<std::thread> threads;
    for (int n = 0; n < kThreads; ++n)
        threads.emplace_back([&, n] {
            for (int i = 0; i < kEach; ++i) {
                // One shared client, plus a churn of distinct ones that evicts.
                if (t.add_bad("192.0.2.1", 1, b).newly_banned) ++newly_banned;
                t.add_bad("10." + std::to_string(n) + ".0." + std::to_string(i % 200), 1, b);
                t.status("192.0.2.1", b);
                if (i % 100 == 0) t.banned_now();
            }
        });
    for (auto& th : threads) th.join();
    EXPECT_LE(t.size(), 64u);
    ClientStatus shared = t.status("192.0.2.1", b);
    // Evictions take the least recently seen; the shared client is touched
    // on every step, so none of its 4000 counts is lost.
    EXPECT_EQ(shared.bad_in_window, static_cast<unsigned>(kThreads * kEach));
    EXPECT_TRUE(shared.banned);
    EXPECT_EQ(newly_banned.load(), 1);  // exactly one call crossed the threshold
}

// Through a Connection, as the milter drives it.
class TarpitSessionTest : public ::testing::Test {
protected:
    void SetUp() override {
        backend_ = std::make_shared<FakeBackend>("users");
        backend_->add("user@example.test");
    }
    std::shared_ptr<const Runtime> runtime(const std::function<void(Settings&)>& tweak = {}) {
        auto s = std::make_shared<Settings>();
        s->recipients.domains.add_exact("example.test");
        s->tarpit = defaults();
        s->tarpit.max_bad_recipients = 6;
        s->tarpit.ban.ban_threshold = 8;
        s->tarpit.ban.window = seconds(600);
        s->tarpit.ban.ban_time = seconds(3600);
        if (tweak) tweak(*s);
        auto rt = std::make_shared<Runtime>();
        rt->backends = {backend_};
        rt->rules = std::make_shared<RecipientRules>(s->recipients, std::make_shared<BackendChain>(rt->backends));
        rt->settings = s;
        return rt;
    }
    RcptDecision rcpt(Connection& c, const std::string& a, bool by_mta = false) {
        return c.on_rcpt_and_wait({a, "", by_mta});
    }

    std::shared_ptr<FakeBackend> backend_;
    FakeClock clock_;
    FakeSleeper sleeper_{clock_};
    LocalClientState clients_{LocalStateOptions{1000, "", "", nullptr}, clock_};
    Tarpit tarpit_{clients_, sleeper_, clock_};
    Metrics metrics_;
    Services services_{clock_, tarpit_, metrics_};
};

TEST_F(TarpitSessionTest, HarvestingClient_DelayedProgressively_Then421) {
    Connection c(runtime(), {"harvester.test", "192.0.2.66"}, services_);
    c.on_mail("<s@x.test>", "");
    for (int i = 0; i < 5; ++i) EXPECT_EQ(rcpt(c, "<n" + std::to_string(i) + "@example.test>").reply.code, "550");
    RcptDecision last = rcpt(c, "<n5@example.test>");
    EXPECT_EQ(
        last.reply.to_string(),
        "421 4.7.0 <n5@example.test>: Recipient address rejected: Too many invalid recipients, closing connection");
    EXPECT_EQ(last.action, RcptAction::TempFail);
    // Replies to the 4th and 5th bad recipient waited 1s, then 2s (after 3 bad).
    std::vector<Millis> want = {seconds(1), seconds(2)};
    EXPECT_EQ(sleeper_.sleeps(), want);
}

TEST_F(TarpitSessionTest, ParallelHarvesters_EachCutOff_SharedClientBanned) {
    // Four sessions at once from one client and four from distinct ones; the
    // shared client's bad recipients add up across them to a ban.
    auto rt = runtime();
    constexpr int kSessions = 4;
    std::atomic<int> cut_off{0}, refused_at_once{0};
    std::vector<std::thread> threads;
    for (int n = 0; n < 2 * kSessions; ++n)
        threads.emplace_back([&, n] {
            std::string ip = n < kSessions ? "192.0.2.66" : "198.51.100." + std::to_string(n);
            Connection c(rt, {"h" + std::to_string(n) + ".test", ip}, services_);
            c.on_mail("<s@x.test>", "");
            for (int i = 0; i < 10; ++i) {
                RcptDecision d = rcpt(c, "<n" + std::to_string(n) + "-" + std::to_string(i) + "@example.test>");
                if (d.reply.code == "421") {
                    ++(i == 0 ? refused_at_once : cut_off);
                    break;
                }
            }
        });
    for (auto& th : threads) th.join();
    EXPECT_EQ(cut_off.load() + refused_at_once.load(), 2 * kSessions);  // nobody got 10 guesses
    // 4 x 6 bad recipients from 192.0.2.66 passed ban_threshold 8: banned now.
    EXPECT_TRUE(clients_.local_table().status("192.0.2.66", runtime()->settings->tarpit.ban).banned);
    EXPECT_FALSE(clients_.local_table().status("198.51.100.7", runtime()->settings->tarpit.ban).banned);
}

TEST_F(TarpitSessionTest, ValidRecipientsAfterThreshold_AlsoDelayed_NoTimingOracle) {
    Connection c(runtime(), {"h", "192.0.2.67"}, services_);
    c.on_mail("<s@x.test>", "");
    for (int i = 0; i < 3; ++i) rcpt(c, "<n" + std::to_string(i) + "@example.test>");
    EXPECT_EQ(rcpt(c, "<user@example.test>").action, RcptAction::Continue);
    EXPECT_EQ(sleeper_.sleeps(), std::vector<Millis>{seconds(1)});
}

TEST_F(TarpitSessionTest, BudgetPerConnection_Respected) {
    Connection c(runtime([](Settings& s) {
                     s.tarpit.tarpit_budget = milliseconds(2500);
                     s.tarpit.max_bad_recipients = 0;
                 }),
                 {"h", "192.0.2.68"}, services_);
    c.on_mail("<s@x.test>", "");
    for (int i = 0; i < 20; ++i) rcpt(c, "<n" + std::to_string(i) + "@example.test>");
    Millis total{0};
    for (Millis d : sleeper_.sleeps()) total += d;
    EXPECT_EQ(total, milliseconds(2500));
}

TEST_F(TarpitSessionTest, BanAcrossConnections_NewConnectionRefused) {
    auto rt = runtime([](Settings& s) { s.tarpit.max_bad_recipients = 5; });
    for (int conn = 0; conn < 2; ++conn) {
        Connection c(rt, {"h", "192.0.2.69"}, services_);
        c.on_mail("<s@x.test>", "");
        for (int i = 0; i < 5; ++i) rcpt(c, "<n@example.test>");
    }
    // 10 bad recipients >= ban_threshold 8: the next connection is refused at once.
    Connection c3(rt, {"h", "192.0.2.69"}, services_);
    c3.on_mail("<s@x.test>", "");
    RcptDecision d = rcpt(c3, "<user@example.test>");
    EXPECT_EQ(d.reply.to_string(),
              "421 4.7.0 <user@example.test>: Recipient address rejected: Too many invalid recipients from your "
              "address, try again later");
    // Another client is not affected.
    Connection other(rt, {"h", "192.0.2.70"}, services_);
    other.on_mail("<s@x.test>", "");
    EXPECT_EQ(rcpt(other, "<user@example.test>").action, RcptAction::Continue);
    // The ban expires.
    clock_.advance(seconds(3601));
    Connection c4(rt, {"h", "192.0.2.69"}, services_);
    c4.on_mail("<s@x.test>", "");
    EXPECT_EQ(rcpt(c4, "<user@example.test>").action, RcptAction::Continue);
}

TEST_F(TarpitSessionTest, Ipv6NeighboursShareOneBan) {
    auto rt = runtime([](Settings& s) {
        s.tarpit.max_bad_recipients = 0;
        s.tarpit.tarpit_after = 100;
    });
    Connection a(rt, {"h", "2001:db8:1:2::10"}, services_);
    a.on_mail("<s@x.test>", "");
    for (int i = 0; i < 8; ++i) rcpt(a, "<n@example.test>");
    Connection b(rt, {"h", "2001:db8:1:2::ffff"}, services_);
    b.on_mail("<s@x.test>", "");
    EXPECT_EQ(rcpt(b, "<user@example.test>").reply.code, "421");
}

TEST_F(TarpitSessionTest, UniformDeferral_ValidAndInvalidLookAlike) {
    auto rt = runtime([](Settings& s) {
        s.tarpit.uniform_deferral = true;
        s.tarpit.uniform_deferral_after = 2;
        s.tarpit.tarpit_after = 100;
        s.tarpit.max_bad_recipients = 0;
    });
    Connection c(rt, {"h", "192.0.2.71"}, services_);
    c.on_mail("<s@x.test>", "");
    EXPECT_EQ(rcpt(c, "<n1@example.test>").reply.code, "550");
    EXPECT_EQ(rcpt(c, "<n2@example.test>").reply.code, "550");
    RcptDecision valid = rcpt(c, "<user@example.test>");
    RcptDecision invalid = rcpt(c, "<n3@example.test>");
    EXPECT_EQ(valid.reply.code, "450");
    EXPECT_EQ(invalid.reply.code, "450");
    EXPECT_EQ(valid.reply.xcode, invalid.reply.xcode);
    EXPECT_TRUE(reply_is_well_formed(valid.reply));
    // No lookup was made for them (nothing to learn from timing either).
    EXPECT_EQ(backend_->calls().size(), 4u);  // n1, @domain, n2, @domain
}

TEST_F(TarpitSessionTest, TrustedNetwork_NeverDelayedOrCutOff) {
    auto rt = runtime([](Settings& s) { s.tarpit.trusted_networks.add_all({"192.0.2.0/24"}); });
    Connection c(rt, {"relay.test", "192.0.2.5"}, services_);
    c.on_mail("<s@x.test>", "");
    for (int i = 0; i < 30; ++i) EXPECT_EQ(rcpt(c, "<n@example.test>").reply.code, "550");
    EXPECT_TRUE(sleeper_.sleeps().empty());
    EXPECT_EQ(clients_.local_table().size(), 0u);
}

TEST_F(TarpitSessionTest, AuthenticatedClient_Exempt) {
    Connection c(runtime(), {"h", "198.51.100.9"}, services_);
    c.on_mail("<s@x.test>", "", "alice");
    for (int i = 0; i < 30; ++i) EXPECT_EQ(rcpt(c, "<n@example.test>").reply.code, "550");
    EXPECT_TRUE(sleeper_.sleeps().empty());
}

TEST_F(TarpitSessionTest, RecipientsRejectedByMta_CountTowardsLimit) {
    Connection c(runtime(), {"h", "192.0.2.72"}, services_);
    c.on_mail("<s@x.test>", "");
    for (int i = 0; i < 6; ++i) EXPECT_EQ(rcpt(c, "<x@local.test>", true).action, RcptAction::Continue);
    EXPECT_EQ(c.bad_recipients(), 6u);
    EXPECT_EQ(rcpt(c, "<user@example.test>").reply.code, "421");
}

TEST_F(TarpitSessionTest, MonitorMode_NoWaitNo421NoBan) {
    auto rt = runtime([](Settings& s) { s.recipients.monitor = true; });
    for (int conn = 0; conn < 3; ++conn) {
        Connection c(rt, {"h", "192.0.2.73"}, services_);
        c.on_mail("<s@x.test>", "");
        for (int i = 0; i < 10; ++i) EXPECT_EQ(rcpt(c, "<n@example.test>").action, RcptAction::Continue);
    }
    EXPECT_TRUE(sleeper_.sleeps().empty());
}

TEST_F(TarpitSessionTest, SleeperLimit_RepliesAtOnceStillCounts) {
    auto rt = runtime([](Settings& s) {
        s.tarpit.max_sleepers = 0;
        s.tarpit.max_bad_recipients = 0;
    });
    Connection c(rt, {"h", "192.0.2.74"}, services_);
    c.on_mail("<s@x.test>", "");
    for (int i = 0; i < 6; ++i) rcpt(c, "<n@example.test>");
    EXPECT_TRUE(sleeper_.sleeps().empty());
    EXPECT_EQ(c.bad_recipients(), 6u);
}

TEST_F(TarpitSessionTest, TarpitOff_NothingButVerdicts) {
    auto rt = runtime([](Settings& s) {
        s.tarpit.enabled = false;
        s.tarpit.ban.ban_threshold = 0;
    });
    Connection c(rt, {"h", "192.0.2.75"}, services_);
    c.on_mail("<s@x.test>", "");
    for (int i = 0; i < 30; ++i) EXPECT_EQ(rcpt(c, "<n@example.test>").reply.code, "550");
    EXPECT_TRUE(sleeper_.sleeps().empty());
}

TEST(InterruptibleSleeper, Stop_WakesSleepersAtOnce) {
    InterruptibleSleeper s;
    std::thread t([&] { EXPECT_FALSE(s.sleep_for(std::chrono::hours(1))); });
    // Give the thread a chance to start waiting; correctness does not depend on it.
    std::this_thread::sleep_for(milliseconds(20));
    s.stop();
    t.join();
    EXPECT_FALSE(s.sleep_for(seconds(10)));
}

}  // namespace
}  // namespace rcptguard
