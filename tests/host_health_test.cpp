// Unit tests for HostHealth (util/host_health.hpp): which
// servers are skipped after a failure, for how long, and who retries.
// Pure: time points are given, nothing waits.
#include "util/host_health.hpp"

#include <gtest/gtest.h>

namespace rcptguard {
namespace {

using std::chrono::milliseconds;
using Clock = HostHealth::Clock;

const std::string kA = "ldap://a.example/";
const std::string kB = "ldap://b.example/";

TEST(HostHealth, UnknownServer_MayBeTried) {
    HostHealth h(milliseconds(2000));
    std::string why;
    EXPECT_TRUE(h.may_try(kA, Clock::now(), &why));
    EXPECT_EQ(why, "");
}

TEST(HostHealth, FailedServer_SkippedWithReasonUntilRetryAfter) {
    HostHealth h(milliseconds(2000));
    Clock::time_point t0 = Clock::now();
    h.failed(kA, "connect: Can't contact LDAP server", t0);
    std::string why;
    EXPECT_FALSE(h.may_try(kA, t0 + milliseconds(400), &why));
    EXPECT_EQ(why,
              "not tried: it failed 400ms ago (connect: Can't contact LDAP server); next try in 1.6s "
              "(retry_after)");
    EXPECT_FALSE(h.may_try(kA, t0 + milliseconds(1999), &why));
    EXPECT_TRUE(h.may_try(kB, t0 + milliseconds(400), &why)) << "only the failed server is skipped";
}

TEST(HostHealth, RetryAfterUp_OneCallerRetries_OthersKeepSkipping) {
    HostHealth h(milliseconds(2000));
    Clock::time_point t0 = Clock::now();
    h.failed(kA, "search: Timed out", t0);
    std::string why;
    EXPECT_TRUE(h.may_try(kA, t0 + milliseconds(2000), &why));   // this one retries
    EXPECT_FALSE(h.may_try(kA, t0 + milliseconds(2001), &why));  // while it does, the others skip
    EXPECT_NE(why.find("it failed 2s ago (search: Timed out)"), std::string::npos) << why;
    EXPECT_TRUE(h.may_try(kA, t0 + milliseconds(4000), &why)) << "a retry that never reported back claims no more";
}

TEST(HostHealth, SucceededRetry_ServerUsedAgainAtOnce) {
    HostHealth h(milliseconds(2000));
    Clock::time_point t0 = Clock::now();
    h.failed(kA, "search: Timed out", t0);
    std::string why;
    ASSERT_TRUE(h.may_try(kA, t0 + milliseconds(2500), &why));
    h.succeeded(kA);
    EXPECT_TRUE(h.may_try(kA, t0 + milliseconds(2501), &why));
    EXPECT_TRUE(h.may_try(kA, t0 + milliseconds(2502), &why));
}

TEST(HostHealth, FailedRetry_SkippedAnotherRetryAfter_WithTheNewReason) {
    HostHealth h(milliseconds(2000));
    Clock::time_point t0 = Clock::now();
    h.failed(kA, "connect: Can't contact LDAP server", t0);
    std::string why;
    ASSERT_TRUE(h.may_try(kA, t0 + milliseconds(2000), &why));
    h.failed(kA, "bind: Invalid credentials", t0 + milliseconds(2100));
    EXPECT_FALSE(h.may_try(kA, t0 + milliseconds(4000), &why));
    EXPECT_NE(why.find("it failed 1.9s ago (bind: Invalid credentials); next try in 100ms"), std::string::npos) << why;
    EXPECT_TRUE(h.may_try(kA, t0 + milliseconds(4100), &why));
}

TEST(HostHealth, LongAgo_WholeSeconds) {
    HostHealth h(milliseconds(300'000));
    Clock::time_point t0 = Clock::now();
    h.failed(kA, "x", t0);
    std::string why;
    EXPECT_FALSE(h.may_try(kA, t0 + milliseconds(42'300), &why));
    EXPECT_NE(why.find("it failed 42s ago (x); next try in 4m18s"), std::string::npos) << why;
}

TEST(HostHealth, RetryAfterZero_NeverSkips) {
    HostHealth h(milliseconds(0));
    Clock::time_point t0 = Clock::now();
    h.failed(kA, "connect: Can't contact LDAP server", t0);
    std::string why;
    EXPECT_TRUE(h.may_try(kA, t0, &why));
    EXPECT_TRUE(h.may_try(kA, t0 + milliseconds(1), &why));
}

}  // namespace
}  // namespace rcptguard
