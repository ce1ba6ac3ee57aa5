// Unit tests for the Redis client (util/redis_client) and the tarpit's Redis
// store (core/tarpit/redis_store) against a real redis-server started by the
// tests (tests/fakes/redis_fixture), and against canned servers that answer
// garbage: counting and banning across two "hosts", atomicity under threads,
// hostile values in Redis, listing and lifting, logins, a dead, a frozen and a
// lying server. No test measures time: a frozen server is shown to fail the
// call, not how fast.
#include "core/tarpit/redis_store.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "tests/fakes/redis_fixture.hpp"
#include "util/redis_client.hpp"

namespace rcptguard {
namespace {

using testing::CannedServer;
using testing::RedisFixture;

RedisOptions options_for(const std::string& address, Millis timeout = Millis(2000)) {
    RedisOptions o;
    RedisServer s;
    EXPECT_EQ(parse_redis_server(address, &s), "");
    o.servers.push_back(s);
    o.timeout = timeout;
    o.retry_after = Millis(0);  // every call tries the server (the tests change its state)
    return o;
}

BanSettings bans(unsigned threshold = 8) {
    BanSettings b;
    b.ban_threshold = threshold;
    b.window = Millis(600000);
    b.ban_time = Millis(3600000);
    return b;
}

// A prefix per test, so tests sharing the server never see each other's keys.
std::string prefix_for_test() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    return std::string("t:") + info->name() + ":";
}

struct ServerCase {
    const char* spec;
    const char* problem;  // "" = accepted
};

class ServerSpec : public ::testing::TestWithParam<ServerCase> {};

TEST_P(ServerSpec, Parse_AcceptsAddressesAndUnixPaths_RefusesNames) {
    RedisServer s;
    std::string problem = parse_redis_server(GetParam().spec, &s);
    if (std::string(GetParam().problem).empty()) {
        EXPECT_EQ(problem, "");
    } else {
        EXPECT_NE(problem.find(GetParam().problem), std::string::npos) << problem;
    }
}

INSTANTIATE_TEST_SUITE_P(Table, ServerSpec,
                         ::testing::Values(ServerCase{"127.0.0.1:6379", ""}, ServerCase{"[2001:db8::5]:6380", ""},
                                           ServerCase{"unix:/run/redis/redis.sock", ""},
                                           ServerCase{"redis.example.com:6379", "not an IP address"},
                                           ServerCase{"127.0.0.1", "expected ADDRESS:PORT"},
                                           ServerCase{"127.0.0.1:0", "port must be"},
                                           ServerCase{"unix:relative.sock", "absolute path"}));

TEST(RedisStore, TwoHostsCount_BanAtCombinedThreshold_Once) {
    RedisFixture& r = RedisFixture::shared();
    RedisStore mx1(options_for(r.address()), prefix_for_test());
    RedisStore mx2(options_for(r.address()), prefix_for_test());
    SharedStanding st;
    std::string error;
    for (int i = 0; i < 5; ++i) ASSERT_TRUE(mx1.add_bad("192.0.2.7", 1, bans(), "mx1", &st, &error)) << error;
    EXPECT_EQ(st.bad_in_window, 5u);
    EXPECT_EQ(st.ban_left.count(), 0);
    ASSERT_TRUE(mx2.add_bad("192.0.2.7", 1, bans(), "mx2", &st, &error)) << error;
    ASSERT_TRUE(mx2.add_bad("192.0.2.7", 1, bans(), "mx2", &st, &error)) << error;
    EXPECT_FALSE(st.newly_banned);
    ASSERT_TRUE(mx2.add_bad("192.0.2.7", 1, bans(), "mx2", &st, &error)) << error;
    EXPECT_TRUE(st.newly_banned);
    EXPECT_EQ(st.bad_in_window, 8u);
    EXPECT_EQ(st.ban_left, Millis(3600000));
    EXPECT_EQ(st.ban_host, "mx2");
    // The other host sees the ban and who made it; counting on does not ban again.
    ASSERT_TRUE(mx1.standing("192.0.2.7", bans(), &st, &error)) << error;
    EXPECT_GT(st.ban_left.count(), 0);
    EXPECT_EQ(st.ban_host, "mx2");
    EXPECT_EQ(st.last_host, "mx2");
    ASSERT_TRUE(mx1.add_bad("192.0.2.7", 1, bans(), "mx1", &st, &error)) << error;
    EXPECT_FALSE(st.newly_banned);
    EXPECT_EQ(st.bad_in_window, 9u);
    // The keys are the documented ones, and expire by themselves.
    std::string p = prefix_for_test();
    EXPECT_EQ(r.cli({"HGET", p + "ban:192.0.2.7", "host"}), "mx2\n");
    EXPECT_GT(std::stoll(r.cli({"PTTL", p + "bad:192.0.2.7"})), 0);
    EXPECT_GT(std::stoll(r.cli({"PTTL", p + "ban:192.0.2.7"})), 0);
    // Another client is not affected.
    ASSERT_TRUE(mx1.standing("192.0.2.8", bans(), &st, &error)) << error;
    EXPECT_EQ(st.bad_in_window, 0u);
    EXPECT_EQ(st.ban_left.count(), 0);
}

// redis_servers = unix:/path: the same server and keys as over TCP.
TEST(RedisStore, UnixSocket_SameCountsAsOverTcp) {
    RedisFixture& r = RedisFixture::shared();
    RedisStore tcp(options_for(r.address()), prefix_for_test());
    RedisStore local(options_for(r.unix_address()), prefix_for_test());
    SharedStanding st;
    std::string error;
    ASSERT_TRUE(local.ping(&error)) << error;
    for (int i = 0; i < 2; ++i) ASSERT_TRUE(local.add_bad("192.0.2.9", 1, bans(3), "mx1", &st, &error)) << error;
    ASSERT_TRUE(tcp.add_bad("192.0.2.9", 1, bans(3), "mx2", &st, &error)) << error;
    EXPECT_TRUE(st.newly_banned);
    ASSERT_TRUE(local.standing("192.0.2.9", bans(3), &st, &error)) << error;
    EXPECT_EQ(st.bad_in_window, 3u);
    EXPECT_GT(st.ban_left.count(), 0);
    EXPECT_EQ(st.ban_host, "mx2");
    EXPECT_NE(local.describe().find(r.unix_address()), std::string::npos) << local.describe();
}

TEST(RedisStore, ThresholdZeroOrBanTimeZero_CountsButNeverBans) {
    RedisFixture& r = RedisFixture::shared();
    RedisStore s(options_for(r.address()), prefix_for_test());
    SharedStanding st;
    std::string error;
    BanSettings none = bans(0);
    BanSettings zero = bans(2);
    zero.ban_time = Millis(0);
    for (int i = 0; i < 5; ++i) {
        ASSERT_TRUE(s.add_bad("192.0.2.9", 1, none, "mx1", &st, &error)) << error;
        ASSERT_TRUE(s.add_bad("192.0.2.10", 1, zero, "mx1", &st, &error)) << error;
    }
    EXPECT_EQ(st.bad_in_window, 5u);
    EXPECT_EQ(st.ban_left.count(), 0);
    ASSERT_TRUE(s.standing("192.0.2.9", none, &st, &error));
    EXPECT_EQ(st.bad_in_window, 5u);
    EXPECT_EQ(st.ban_left.count(), 0);
}

TEST(RedisStore, ManyThreadsOnTwoHosts_NoCountLost_BannedOnce) {
    RedisFixture& r = RedisFixture::shared();
    RedisStore mx1(options_for(r.address()), prefix_for_test());
    RedisStore mx2(options_for(r.address()), prefix_for_test());
    std::atomic<int> bans_made{0}, failures{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t) {
        threads.emplace_back([&, t] {
            RedisStore& s = t % 2 ? mx1 : mx2;
            for (int i = 0; i < 50; ++i) {
                SharedStanding st;
                std::string error;
                if (!s.add_bad("198.51.100.1", 1, bans(100), t % 2 ? "mx1" : "mx2", &st, &error))
                    ++failures;
                else if (st.newly_banned)
                    ++bans_made;
            }
        });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(failures.load(), 0);
    EXPECT_EQ(bans_made.load(), 1);
    SharedStanding st;
    std::string error;
    ASSERT_TRUE(mx1.standing("198.51.100.1", bans(100), &st, &error)) << error;
    EXPECT_EQ(st.bad_in_window, 400u);
}

struct HostileCase {
    const char* name;
    std::vector<std::vector<std::string>> writes;  // redis-cli commands; {P} = the key prefix, {B} = current slice
    unsigned want_after_one_bad;
};

class HostileValues : public ::testing::TestWithParam<HostileCase> {};

TEST_P(HostileValues, NeitherBanNorFail_RepairedWhenCounting) {
    RedisFixture& r = RedisFixture::shared();
    std::string p = std::string("hostile:") + GetParam().name + ":";
    std::string now = r.cli({"TIME"});
    long long slice = std::stoll(now.substr(0, now.find('\n'))) * 1000 / 75000;  // ban_window 10m / 8
    for (auto cmd : GetParam().writes) {
        for (auto& a : cmd) {
            for (std::string k : {"{P}", "{B}"}) {
                std::size_t at;
                while ((at = a.find(k)) != std::string::npos)
                    a.replace(at, k.size(), k == "{P}" ? p : std::to_string(slice));
            }
        }
        r.cli(cmd);
    }
    RedisStore s(options_for(r.address()), p);
    SharedStanding st;
    std::string error;
    ASSERT_TRUE(s.standing("203.0.113.5", bans(3), &st, &error)) << error;
    EXPECT_EQ(st.ban_left.count(), 0);
    EXPECT_LE(st.bad_in_window, 1000000u);
    ASSERT_TRUE(s.add_bad("203.0.113.5", 1, bans(3), "mx1", &st, &error)) << error;
    EXPECT_EQ(st.ban_left.count(), 0);
    EXPECT_FALSE(st.newly_banned);
    EXPECT_EQ(st.bad_in_window, GetParam().want_after_one_bad);
}

INSTANTIATE_TEST_SUITE_P(
    Table, HostileValues,
    ::testing::Values(
        HostileCase{"not_a_number", {{"HSET", "{P}bad:203.0.113.5", "b:{B}", "lots"}}, 1},
        HostileCase{"huge", {{"HSET", "{P}bad:203.0.113.5", "b:{B}", "99999999999999999999999999"}}, 1},
        HostileCase{"just_over_the_cap", {{"HSET", "{P}bad:203.0.113.5", "b:{B}", "1000001"}}, 1},
        HostileCase{"infinite", {{"HSET", "{P}bad:203.0.113.5", "b:{B}", "inf"}}, 1},
        HostileCase{"nan", {{"HSET", "{P}bad:203.0.113.5", "b:{B}", "nan"}}, 1},
        HostileCase{"negative", {{"HSET", "{P}bad:203.0.113.5", "b:{B}", "-50"}}, 1},
        HostileCase{"fraction", {{"HSET", "{P}bad:203.0.113.5", "b:{B}", "2.5"}}, 1},
        HostileCase{"slice_in_the_future", {{"HSET", "{P}bad:203.0.113.5", "b:99999999999999999999", "2"}}, 1},
        HostileCase{"odd_field_names",
                    {{"HSET", "{P}bad:203.0.113.5", "b:", "2"}, {"HSET", "{P}bad:203.0.113.5", "x", "2"}},
                    1},
        HostileCase{"huge_host", {{"HSET", "{P}bad:203.0.113.5", "host", std::string(100000, 'h')}}, 1},
        HostileCase{"counts_are_a_string", {{"SET", "{P}bad:203.0.113.5", "a string"}}, 1},
        HostileCase{"counts_are_a_list", {{"RPUSH", "{P}bad:203.0.113.5", "1"}}, 1},
        HostileCase{"ban_is_a_string", {{"SET", "{P}ban:203.0.113.5", "forever"}}, 1},
        HostileCase{"ban_without_end", {{"HSET", "{P}ban:203.0.113.5", "host", "nowhere"}}, 1},
        HostileCase{"ban_for_ten_years",
                    {{"HSET", "{P}ban:203.0.113.5", "host", "x"}, {"PEXPIRE", "{P}ban:203.0.113.5", "315360000000"}},
                    1},
        // A plausible count is a count: two slices of 1 plus this one.
        HostileCase{"valid_neighbours", {{"HSET", "{P}bad:203.0.113.5", "b:{B}", "1"}}, 2}),
    [](const ::testing::TestParamInfo<HostileCase>& i) { return std::string(i.param.name); });

TEST(RedisStore, ListAndForget_ByAddressAndPrefix_SkipForeignKeys) {
    RedisFixture& r = RedisFixture::shared();
    // A prefix with glob characters must still match only itself.
    std::string p = "rg[1]*?:";
    RedisStore s(options_for(r.address()), p);
    SharedStanding st;
    std::string error;
    for (const char* c : {"192.0.2.1", "192.0.2.2", "2001:db8:1:2::/64"})
        ASSERT_TRUE(s.add_bad(c, 1, bans(1), "mx1", &st, &error)) << error;
    ASSERT_TRUE(s.add_bad("198.51.100.9", 1, bans(), "mx2", &st, &error)) << error;
    r.cli({"SET", p + "ban:not-an-address", "junk"});
    r.cli({"SET", p + "bad:" + std::string(300, '1'), "junk"});
    r.cli({"SET", "rg1xx:ban:192.0.2.99", "another prefix"});
    std::vector<ClientRecord> records;
    ASSERT_TRUE(s.list(bans(1), 100, &records, &error)) << error;
    ASSERT_EQ(records.size(), 4u);
    // Banned first.
    EXPECT_GT(records[0].ban_left.count(), 0);
    EXPECT_EQ(records[3].key, "198.51.100.9");
    EXPECT_EQ(records[3].ban_left.count(), 0);
    EXPECT_EQ(records[3].bad_in_window, 1u);
    EXPECT_EQ(records[3].host, "mx2");
    std::size_t lifted = 0;
    ASSERT_TRUE(s.forget(*parse_network("2001:db8:1:2::77"), &lifted, &error)) << error;
    EXPECT_EQ(lifted, 1u);
    ASSERT_TRUE(s.forget(*parse_network("192.0.2.0/24"), &lifted, &error)) << error;
    EXPECT_EQ(lifted, 2u);
    ASSERT_TRUE(s.list(bans(1), 100, &records, &error)) << error;
    ASSERT_EQ(records.size(), 1u);
    EXPECT_EQ(records[0].key, "198.51.100.9");
    EXPECT_EQ(r.cli({"EXISTS", "rg1xx:ban:192.0.2.99"}), "1\n");
}

TEST(RedisStore, ScriptCacheFlushed_CountsOnWithoutError) {
    RedisFixture& r = RedisFixture::shared();
    RedisStore s(options_for(r.address()), prefix_for_test());
    SharedStanding st;
    std::string error;
    ASSERT_TRUE(s.add_bad("192.0.2.20", 1, bans(), "mx1", &st, &error)) << error;
    ASSERT_TRUE(s.add_bad("192.0.2.20", 1, bans(), "mx1", &st, &error)) << error;  // by digest now
    r.cli({"SCRIPT", "FLUSH"});
    ASSERT_TRUE(s.add_bad("192.0.2.20", 1, bans(), "mx1", &st, &error)) << error;  // NOSCRIPT: loaded again
    EXPECT_EQ(st.bad_in_window, 3u);
}

TEST(RedisClient, AclUserAndPassword_LogsIn_WrongPasswordRefused) {
    RedisFixture& r = RedisFixture::shared();
    RedisOptions good = options_for(r.address());
    good.user = RedisFixture::kUser;
    good.password = RedisFixture::kPassword;
    good.db = 3;
    RedisClient client(good);
    RedisValue v;
    std::string error;
    ASSERT_TRUE(client.call({"ACL", "WHOAMI"}, &v, &error)) << error;
    EXPECT_EQ(v.str, RedisFixture::kUser);
    RedisOptions bad = good;
    bad.password = "not-the-password";
    RedisClient refused(bad);
    EXPECT_FALSE(refused.call({"PING"}, &v, &error));
    EXPECT_NE(error.find("refused the login"), std::string::npos) << error;
    EXPECT_EQ(error.find("not-the-password"), std::string::npos) << "a secret in a message: " << error;
}

TEST(RedisClient, FirstServerDead_SecondAnswers) {
    RedisFixture& r = RedisFixture::shared();
    RedisOptions o = options_for("127.0.0.1:" + std::to_string(r.port() == 1 ? 2 : 1));
    RedisServer second;
    ASSERT_EQ(parse_redis_server(r.address(), &second), "");
    o.servers.push_back(second);
    o.retry_after = Millis(60000);
    RedisClient client(o);
    RedisValue v;
    std::string error;
    ASSERT_TRUE(client.call({"PING"}, &v, &error)) << error;
    EXPECT_EQ(v.str, "PONG");
    ASSERT_TRUE(client.call({"PING"}, &v, &error)) << error;  // the dead one is skipped now
}

TEST(RedisClient, ServerKilledFrozenRestarted_CallsFail_ThenWorkAgain) {
    RedisFixture own;
    RedisStore s(options_for(own.address(), Millis(300)), "k:");
    SharedStanding st;
    std::string error;
    ASSERT_TRUE(s.add_bad("192.0.2.30", 1, bans(), "mx1", &st, &error)) << error;
    own.pause();
    EXPECT_FALSE(s.add_bad("192.0.2.30", 1, bans(), "mx1", &st, &error));
    EXPECT_NE(error.find("no answer in time"), std::string::npos) << error;
    EXPECT_FALSE(s.ping(&error));
    own.resume();
    s.reset();
    ASSERT_TRUE(s.ping(&error)) << error;
    own.stop();
    EXPECT_FALSE(s.add_bad("192.0.2.30", 1, bans(), "mx1", &st, &error));
    EXPECT_FALSE(s.ping(&error));
    EXPECT_NE(error.find("cannot connect"), std::string::npos) << error;
    own.start();
    // The pooled connection died with the server: replaced within the call.
    ASSERT_TRUE(s.add_bad("192.0.2.30", 1, bans(), "mx1", &st, &error)) << error;
    EXPECT_EQ(st.bad_in_window, 1u);  // a fresh, empty server
}

struct GarbageCase {
    const char* name;
    std::string answer;
    const char* error;
};

class GarbageAnswers : public ::testing::TestWithParam<GarbageCase> {};

TEST_P(GarbageAnswers, CallFails_NoCrash) {
    CannedServer server(GetParam().answer);
    RedisStore s(options_for(server.address(), Millis(500)), "g:");
    SharedStanding st;
    std::string error;
    EXPECT_FALSE(s.add_bad("192.0.2.40", 1, bans(), "mx1", &st, &error));
    EXPECT_NE(error.find(GetParam().error), std::string::npos) << error;
    EXPECT_FALSE(s.ping(&error));
}

INSTANTIATE_TEST_SUITE_P(
    Table, GarbageAnswers,
    ::testing::Values(GarbageCase{"http", "HTTP/1.0 400 Bad Request\r\n\r\n", "not a Redis answer"},
                      GarbageCase{"binary", std::string("\x00\xff\x01\x02", 4), "not a Redis answer"},
                      // Sizes announced but never sent, far beyond any limit: refused
                      // before anything is allocated.
                      GarbageCase{"huge_string", "$999999999999999\r\nabc", "no answer in time"},
                      GarbageCase{"huge_array", "*2147483647\r\n:1\r\n", "not a Redis answer"},
                      GarbageCase{"deep_nesting", "*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n:1\r\n",
                                  "not a Redis answer"},
                      // Well-formed, but not what the script returns (twice: the first call
                      // sends SCRIPT LOAD and EVAL together).
                      GarbageCase{"wrong_shape", "*2\r\n:1\r\n:2\r\n*2\r\n:1\r\n:2\r\n", "unexpected answer"},
                      GarbageCase{"absurd_count",
                                  "*5\r\n:99999999999\r\n:0\r\n:0\r\n$0\r\n\r\n$0\r\n\r\n"
                                  "*5\r\n:99999999999\r\n:0\r\n:0\r\n$0\r\n\r\n$0\r\n\r\n",
                                  "unexpected answer"},
                      GarbageCase{"error_reply", "-ERR something broke\r\n-ERR something broke\r\n", "something broke"},
                      // Half an answer, then nothing: the deadline ends it.
                      GarbageCase{"trickle", "*5\r\n:1\r\n", "no answer in time"}),
    [](const ::testing::TestParamInfo<GarbageCase>& i) { return std::string(i.param.name); });

TEST(RedisClient, NothingListening_FailsWithReason) {
    RedisStore s(options_for("127.0.0.1:1", Millis(300)), "n:");
    std::string error;
    EXPECT_FALSE(s.ping(&error));
    EXPECT_NE(error.find("127.0.0.1:1: cannot connect"), std::string::npos) << error;
    RedisStore u(options_for("unix:/nonexistent/redis.sock", Millis(300)), "n:");
    EXPECT_FALSE(u.ping(&error));
    EXPECT_NE(error.find("cannot connect"), std::string::npos) << error;
}

}  // namespace
}  // namespace rcptguard
