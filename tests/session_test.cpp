// Unit tests for the per-connection session core (milter/session.hpp):
// verdicts, log lines, message/connection state, MTA-rejected recipients.
#include "milter/session.hpp"

#include <gtest/gtest.h>

#include <iostream>
#include <mutex>

#include "milter/log.hpp"
#include "tests/fakes/fake_backend.hpp"
#include "tests/fakes/fake_clock.hpp"

namespace rcptguard {
namespace {

using testing::FakeBackend;
using testing::FakeClock;
using testing::FakeSleeper;

class SessionTest : public ::testing::Test {
protected:
    void SetUp() override {
        backend_ = std::make_shared<FakeBackend>("users");
        backend_->add("user@example.test");
        set_log_level(LogLevel::Debug);
        set_log_capture([this](LogLevel, const std::string& l) {
            std::lock_guard<std::mutex> g(m_);
            lines_.push_back(l);
        });
    }
    void TearDown() override {
        set_log_capture(nullptr);
        set_log_level(LogLevel::Info);
    }
    std::shared_ptr<const Runtime> runtime(bool monitor = false) {
        auto rt = std::make_shared<Runtime>();
        auto s = std::make_shared<Settings>();
        s->policy.domains.add_exact("example.test");
        s->policy.monitor = monitor;
        s->tarpit.enabled = false;
        rt->backends = {backend_};
        rt->policy = std::make_shared<RecipientPolicy>(s->policy, std::make_shared<BackendChain>(rt->backends));
        rt->settings = s;
        return rt;
    }
    bool logged(const std::string& needle) {
        std::lock_guard<std::mutex> g(m_);
        for (const auto& l : lines_)
            if (l.find(needle) != std::string::npos) return true;
        for (const auto& l : lines_) std::cerr << "  logged: " << l << "\n";
        return false;
    }

    std::shared_ptr<FakeBackend> backend_;
    FakeClock clock_;
    FakeSleeper sleeper_{clock_};
    ClientTable clients_{1000, clock_};
    Tarpit tarpit_{clients_, sleeper_, clock_};
    Metrics metrics_;
    Services services_{clock_, tarpit_, metrics_};
    std::mutex m_;
    std::vector<std::string> lines_;
};

TEST_F(SessionTest, ManyRecipients_EachGetsItsOwnVerdict) {
    Connection c(runtime(), {"mx.client.test", "192.0.2.7"}, services_);
    c.on_mail("<sender@client.test>", "");
    EXPECT_EQ(c.on_rcpt({"<user@example.test>", "", false}).action, RcptAction::Continue);
    EXPECT_EQ(c.on_rcpt({"<nosuch@example.test>", "ABC123", false}).action, RcptAction::Reject);
    EXPECT_EQ(c.on_rcpt({"<user+x@example.test>", "ABC123", false}).action, RcptAction::Continue);
    EXPECT_EQ(c.on_rcpt({"<other@elsewhere.test>", "ABC123", false}).action, RcptAction::Continue);
    EXPECT_EQ(c.bad_recipients(), 1u);
}

TEST_F(SessionTest, Reject_LoggedWithQueueIdClientAndSender) {
    Connection c(runtime(), {"mx.client.test", "192.0.2.7"}, services_);
    c.on_mail("<sender@client.test>", "");
    c.on_rcpt({"<nosuch@example.test>", "", false});
    EXPECT_TRUE(logged("NOQUEUE: rcpt: <nosuch@example.test>: reject: 550 5.1.1 <nosuch@example.test>: "
                       "Recipient address rejected: User unknown; client=mx.client.test[192.0.2.7] "
                       "from=<sender@client.test>"));
    c.on_rcpt({"<user@example.test>", "4F2A1", false});
    c.on_rcpt({"<nosuch2@example.test>", "4F2A1", false});
    EXPECT_TRUE(logged("4F2A1: rcpt: <nosuch2@example.test>: reject: 550 5.1.1"));
}

TEST_F(SessionTest, MonitorMode_LogsWouldReject_Continues) {
    Connection c(runtime(true), {"h", "192.0.2.1"}, services_);
    c.on_mail("<>", "");
    EXPECT_EQ(c.on_rcpt({"<nosuch@example.test>", "", false}).action, RcptAction::Continue);
    EXPECT_TRUE(logged("<nosuch@example.test>: would reject (monitor mode): 550 5.1.1"));
}

TEST_F(SessionTest, BackendOutage_DeferLoggedWithCause) {
    backend_->fail_everything(true);
    Connection c(runtime(), {"h", "192.0.2.1"}, services_);
    c.on_mail("<s@x.test>", "");
    RcptDecision d = c.on_rcpt({"<user@example.test>", "", false});
    EXPECT_EQ(d.action, RcptAction::TempFail);
    EXPECT_EQ(d.reply.code, "451");
    EXPECT_TRUE(logged("<user@example.test>: defer: 451 4.3.0 <user@example.test>: Temporary lookup failure: "
                       "backend users: fake outage"));
}

TEST_F(SessionTest, RecipientRejectedByMta_CountedNotLookedUp) {
    Connection c(runtime(), {"h", "192.0.2.1"}, services_);
    c.on_mail("<s@x.test>", "");
    EXPECT_EQ(c.on_rcpt({"<nosuch@local.test>", "", true}).action, RcptAction::Continue);
    EXPECT_TRUE(backend_->calls().empty());
    EXPECT_EQ(c.bad_recipients(), 1u);
}

TEST_F(SessionTest, QueueId_ResetBetweenMessages_BadCountKept) {
    Connection c(runtime(), {"h", "192.0.2.1"}, services_);
    c.on_mail("<s@x.test>", "");
    c.on_rcpt({"<nosuch@example.test>", "Q1", false});
    EXPECT_EQ(c.queue_id(), "Q1");
    c.on_message_end();
    EXPECT_EQ(c.queue_id(), "");
    c.on_mail("<s@x.test>", "");
    c.on_rcpt({"<nosuch@example.test>", "", false});
    EXPECT_EQ(c.bad_recipients(), 2u);
}

TEST_F(SessionTest, SnapshotKeptAcrossRuntimeChanges) {
    auto first = runtime();
    Connection c(first, {"h", "192.0.2.1"}, services_);
    EXPECT_EQ(&c.runtime(), first.get());
}

}  // namespace
}  // namespace rcptguard
