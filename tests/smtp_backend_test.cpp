// The call-ahead backend (backends/smtp/) against a fake SMTP server on
// loopback in this process (tests/fakes/fake_smtp_server.hpp): reply
// mapping, hostile replies, connection reuse, the per-host connection limit,
// blind-MX detection, failing and hung servers, STARTTLS refusals, keys that
// must never reach the wire, and the configuration's checks. A real Postfix
// as the downstream is in tests/integration/test_call_ahead.py.
#include "backends/smtp/smtp_backend.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include <mutex>
#include <thread>

#include "backends/registry.hpp"
#include "backends/smtp/smtp_config.hpp"
#include "tests/fakes/fake_smtp_server.hpp"
#include "util/log.hpp"

namespace rcptguard {
namespace {

using namespace std::chrono_literals;
using testing::FakeSmtpServer;

// Collects log lines for the test's lifetime.
class LogCapture {
public:
    LogCapture() {
        set_log_level(LogLevel::Debug);
        set_log_capture([this](LogLevel, const std::string& line) {
            std::lock_guard<std::mutex> l(m_);
            lines_.push_back(line);
        });
    }
    ~LogCapture() {
        set_log_capture(nullptr);
        set_log_level(LogLevel::Info);
    }
    int count(const std::string& part) const {
        std::lock_guard<std::mutex> l(m_);
        int n = 0;
        for (const auto& s : lines_)
            if (s.find(part) != std::string::npos) ++n;
        return n;
    }
    std::string all() const {
        std::lock_guard<std::mutex> l(m_);
        std::string s;
        for (const auto& x : lines_) s += x + "\n";
        return s;
    }

private:
    mutable std::mutex m_;
    std::vector<std::string> lines_;
};

// Polls (bounded) until done() holds: the fake server handles commands on its
// own threads.
template <typename F>
bool eventually(F done) {
    for (int i = 0; i < 500 && !done(); ++i) std::this_thread::sleep_for(10ms);
    return done();
}

SmtpOptions options_for(const std::vector<std::string>& hosts) {
    SmtpOptions o;
    for (const auto& h : hosts) {
        SmtpServer s;
        std::string problem;
        EXPECT_TRUE(parse_smtp_host(h, &s, &problem)) << problem;
        o.hosts.push_back(s);
    }
    o.client.helo_name = "gw.example.test";
    o.client.connect_timeout = 3s;
    o.client.command_timeout = 3s;
    o.blind_check_interval = 0ms;  // tests of blind MX detection turn it on
    o.retry_after = 0ms;
    return o;
}

std::shared_ptr<SmtpBackend> backend_for(const FakeSmtpServer& s, std::function<void(SmtpOptions&)> tweak = {}) {
    SmtpOptions o = options_for({s.host()});
    if (tweak) tweak(o);
    return std::make_shared<SmtpBackend>("downstream", std::move(o));
}

std::string dead_host() {
    // A port nobody listens on: bind one and close it again.
    FakeSmtpServer s;
    std::string host = s.host();
    s.stop();
    return host;
}

// --- verdicts -----------------------------------------------------------------------

TEST(SmtpBackend, KnownRecipient_Found_UnknownNotFound) {
    FakeSmtpServer s;
    s.add_mailbox("alice@example.test");
    auto b = backend_for(s);
    EXPECT_EQ(b->lookup("alice@example.test").status, LookupStatus::Found);
    EXPECT_FALSE(b->lookup("alice@example.test").unverified);
    EXPECT_EQ(b->lookup("nobody@example.test").status, LookupStatus::NotFound);
    auto rcpts = s.commands_starting("RCPT TO:");
    ASSERT_EQ(rcpts.size(), 3u);
    EXPECT_EQ(rcpts[2], "RCPT TO:<nobody@example.test>");
    EXPECT_EQ(s.commands_starting("MAIL FROM:").front(), "MAIL FROM:<>");
    EXPECT_EQ(s.commands_starting("EHLO").front(), "EHLO gw.example.test");
    EXPECT_TRUE(s.commands_starting("DATA").empty());
}

struct ReplyCase {
    std::string name;
    std::string reply;  // to RCPT TO for the address asked
    LookupStatus want;
    std::string reason;  // a part of the TempFail reason
};

class SmtpReplies : public ::testing::TestWithParam<ReplyCase> {};

TEST_P(SmtpReplies, ReplyToRcpt_MappedToOneVerdict_ServerStillUsableAfterwards) {
    const ReplyCase& c = GetParam();
    FakeSmtpServer s;
    s.add_mailbox("alice@example.test");
    s.set_script([&c](const std::string& line) -> std::optional<std::string> {
        if (line == "RCPT TO:<probe@example.test>") return c.reply;
        return std::nullopt;
    });
    auto b = backend_for(s);
    LookupResult r = b->lookup("probe@example.test");
    EXPECT_EQ(r.status, c.want) << r.reason;
    if (c.want == LookupStatus::TempFail) {
        EXPECT_NE(r.reason.find(s.host() + ": "), std::string::npos) << r.reason;
        EXPECT_NE(r.reason.find(c.reason), std::string::npos) << r.reason;
        EXPECT_EQ(r.reason.find('\0'), std::string::npos);
        EXPECT_LE(r.reason.size(), 600u);
    }
    // Whatever it sent, the next lookup gets a proper answer.
    EXPECT_EQ(b->lookup("alice@example.test").status, LookupStatus::Found);
}

const ReplyCase kReplyCases[] = {
    {"accepted_250", "250 2.1.5 Ok\r\n", LookupStatus::Found, ""},
    {"forwarded_251", "251 2.1.5 User not local; will forward\r\n", LookupStatus::Found, ""},
    {"unknown_550_511", "550 5.1.1 <probe@example.test>: User unknown\r\n", LookupStatus::NotFound, ""},
    {"moved_551_516", "551 5.1.6 User has moved\r\n", LookupStatus::NotFound, ""},
    {"bad_553_513", "553 5.1.3 Bad recipient address syntax\r\n", LookupStatus::NotFound, ""},
    {"multi_line_550", "550-5.1.1 The account does not exist.\r\n550 5.1.1 Check the address.\r\n",
     LookupStatus::NotFound, ""},
    {"busy_450", "450 4.2.1 Mailbox busy\r\n", LookupStatus::TempFail, "RCPT TO answered 450 4.2.1 Mailbox busy"},
    {"tempfail_451", "451 4.3.0 Temporary lookup failure\r\n", LookupStatus::TempFail, "451 4.3.0"},
    {"policy_550_571", "550 5.7.1 Access denied\r\n", LookupStatus::TempFail, "550 5.7.1 Access denied"},
    {"system_550_530", "550 5.3.0 Mail system full\r\n", LookupStatus::TempFail, "550 5.3.0"},
    {"no_enhanced_code", "550 User unknown\r\n", LookupStatus::TempFail, "550 User unknown"},
    {"mailbox_full_552", "552 5.2.2 Mailbox full\r\n", LookupStatus::TempFail, "552 5.2.2"},
    {"closing_421", "421 4.3.2 Service shutting down\r\n", LookupStatus::TempFail, "421 4.3.2"},
    {"ten_kilobyte_line", "550 5.1.1 " + std::string(10240, 'A') + "\r\n", LookupStatus::TempFail, "longer than"},
    {"nul_bytes", std::string("550 5.1.1 no\0such\0user\r\n", 24), LookupStatus::TempFail, "NUL"},
    {"invalid_code", "99 bottles\r\n", LookupStatus::TempFail, "not an SMTP reply"},
    {"code_out_of_range", "650 5.1.1 unknown\r\n", LookupStatus::TempFail, "not an SMTP reply"},
    {"codes_differ_in_multi_line", "250-2.1.5 fine\r\n550 5.1.1 not fine\r\n", LookupStatus::TempFail,
     "different codes"},
    {"endless_multi_line",
     [] {
         std::string s;
         for (int i = 0; i < 500; ++i) s += "550-5.1.1 again\r\n";
         return s;
     }(),
     LookupStatus::TempFail, "more than 100 lines"},
    {"connection_closed", FakeSmtpServer::kClose, LookupStatus::TempFail, "closed the connection"},
};

INSTANTIATE_TEST_SUITE_P(Table, SmtpReplies, ::testing::ValuesIn(kReplyCases),
                         [](const ::testing::TestParamInfo<ReplyCase>& i) { return i.param.name; });

TEST(SmtpBackend, MailFromRefused_TempFail_WithTheReply) {
    FakeSmtpServer s;
    s.add_mailbox("alice@example.test");
    s.set_script([](const std::string& line) -> std::optional<std::string> {
        if (line.rfind("MAIL FROM:", 0) == 0) return "550 5.7.1 We do not take mail from <>\r\n";
        return std::nullopt;
    });
    auto b = backend_for(s);
    LookupResult r = b->lookup("alice@example.test");
    EXPECT_EQ(r.status, LookupStatus::TempFail);
    EXPECT_NE(r.reason.find("MAIL FROM answered 550 5.7.1 We do not take mail from <>"), std::string::npos) << r.reason;
}

TEST(SmtpBackend, ProbeSenderOfOurs_UsedInMailFrom) {
    FakeSmtpServer s;
    s.add_mailbox("alice@example.test");
    auto b = backend_for(s, [](SmtpOptions& o) { o.probe_sender = "<double-bounce@gw.example.test>"; });
    EXPECT_EQ(b->lookup("alice@example.test").status, LookupStatus::Found);
    EXPECT_EQ(s.commands_starting("MAIL FROM:").front(), "MAIL FROM:<double-bounce@gw.example.test>");
}

// --- only the full address, and only real addresses ------------------------------------

TEST(SmtpBackend, LookupAny_ProbesOnlyTheFullAddress) {
    FakeSmtpServer s;
    s.add_mailbox("bob+news@example.test");
    auto b = backend_for(s);
    std::size_t matched = 9;
    LookupResult r = b->lookup_any({"bob+news@example.test", "bob@example.test", "@example.test"}, &matched);
    EXPECT_EQ(r.status, LookupStatus::Found);
    EXPECT_EQ(matched, 0u);
    EXPECT_EQ(b->lookup_any({"carol+x@example.test", "carol@example.test", "@example.test"}, &matched).status,
              LookupStatus::NotFound);
    std::vector<std::string> want = {"RCPT TO:<bob+news@example.test>", "RCPT TO:<carol+x@example.test>"};
    EXPECT_EQ(s.commands_starting("RCPT TO:"), want);
}

TEST(SmtpBackend, KeysThatAreNotAddresses_NotFound_NeverSent) {
    FakeSmtpServer s;
    auto b = backend_for(s);
    const std::string keys[] = {"@example.test",
                                std::string("a@example.test\0DATA", 19),
                                "a@example.test\r\nDATA",
                                "a@example.test>\r\nRSET",
                                "<a@example.test>",
                                "no-domain",
                                "",
                                "a b@example.test",
                                "\xff\xfe@example.test"};
    for (const auto& k : keys) EXPECT_EQ(b->lookup(k).status, LookupStatus::NotFound) << k;
    EXPECT_EQ(s.connections(), 0) << "nothing should have been sent";
}

TEST(SmtpBackend, NonAsciiAddress_NeedsSmtpUtf8) {
    FakeSmtpServer plain;
    auto b = backend_for(plain);
    LookupResult r = b->lookup("j\xc3\xb6rg@example.test");
    EXPECT_EQ(r.status, LookupStatus::TempFail);
    EXPECT_NE(r.reason.find("SMTPUTF8"), std::string::npos) << r.reason;

    FakeSmtpServer::Options o;
    o.smtputf8 = true;
    FakeSmtpServer utf8(o);
    utf8.add_mailbox("j\xc3\xb6rg@example.test");
    auto b2 = backend_for(utf8);
    EXPECT_EQ(b2->lookup("j\xc3\xb6rg@example.test").status, LookupStatus::Found);
    EXPECT_EQ(utf8.commands_starting("MAIL FROM:").front(), "MAIL FROM:<> SMTPUTF8");
}

// --- connections ----------------------------------------------------------------------

TEST(SmtpBackend, ManyProbes_OneConnection_RsetBetween) {
    FakeSmtpServer s;
    s.add_mailbox("alice@example.test");
    auto b = backend_for(s, [](SmtpOptions& o) { o.client.refusals_per_connection = 0; });
    for (int i = 0; i < 50; ++i)
        EXPECT_EQ(b->lookup(i % 2 ? "alice@example.test" : "u" + std::to_string(i) + "@example.test").status,
                  i % 2 ? LookupStatus::Found : LookupStatus::NotFound);
    EXPECT_EQ(s.connections(), 1);
    EXPECT_EQ(s.commands_starting("MAIL FROM:").size(), 50u);
    // Right after each probe; the last one is sent without waiting for its
    // reply, so the server may read it a moment after the lookup returned.
    EXPECT_TRUE(eventually([&] { return s.commands_starting("RSET").size() == 50u; }));
}

TEST(SmtpBackend, WithoutPipeliningOrEhlo_SameAnswers) {
    FakeSmtpServer::Options o;
    o.ehlo = false;  // HELO only: no extensions at all
    FakeSmtpServer s(o);
    s.add_mailbox("alice@example.test");
    auto b = backend_for(s);
    for (int i = 0; i < 5; ++i) {
        EXPECT_EQ(b->lookup("alice@example.test").status, LookupStatus::Found);
        EXPECT_EQ(b->lookup("nobody@example.test").status, LookupStatus::NotFound);
    }
    EXPECT_EQ(s.connections(), 1);
    EXPECT_EQ(s.commands_starting("HELO gw.example.test").size(), 1u);
}

TEST(SmtpBackend, ProbesPerConnection_NewConnectionAfterThatMany) {
    FakeSmtpServer s;
    s.add_mailbox("alice@example.test");
    auto b = backend_for(s, [](SmtpOptions& o) { o.client.probes_per_connection = 5; });
    for (int i = 0; i < 12; ++i) EXPECT_EQ(b->lookup("alice@example.test").status, LookupStatus::Found);
    EXPECT_EQ(s.connections(), 3);
    EXPECT_TRUE(eventually([&] { return s.commands_starting("QUIT").size() == 2u; }));
}

TEST(SmtpBackend, RefusalsPerConnection_NewConnectionBeforeTheServerThrottles) {
    FakeSmtpServer s;
    auto b = backend_for(s, [](SmtpOptions& o) { o.client.refusals_per_connection = 3; });
    for (int i = 0; i < 9; ++i)
        EXPECT_EQ(b->lookup("u" + std::to_string(i) + "@example.test").status, LookupStatus::NotFound);
    EXPECT_EQ(s.connections(), 3);
}

TEST(SmtpBackend, ManyThreads_NeverMoreThanMaxConnections_AllAnswered) {
    FakeSmtpServer::Options so;
    so.reply_delay = 2ms;  // so that lookups overlap
    FakeSmtpServer s(so);
    for (int i = 0; i < 50; ++i) s.add_mailbox("u" + std::to_string(i) + "@example.test");
    auto b = backend_for(s, [](SmtpOptions& o) {
        o.max_connections = 2;
        o.client.refusals_per_connection = 0;
        o.client.probes_per_connection = 1000;
    });
    std::atomic<int> wrong{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t)
        threads.emplace_back([&, t] {
            for (int i = 0; i < 15; ++i) {
                int n = (i * 7 + t) % 100;
                auto want = n < 50 ? LookupStatus::Found : LookupStatus::NotFound;
                if (b->lookup("u" + std::to_string(n) + "@example.test").status != want) ++wrong;
            }
        });
    for (auto& th : threads) th.join();
    EXPECT_EQ(wrong.load(), 0);
    EXPECT_LE(s.max_open(), 2);
    EXPECT_LE(s.connections(), 2);
}

TEST(SmtpBackend, AllConnectionsBusy_WaitsThenTempFail) {
    FakeSmtpServer s;
    s.add_mailbox("alice@example.test");
    auto b = backend_for(s, [](SmtpOptions& o) {
        o.max_connections = 1;
        o.client.connect_timeout = 10s;
        o.client.command_timeout = 300ms;
    });
    s.hold(true);  // the one connection is stuck waiting for its greeting
    LookupResult first;
    std::thread t([&] { first = b->lookup("alice@example.test"); });
    // Wait until the first lookup holds the only connection.
    ASSERT_TRUE(eventually([&] { return s.connections() == 1; }));
    LookupResult second = b->lookup("alice@example.test");
    EXPECT_EQ(second.status, LookupStatus::TempFail);
    EXPECT_NE(second.reason.find("all 1 connections busy for 300ms (max_connections)"), std::string::npos)
        << second.reason;
    s.hold(false);
    t.join();
    EXPECT_EQ(first.status, LookupStatus::Found) << first.reason;
    EXPECT_EQ(s.connections(), 1);
}

TEST(SmtpBackend, PooledConnectionClosedByServer_RetriedOnANewOne) {
    FakeSmtpServer s;
    s.add_mailbox("alice@example.test");
    auto b = backend_for(s);
    EXPECT_EQ(b->lookup("alice@example.test").status, LookupStatus::Found);
    s.drop_sessions();  // as a server does with idle connections
    ASSERT_TRUE(eventually([&] { return s.open() == 0; }));
    LookupResult r = b->lookup("alice@example.test");
    EXPECT_EQ(r.status, LookupStatus::Found) << r.reason;
    EXPECT_EQ(s.connections(), 2);
}

TEST(SmtpBackend, IdleConnectionsClosedByMaintain) {
    FakeSmtpServer s;
    s.add_mailbox("alice@example.test");
    auto b = backend_for(s, [](SmtpOptions& o) { o.idle_timeout = 1ms; });
    EXPECT_EQ(b->lookup("alice@example.test").status, LookupStatus::Found);
    ASSERT_EQ(b->open_connections(), std::vector<int>{1});
    std::this_thread::sleep_for(5ms);
    b->maintain();
    EXPECT_EQ(b->open_connections(), std::vector<int>{0});
    EXPECT_TRUE(eventually([&] { return s.commands_starting("QUIT").size() == 1u; }));
}

// --- failing servers ---------------------------------------------------------------------

TEST(SmtpBackend, NothingListening_TempFail_ThenSkippedForRetryAfter) {
    std::string host = dead_host();
    SmtpOptions o = options_for({host});
    o.retry_after = 60s;
    SmtpBackend b("downstream", o);
    LookupResult r = b.lookup("alice@example.test");
    EXPECT_EQ(r.status, LookupStatus::TempFail);
    EXPECT_NE(r.reason.find(host + ": connect: Connection refused"), std::string::npos) << r.reason;
    r = b.lookup("alice@example.test");
    EXPECT_EQ(r.status, LookupStatus::TempFail);
    EXPECT_NE(r.reason.find(host + ": not tried: it failed"), std::string::npos) << r.reason;
    EXPECT_NE(r.reason.find("(retry_after)"), std::string::npos) << r.reason;
    EXPECT_NE(b.probe().find("Connection refused"), std::string::npos);
}

TEST(SmtpBackend, ServerHungBeforeGreeting_TempFailAfterConnectTimeout) {
    FakeSmtpServer s;
    s.hold(true);
    auto b = backend_for(s, [](SmtpOptions& o) { o.client.connect_timeout = 200ms; });
    LookupResult r = b->lookup("alice@example.test");
    EXPECT_EQ(r.status, LookupStatus::TempFail);
    EXPECT_NE(r.reason.find("greeting: no reply within 200ms (connect_timeout)"), std::string::npos) << r.reason;
    s.hold(false);
}

TEST(SmtpBackend, ServerHungDuringProbe_TempFailAfterCommandTimeout_ThenBack) {
    FakeSmtpServer s;
    s.add_mailbox("alice@example.test");
    auto b = backend_for(s, [](SmtpOptions& o) {
        o.client.connect_timeout = 200ms;
        o.client.command_timeout = 200ms;
    });
    EXPECT_EQ(b->lookup("alice@example.test").status, LookupStatus::Found);
    s.hold(true);
    LookupResult r = b->lookup("alice@example.test");
    EXPECT_EQ(r.status, LookupStatus::TempFail);
    EXPECT_NE(r.reason.find("no reply within 200ms (command_timeout)"), std::string::npos) << r.reason;
    s.hold(false);
    EXPECT_EQ(b->lookup("alice@example.test").status, LookupStatus::Found);
}

TEST(SmtpBackend, GreetingRefused_TempFailWithTheReply) {
    FakeSmtpServer s;
    s.set_greeting("554 5.3.2 No SMTP service here\r\n");
    auto b = backend_for(s);
    LookupResult r = b->lookup("alice@example.test");
    EXPECT_EQ(r.status, LookupStatus::TempFail);
    EXPECT_NE(r.reason.find("greeting: 554 5.3.2 No SMTP service here"), std::string::npos) << r.reason;
}

TEST(SmtpBackend, HostileGreeting_TempFail) {
    FakeSmtpServer s;
    s.set_greeting(std::string(20000, '2') + "\r\n");
    auto b = backend_for(s);
    LookupResult r = b->lookup("alice@example.test");
    EXPECT_EQ(r.status, LookupStatus::TempFail);
    EXPECT_NE(r.reason.find("greeting: malformed reply"), std::string::npos) << r.reason;
}

TEST(SmtpBackend, FirstHostDown_SecondAnswers_AndTheFirstIsLogged) {
    LogCapture log;
    FakeSmtpServer s;
    s.add_mailbox("alice@example.test");
    std::string dead = dead_host();
    SmtpBackend b("downstream", options_for({dead, s.host()}));
    EXPECT_EQ(b.lookup("alice@example.test").status, LookupStatus::Found);
    EXPECT_EQ(b.lookup("nobody@example.test").status, LookupStatus::NotFound);
    EXPECT_GE(log.count("backend downstream: " + dead + ": connect: Connection refused; using " + s.host()), 1)
        << log.all();
}

TEST(SmtpBackend, UnknownLogged_WithTheServersReply) {
    LogCapture log;
    FakeSmtpServer s;
    auto b = backend_for(s);
    EXPECT_EQ(b->lookup("nobody@example.test").status, LookupStatus::NotFound);
    EXPECT_EQ(log.count("backend downstream: " + s.host() +
                        ": <nobody@example.test>: 550 5.1.1 "
                        "<nobody@example.test>: Recipient address rejected: "
                        "User unknown: unknown"),
              1)
        << log.all();
}

// --- STARTTLS (the handshake itself is tested with a real Postfix) ----------------------------

std::shared_ptr<const TlsClientContext> unverified_tls() {
    std::string error;
    auto tls = TlsClientContext::create(false, "", &error);
    EXPECT_TRUE(tls) << error;
    return tls;
}

TEST(SmtpBackend, StartTlsRequired_NotOffered_TempFail) {
    FakeSmtpServer s;
    s.add_mailbox("alice@example.test");
    auto b = backend_for(s, [](SmtpOptions& o) {
        o.client.starttls = StartTlsPolicy::Require;
        o.client.tls = unverified_tls();
    });
    LookupResult r = b->lookup("alice@example.test");
    EXPECT_EQ(r.status, LookupStatus::TempFail);
    EXPECT_NE(r.reason.find("STARTTLS: not offered by the server (starttls = require)"), std::string::npos) << r.reason;
    EXPECT_TRUE(s.commands_starting("MAIL").empty());
}

TEST(SmtpBackend, StartTlsOpportunistic_Refused_GoesOnInPlainText) {
    FakeSmtpServer::Options so;
    so.starttls = true;  // offered, then answered 454
    FakeSmtpServer s(so);
    s.add_mailbox("alice@example.test");
    auto b = backend_for(s, [](SmtpOptions& o) {
        o.client.starttls = StartTlsPolicy::Opportunistic;
        o.client.tls = unverified_tls();
    });
    EXPECT_EQ(b->lookup("alice@example.test").status, LookupStatus::Found);
    EXPECT_EQ(s.commands_starting("STARTTLS").size(), 1u);
}

TEST(SmtpBackend, StartTlsWithInjectedPlainText_Refused) {
    FakeSmtpServer::Options so;
    so.starttls = true;
    FakeSmtpServer s(so);
    s.add_mailbox("alice@example.test");
    s.set_script([](const std::string& line) -> std::optional<std::string> {
        if (line == "STARTTLS") return "220 2.0.0 Ready\r\n250 2.1.5 injected\r\n";
        return std::nullopt;
    });
    auto b = backend_for(s, [](SmtpOptions& o) {
        o.client.starttls = StartTlsPolicy::Opportunistic;
        o.client.tls = unverified_tls();
    });
    LookupResult r = b->lookup("alice@example.test");
    EXPECT_EQ(r.status, LookupStatus::TempFail);
    EXPECT_NE(r.reason.find("sent more after its 220"), std::string::npos) << r.reason;
}

TEST(SmtpBackend, StartTlsHandshakeWithAPlainTextServer_TempFail_NotHung) {
    FakeSmtpServer::Options so;
    so.starttls = true;
    FakeSmtpServer s(so);
    s.set_script([](const std::string& line) -> std::optional<std::string> {
        if (line == "STARTTLS") return std::string("220 2.0.0 Ready\r\n");
        if (line.empty() || line[0] < ' ') return std::string("500 5.5.2 what?\r\n");
        return std::nullopt;
    });
    auto b = backend_for(s, [](SmtpOptions& o) {
        o.client.starttls = StartTlsPolicy::Require;
        o.client.tls = unverified_tls();
        o.client.connect_timeout = 500ms;
    });
    LookupResult r = b->lookup("alice@example.test");
    EXPECT_EQ(r.status, LookupStatus::TempFail);
    EXPECT_NE(r.reason.find("STARTTLS: TLS handshake failed"), std::string::npos) << r.reason;
}

// --- blind MX --------------------------------------------------------------------------

TEST(SmtpBackend, ServerAcceptsEverything_BlindMx_FoundUnverified_WarnedOnce_NotProbedAgain) {
    LogCapture log;
    FakeSmtpServer s;
    s.add_catch_all("blind.test");
    s.add_mailbox("alice@filtered.test");
    auto b = backend_for(s, [](SmtpOptions& o) { o.blind_check_interval = 1h; });
    LookupResult r = b->lookup("nosuch@blind.test");
    EXPECT_EQ(r.status, LookupStatus::Found);
    EXPECT_TRUE(r.unverified);
    EXPECT_NE(r.reason.find("blind MX"), std::string::npos);
    auto rcpts = s.commands_starting("RCPT TO:");
    ASSERT_EQ(rcpts.size(), 2u);
    EXPECT_EQ(rcpts[0].rfind("RCPT TO:<rcptguard-nx-", 0), 0u) << rcpts[0];
    // The same domain again: answered without asking the server.
    r = b->lookup("other@blind.test");
    EXPECT_EQ(r.status, LookupStatus::Found);
    EXPECT_TRUE(r.unverified);
    EXPECT_EQ(s.commands_starting("RCPT TO:").size(), 2u);
    EXPECT_EQ(log.count("it accepts every recipient of blind.test (a blind MX)"), 1) << log.all();
    EXPECT_EQ(log.count("Recipient Filtering"), 1);
    // A filtered domain on the same server is checked once and probed as usual.
    EXPECT_EQ(b->lookup("alice@filtered.test").status, LookupStatus::Found);
    EXPECT_FALSE(b->lookup("alice@filtered.test").unverified);
    EXPECT_EQ(b->lookup("bob@filtered.test").status, LookupStatus::NotFound);
    EXPECT_EQ(s.commands_starting("RCPT TO:<rcptguard-nx-").size(), 2u);
    EXPECT_EQ(b->generation(), 0u);
}

TEST(SmtpBackend, BlindCheckOff_NothingExtraAsked) {
    FakeSmtpServer s;
    s.add_catch_all("blind.test");
    auto b = backend_for(s);  // blind_check_interval = 0
    LookupResult r = b->lookup("nosuch@blind.test");
    EXPECT_EQ(r.status, LookupStatus::Found);
    EXPECT_FALSE(r.unverified);
    EXPECT_TRUE(s.commands_starting("RCPT TO:<rcptguard-nx-").empty());
}

TEST(SmtpBackend, BlindServerStartsFiltering_ProbesAgain_GenerationMoves) {
    LogCapture log;
    FakeSmtpServer s;
    std::atomic<bool> blind{true};
    s.set_script([&blind](const std::string& line) -> std::optional<std::string> {
        if (blind && line.rfind("RCPT TO:", 0) == 0) return std::string("250 2.1.5 Ok\r\n");
        return std::nullopt;
    });
    auto b = backend_for(s, [](SmtpOptions& o) { o.blind_check_interval = 1ms; });
    EXPECT_TRUE(b->lookup("nosuch@example.test").unverified);
    blind = false;
    // The next check (at most 1ms later) finds the server filtering.
    LookupStatus status = LookupStatus::Found;
    for (int i = 0; i < 200 && status != LookupStatus::NotFound; ++i) {
        std::this_thread::sleep_for(2ms);
        status = b->lookup("nosuch@example.test").status;
    }
    EXPECT_EQ(status, LookupStatus::NotFound);
    EXPECT_EQ(b->generation(), 1u);
    EXPECT_EQ(log.count("now rejects unknown recipients of example.test"), 1) << log.all();
}

TEST(SmtpBackend, BlindCheckAnsweredInconclusively_ProbeStillDecides) {
    FakeSmtpServer s;
    s.add_mailbox("alice@example.test");
    s.set_script([](const std::string& line) -> std::optional<std::string> {
        if (line.rfind("RCPT TO:<rcptguard-nx-", 0) == 0) return std::string("450 4.7.1 Try again later\r\n");
        return std::nullopt;
    });
    auto b = backend_for(s, [](SmtpOptions& o) { o.blind_check_interval = 1h; });
    EXPECT_EQ(b->lookup("nobody@example.test").status, LookupStatus::NotFound);
    EXPECT_EQ(b->lookup("alice@example.test").status, LookupStatus::Found);
    EXPECT_EQ(s.commands_starting("RCPT TO:<rcptguard-nx-").size(), 1u);
}

TEST(BlindMxDetector, OneCheckPerInterval_OneCheckerAtATime) {
    using Finding = BlindMxDetector::Finding;
    BlindMxDetector d(std::chrono::minutes(60));
    auto t0 = BlindMxDetector::Clock::time_point() + std::chrono::hours(1000);
    auto p = d.plan("example.test", t0);
    EXPECT_TRUE(p.check);
    EXPECT_FALSE(p.blind);
    EXPECT_FALSE(d.plan("example.test", t0).check) << "the first caller checks; the others go on";
    auto c = d.check_done("example.test", Finding::Accepted, t0);
    EXPECT_TRUE(c.blind);
    EXPECT_TRUE(c.became_blind);
    p = d.plan("example.test", t0 + std::chrono::minutes(59));
    EXPECT_TRUE(p.blind);
    EXPECT_FALSE(p.check);
    p = d.plan("example.test", t0 + std::chrono::minutes(60));
    EXPECT_TRUE(p.blind);
    EXPECT_TRUE(p.check);
    c = d.check_done("example.test", Finding::Accepted, t0 + std::chrono::minutes(60));
    EXPECT_TRUE(c.blind);
    EXPECT_FALSE(c.became_blind);
    p = d.plan("example.test", t0 + std::chrono::minutes(120));
    ASSERT_TRUE(p.check);
    c = d.check_done("example.test", Finding::Unknown, t0 + std::chrono::minutes(120));
    EXPECT_FALSE(c.blind);
    EXPECT_TRUE(c.stopped_blind);
    EXPECT_FALSE(d.plan("example.test", t0 + std::chrono::minutes(121)).blind);
}

TEST(BlindMxDetector, CheckWithoutAnswer_HandedToTheNextLookup) {
    BlindMxDetector d(std::chrono::minutes(60));
    auto t0 = BlindMxDetector::Clock::time_point() + std::chrono::hours(1000);
    ASSERT_TRUE(d.plan("example.test", t0).check);
    d.check_done("example.test", BlindMxDetector::Finding::NoAnswer, t0);
    EXPECT_TRUE(d.plan("example.test", t0).check);
    d.check_done("example.test", BlindMxDetector::Finding::Inconclusive, t0);
    EXPECT_FALSE(d.plan("example.test", t0 + std::chrono::minutes(1)).check);
    EXPECT_FALSE(d.plan("example.test", t0 + std::chrono::minutes(1)).blind);
}

TEST(BlindMxDetector, IntervalZero_NeverChecks) {
    BlindMxDetector d(std::chrono::milliseconds(0));
    auto p = d.plan("example.test", BlindMxDetector::Clock::now());
    EXPECT_FALSE(p.check);
    EXPECT_FALSE(p.blind);
}

TEST(BlindMxDetector, ManyMadeUpDomains_Bounded) {
    BlindMxDetector d(std::chrono::minutes(60), 50);
    auto t0 = BlindMxDetector::Clock::time_point() + std::chrono::hours(1000);
    for (int i = 0; i < 1000; ++i) {
        std::string dom = "x" + std::to_string(i) + ".example.test";
        if (d.plan(dom, t0).check) d.check_done(dom, BlindMxDetector::Finding::Unknown, t0);
    }
    EXPECT_LE(d.size(), 50u);
}

TEST(BlindMxDetector, ProbeAddress_RandomLocalPartInTheDomain) {
    std::string a = blind_probe_address("example.test");
    std::string b = blind_probe_address("example.test");
    EXPECT_NE(a, b);
    EXPECT_EQ(a.rfind("rcptguard-nx-", 0), 0u);
    EXPECT_EQ(a.size(), std::string("rcptguard-nx-0123456789abcdef@example.test").size());
    EXPECT_EQ(a.substr(a.find('@')), "@example.test");
}

// --- configuration ------------------------------------------------------------------------

TEST(SmtpConfig, HostSpecs) {
    struct Case {
        std::string spec;
        bool ok;
        std::string name;
    };
    const Case cases[] = {
        {"192.0.2.25", true, "192.0.2.25:25"},
        {"192.0.2.25:2525", true, "192.0.2.25:2525"},
        {"[2001:db8::25]:25", true, "[2001:db8::25]:25"},
        {"[2001:db8::25]", true, "[2001:db8::25]:25"},
        {"2001:db8::25", true, "[2001:db8::25]:25"},
        {"mail.example.com", false, "host names are not resolved"},
        {"mail.example.com:25", false, "host names are not resolved"},
        {"192.0.2.25:0", false, "port must be"},
        {"192.0.2.25:70000", false, "port must be"},
        {"192.0.2.25:", false, "port must be"},
        {"[2001:db8::25:25", false, "not ADDRESS[:PORT]"},
    };
    for (const auto& c : cases) {
        SmtpServer s;
        std::string problem;
        bool ok = parse_smtp_host(c.spec, &s, &problem);
        EXPECT_EQ(ok, c.ok) << c.spec << ": " << problem;
        if (ok) {
            EXPECT_EQ(s.name, c.name);
        } else {
            EXPECT_NE(problem.find(c.name), std::string::npos) << c.spec << ": " << problem;
        }
    }
}

// Builds the backend from a configuration text; returns every problem reported.
std::string problems_of(const std::string& section_body) {
    ConfigFile f = parse_config_text("[backend downstream]\ntype = smtp\n" + section_body, "test.conf");
    SectionReader r(f, f.sections.at(0));
    BuiltBackend b = make_backend(r, BackendContext{});
    std::string all;
    for (const auto& e : f.problems->list) all += std::string(e.what()) + "\n";
    if (all.empty() && !b.backend) all = "no backend and no problem";
    return all;
}

TEST(SmtpConfig, EveryProblemReported_WithItsKey) {
    std::string p = problems_of(
        "host = 192.0.2.25 mail.example.com\n"
        "helo_name = bad name!\n"
        "probe_sender = not an address\n"
        "starttls = sometimes\n"
        "max_connections = 0\n"
        "connect_timeout = 0\n");
    EXPECT_NE(p.find("test.conf:3: host: 'mail.example.com' is not ADDRESS[:PORT]"), std::string::npos) << p;
    EXPECT_NE(p.find("test.conf:4: helo_name: 'bad name!' is not a host name"), std::string::npos) << p;
    EXPECT_NE(p.find("test.conf:5: probe_sender: expected <> or an address"), std::string::npos) << p;
    EXPECT_NE(p.find("test.conf:6: starttls: expected no, opportunistic or require"), std::string::npos) << p;
    EXPECT_NE(p.find("test.conf:7: max_connections:"), std::string::npos) << p;
    EXPECT_NE(p.find("test.conf:8: connect_timeout:"), std::string::npos) << p;
}

TEST(SmtpConfig, HostMissing_Required) {
    EXPECT_NE(problems_of("helo_name = gw.example.test\n").find("host: required"), std::string::npos);
}

TEST(SmtpConfig, StartTlsRequired_UnreadableCaFile_Problem) {
    std::string p = problems_of("host = 127.0.0.1:9\nstarttls = require\ntls_ca_file = /nonexistent/ca.pem\n");
    EXPECT_NE(p.find("tls_ca_file: cannot read /nonexistent/ca.pem"), std::string::npos) << p;
}

TEST(SmtpConfig, UnknownKey_ListsTheDeclaredOnes) {
    std::string p = problems_of("host = 127.0.0.1:9\nhosts = 127.0.0.1:9\n");
    EXPECT_NE(p.find("hosts:"), std::string::npos) << p;
    EXPECT_NE(p.find("probes_per_connection"), std::string::npos) << p;
}

TEST(SmtpConfig, GoodSection_BuildsAndProbesAtStart) {
    FakeSmtpServer s;
    s.add_mailbox("alice@example.test");
    ConfigFile f = parse_config_text("[backend downstream]\ntype = smtp\nhost = " + s.host() +
                                         "\nprobe_sender = <Probe@Example.TEST>\nmax_connections = 2\n",
                                     "test.conf");
    SectionReader r(f, f.sections.at(0));
    BuiltBackend b = make_backend(r, BackendContext{});
    ASSERT_TRUE(b.backend) << (f.problems->list.empty() ? "" : f.problems->list[0].what());
    EXPECT_EQ(b.startup_warning, "");
    EXPECT_EQ(s.connections(), 1);
    EXPECT_EQ(b.backend->lookup("alice@example.test").status, LookupStatus::Found);
    EXPECT_EQ(s.connections(), 1) << "the start-up connection is reused";
    EXPECT_EQ(s.commands_starting("MAIL FROM:").front(), "MAIL FROM:<Probe@example.test>");
}

TEST(SmtpConfig, ServerDownAtStart_WarningNotAProblem) {
    std::string host = dead_host();
    ConfigFile f = parse_config_text("[backend downstream]\ntype = smtp\nhost = " + host + "\n", "test.conf");
    SectionReader r(f, f.sections.at(0));
    BuiltBackend b = make_backend(r, BackendContext{});
    ASSERT_TRUE(b.backend);
    EXPECT_TRUE(f.problems->list.empty());
    EXPECT_NE(b.startup_warning.find(host + ": connect: Connection refused"), std::string::npos) << b.startup_warning;
}

}  // namespace
}  // namespace rcptguard
