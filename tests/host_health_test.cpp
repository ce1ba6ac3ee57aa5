// Unit tests for LdapServerHealth (backends/ldap_server_health.hpp): which
// directory servers are skipped after a failure, for how long, and who retries.
// Pure: time points are given, nothing waits.
#include "backends/ldap_server_health.hpp"

#include <gtest/gtest.h>

namespace rcptguard {
namespace {

using std::chrono::milliseconds;
using Clock = LdapServerHealth::Clock;

const std::string kA = "ldap://a.example/";
const std::string kB = "ldap://b.example/";

TEST(LdapServerHealth, UnknownServer_MayBeTried) {
    LdapServerHealth h(milliseconds(2000));
    std::string why;
    EXPECT_TRUE(h.may_try(kA, Clock::now(), &why));
    EXPECT_EQ(why, "");
}

TEST(LdapServerHealth, FailedServer_SkippedWithReasonUntilRetryAfter) {
    LdapServerHealth h(milliseconds(2000));
    Clock::time_point t0 = Clock::now();
    h.failed(kA, "connect: Can't contact LDAP server", t0);
    std::string why;
    EXPECT_FALSE(h.may_try(kA, t0 + milliseconds(400), &why));
    EXPECT_EQ(why,
              "not tried: it failed 0.4s ago (connect: Can't contact LDAP server); next try in 1.6s "
              "(retry_after)");
    EXPECT_FALSE(h.may_try(kA, t0 + milliseconds(1999), &why));
    EXPECT_TRUE(h.may_try(kB, t0 + milliseconds(400), &why)) << "only the failed server is skipped";
}

TEST(LdapServerHealth, RetryAfterUp_OneCallerRetries_OthersKeepSkipping) {
    LdapServerHealth h(milliseconds(2000));
    Clock::time_point t0 = Clock::now();
    h.failed(kA, "search: Timed out", t0);
    std::string why;
    EXPECT_TRUE(h.may_try(kA, t0 + milliseconds(2000), &why));   // this one retries
    EXPECT_FALSE(h.may_try(kA, t0 + milliseconds(2001), &why));  // while it does, the others skip
    EXPECT_NE(why.find("it failed 2.0s ago (search: Timed out)"), std::string::npos) << why;
    EXPECT_TRUE(h.may_try(kA, t0 + milliseconds(4000), &why)) << "a retry that never reported back claims no more";
}

TEST(LdapServerHealth, SucceededRetry_ServerUsedAgainAtOnce) {
    LdapServerHealth h(milliseconds(2000));
    Clock::time_point t0 = Clock::now();
    h.failed(kA, "search: Timed out", t0);
    std::string why;
    ASSERT_TRUE(h.may_try(kA, t0 + milliseconds(2500), &why));
    h.succeeded(kA);
    EXPECT_TRUE(h.may_try(kA, t0 + milliseconds(2501), &why));
    EXPECT_TRUE(h.may_try(kA, t0 + milliseconds(2502), &why));
}

TEST(LdapServerHealth, FailedRetry_SkippedAnotherRetryAfter_WithTheNewReason) {
    LdapServerHealth h(milliseconds(2000));
    Clock::time_point t0 = Clock::now();
    h.failed(kA, "connect: Can't contact LDAP server", t0);
    std::string why;
    ASSERT_TRUE(h.may_try(kA, t0 + milliseconds(2000), &why));
    h.failed(kA, "bind: Invalid credentials", t0 + milliseconds(2100));
    EXPECT_FALSE(h.may_try(kA, t0 + milliseconds(4000), &why));
    EXPECT_NE(why.find("it failed 1.9s ago (bind: Invalid credentials); next try in 0.1s"), std::string::npos) << why;
    EXPECT_TRUE(h.may_try(kA, t0 + milliseconds(4100), &why));
}

TEST(LdapServerHealth, LongAgo_WholeSeconds) {
    LdapServerHealth h(milliseconds(300'000));
    Clock::time_point t0 = Clock::now();
    h.failed(kA, "x", t0);
    std::string why;
    EXPECT_FALSE(h.may_try(kA, t0 + milliseconds(42'300), &why));
    EXPECT_NE(why.find("it failed 42s ago (x); next try in 258s"), std::string::npos) << why;
}

TEST(LdapServerHealth, RetryAfterZero_NeverSkips) {
    LdapServerHealth h(milliseconds(0));
    Clock::time_point t0 = Clock::now();
    h.failed(kA, "connect: Can't contact LDAP server", t0);
    std::string why;
    EXPECT_TRUE(h.may_try(kA, t0, &why));
    EXPECT_TRUE(h.may_try(kA, t0 + milliseconds(1), &why));
}

}  // namespace
}  // namespace rcptguard
