// Unit tests for the per-connection session core (milter/session.hpp):
// verdicts, log lines, message/connection state, MTA-rejected recipients.
#include "core/session.hpp"

#include <gtest/gtest.h>

#include <iostream>
#include <mutex>

#include "tests/fakes/fake_backend.hpp"
#include "tests/fakes/fake_clock.hpp"
#include "util/log.hpp"

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
        s->recipients.domains.add_exact("example.test");
        s->recipients.monitor = monitor;
        s->tarpit.enabled = false;
        rt->backends = {backend_};
        rt->rules = std::make_shared<RecipientRules>(s->recipients, std::make_shared<BackendChain>(rt->backends));
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
    LocalClientState clients_{LocalStateOptions{1000, "", "", nullptr}, clock_};
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
    EXPECT_TRUE(
        logged("NOQUEUE: rcpt: <nosuch@example.test>: reject: 550 5.1.1 <nosuch@example.test>: "
               "Recipient address rejected: User unknown; client=mx.client.test[192.0.2.7] "
               "from=<sender@client.test>"));
    c.on_rcpt({"<user@example.test>", "4F2A1", false});
    c.on_rcpt({"<nosuch2@example.test>", "4F2A1", false});
    EXPECT_TRUE(logged("4F2A1: rcpt: <nosuch2@example.test>: reject: 550 5.1.1"));
}

TEST_F(SessionTest, Utf8Recipient_LoggedInUtf8_ReplyStaysAscii) {
    Connection c(runtime(), {"mx.client.test", "192.0.2.7"}, services_);
    c.on_mail("<j\xC3\xB6rg@client.test>", "");
    RcptDecision d =
        c.on_rcpt({"<\xC3\xBC"
                   "berall@example.test>",
                   "", false});
    EXPECT_EQ(d.reply.to_string(), "550 5.1.1 <\\x{FC}berall@example.test>: Recipient address rejected: User unknown");
    EXPECT_TRUE(
        logged("NOQUEUE: rcpt: <\xC3\xBC"
               "berall@example.test>: reject: 550 5.1.1 <\\x{FC}berall@example.test>: "
               "Recipient address rejected: User unknown; client=mx.client.test[192.0.2.7] "
               "from=<j\xC3\xB6rg@client.test>"));
}

TEST_F(SessionTest, ControlCharactersAndInvalidBytes_EscapedVisiblyInLog) {
    Connection c(runtime(), {"mx.client.test", "192.0.2.7"}, services_);
    c.on_mail("<s\x01@client.test>", "");
    c.on_rcpt({"<j\xF6rg@example.test>", "", false});
    EXPECT_TRUE(logged("NOQUEUE: rcpt: <j\\xf6rg@example.test>: reject: 501 5.1.3 <j?rg@example.test>: "));
    EXPECT_TRUE(logged("from=<s\\x01@client.test>"));
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
    EXPECT_TRUE(logged(
        "<user@example.test>: defer: 451 4.3.0 <user@example.test>: Recipient address rejected: Temporary lookup "
        "failure: "
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

TEST_F(SessionTest, CutOff_RcptLogLineNamesThe421TheClientGot) {
    auto base = runtime();
    auto s = std::make_shared<Settings>(*base->settings);
    s->tarpit.enabled = true;
    s->tarpit.tarpit_after = 100;  // no delays, only the cut-off
    s->tarpit.max_bad_recipients = 3;
    s->tarpit.trusted_networks = NetworkList{};
    auto rt = std::make_shared<Runtime>(*base);
    rt->settings = s;
    Connection c(rt, {"mx.client.test", "192.0.2.9"}, services_);
    c.on_mail("<h@spam.test>", "");
    EXPECT_EQ(c.on_rcpt({"<guess1@example.test>", "", false}).reply.code, "550");
    EXPECT_EQ(c.on_rcpt({"<guess2@example.test>", "", false}).reply.code, "550");
    RcptDecision third = c.on_rcpt({"<guess3@example.test>", "", false});
    ASSERT_EQ(third.reply.code, "421");
    EXPECT_TRUE(logged("NOQUEUE: rcpt: <guess2@example.test>: reject: 550 5.1.1"));
    EXPECT_TRUE(
        logged("NOQUEUE: rcpt: <guess3@example.test>: reject: 421 4.7.0 <guess3@example.test>: Recipient address "
               "rejected: Too many invalid recipients, closing connection (in place of 550 5.1.1: "
               "max_bad_recipients = 3 reached); client=mx.client.test[192.0.2.9] from=<h@spam.test>"));
    std::lock_guard<std::mutex> g(m_);
    for (const auto& l : lines_) EXPECT_EQ(l.find("<guess3@example.test>: reject: 550"), std::string::npos) << l;
}

TEST_F(SessionTest, SnapshotKeptAcrossRuntimeChanges) {
    auto first = runtime();
    Connection c(first, {"h", "192.0.2.1"}, services_);
    EXPECT_EQ(&c.runtime(), first.get());
}

}  // namespace
}  // namespace rcptguard

namespace rcptguard {
namespace {

class BounceSessionTest : public SessionTest {
protected:
    std::shared_ptr<const Runtime> runtime_with(const std::function<void(Settings&)>& tweak) {
        auto base = runtime();
        auto s = std::make_shared<Settings>(*base->settings);
        tweak(*s);
        auto rt = std::make_shared<Runtime>(*base);
        rt->settings = s;
        return rt;
    }
    static constexpr const char* kDsnBody =
        "--B\r\nContent-Type: text/plain\r\n\r\nFailed.\r\n"
        "--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; x.test\r\n\r\n"
        "Final-Recipient: rfc822; a@x.test\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        "--B\r\nContent-Type: message/rfc822\r\n\r\nFrom: s@x.test\r\nSubject: orig\r\n\r\nSPAM LINE\r\n--B--\r\n";
    EomEdits feed_dsn(Connection& c) {
        c.on_header("MIME-Version", " 1.0");
        c.on_header("Content-Type", " multipart/report; report-type=delivery-status; boundary=\"B\"");
        c.on_end_of_headers();
        c.on_body(kDsnBody);
        return c.on_eom(false);
    }
};

TEST_F(BounceSessionTest, TrustedNullSender_Stripped_HeaderThenBody) {
    auto rt = runtime_with([](Settings& s) { s.tarpit.trusted_networks.add_all({"192.0.2.0/24"}); });
    Connection c(rt, {"relay", "192.0.2.5"}, services_);
    c.on_mail("<>", "");
    ASSERT_TRUE(c.wants_content());
    EomEdits e = feed_dsn(c);
    ASSERT_TRUE(e.replace_body);
    ASSERT_EQ(e.add_headers.size(), 1u);
    EXPECT_EQ(e.add_headers[0].first, "X-Rcptguard-Bounce-Stripped");
    EXPECT_EQ(e.new_body.find("SPAM LINE"), std::string::npos);
    EXPECT_NE(e.new_body.find("Subject: orig"), std::string::npos);
    EXPECT_NE(e.new_body.find("text/rfc822-headers"), std::string::npos);
    EXPECT_EQ(metrics_.bounces_stripped.load(), 1u);
    EXPECT_TRUE(logged("bounce: from=<> client=relay[192.0.2.5]: stripped the returned original's body (dsn, "));
    EXPECT_TRUE(logged(" bytes; evidence=null-sender,report-type,status-part); its headers kept"));
}

TEST_F(BounceSessionTest, LeftUnchanged_LogNamesReasonAndEvidence) {
    Connection c(runtime(), {"localhost", "127.0.0.1"}, services_);
    c.on_mail("\"\"", "");
    c.on_header("From", " MAILER-DAEMON@x.test");
    c.on_header("Content-Type", " multipart/report; boundary=\"B\"");
    c.on_end_of_headers();
    c.on_body("--B\r\nContent-Type: text/plain\r\n\r\nHello.\r\n--B--\r\n");
    EXPECT_FALSE(c.on_eom(false).replace_body);
    EXPECT_TRUE(
        logged("bounce: from=<> client=localhost[127.0.0.1]: left unchanged (report): no returned message "
               "part; evidence=null-sender,from-mailer-daemon"));
}

TEST_F(BounceSessionTest, OrdinaryMail_ContentNotWanted) {
    Connection c(runtime(), {"h", "192.0.2.1"}, services_);
    c.on_mail("<someone@x.test>", "");
    EXPECT_FALSE(c.wants_content());
    EXPECT_FALSE(c.on_eom(false).replace_body);
}

TEST_F(BounceSessionTest, UntrustedInbound_LeftAloneByDefault_StrippedWhenConfigured) {
    Connection c(runtime(), {"h", "198.51.100.1"}, services_);
    c.on_mail("<>", "");
    EXPECT_FALSE(c.wants_content());
    auto rt = runtime_with([](Settings& s) { s.bounces.from_inbound = true; });
    Connection c2(rt, {"h", "198.51.100.1"}, services_);
    c2.on_mail("<>", "");
    EXPECT_TRUE(feed_dsn(c2).replace_body);
}

TEST_F(BounceSessionTest, MtaOwnBounce_NonSmtpPath_StrippedAndRecipientNeverRefused) {
    backend_->fail_everything(true);
    Connection c(runtime(), {"localhost", "127.0.0.1"}, services_);
    c.on_mail("\"\"", "");  // Postfix's cleanup passes its own bounces' sender as ""
    // The recipient (the original sender) is in our domain and unknown, and the
    // backend is down: still no refusal, Postfix would keep the bounce queued.
    EXPECT_EQ(c.on_rcpt({"nosuch@example.test", "", false}).action, RcptAction::Continue);
    EXPECT_TRUE(feed_dsn(c).replace_body);
}

TEST_F(BounceSessionTest, MonitorMode_LogsWouldStrip_NoEdits) {
    auto rt = runtime_with([](Settings& s) { s.recipients.monitor = true; });
    auto rt2 = std::make_shared<Runtime>(*rt);
    auto pol = rt->settings->recipients;
    rt2->rules = std::make_shared<RecipientRules>(pol, std::make_shared<BackendChain>(rt->backends));
    Connection c(rt2, {"localhost", "127.0.0.1"}, services_);
    c.on_mail("\"\"", "");
    EXPECT_FALSE(feed_dsn(c).replace_body);
    EXPECT_TRUE(logged("would strip (monitor mode)"));
}

TEST_F(BounceSessionTest, StripDisabled_NothingWanted) {
    auto rt = runtime_with([](Settings& s) { s.bounces.enabled = false; });
    Connection c(rt, {"localhost", "127.0.0.1"}, services_);
    c.on_mail("\"\"", "");
    EXPECT_FALSE(c.wants_content());
}

}  // namespace
}  // namespace rcptguard
