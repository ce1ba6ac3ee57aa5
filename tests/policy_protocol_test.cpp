// Unit tests for Postfix's policy delegation protocol (milter/policy_protocol.hpp)
// and for mapping its requests onto the session core (milter/policy_session.hpp).
#include "policyd/policy_protocol.hpp"

#include <gtest/gtest.h>

#include "core/cache/lookup_cache.hpp"
#include "core/tarpit/local_client_state.hpp"
#include "policyd/policy_session.hpp"
#include "tests/fakes/fake_backend.hpp"
#include "tests/fakes/fake_clock.hpp"

namespace rcptguard {
namespace {

using testing::FakeBackend;
using testing::FakeClock;
using testing::FakeSleeper;

std::string request(const std::string& recipient, const std::string& client = "192.0.2.1",
                    const std::string& instance = "1a2b.3c4d.1", const std::string& state = "RCPT") {
    return "request=smtpd_access_policy\nprotocol_state=" + state + "\nprotocol_name=ESMTP\nclient_address=" + client +
           "\nclient_name=mx.client.test\nclient_port=40000\n"
           "helo_name=mx.client.test\nsender=s@client.test\nrecipient=" +
           recipient + "\nrecipient_count=0\nqueue_id=\ninstance=" + instance + "\nsize=0\nsasl_username=\n\n";
}

TEST(PolicyParser, OneRequest_AttributesParsed) {
    PolicyRequestParser p;
    std::vector<PolicyRequest> out;
    ASSERT_TRUE(p.feed(request("user@example.test"), &out));
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].get("recipient"), "user@example.test");
    EXPECT_EQ(out[0].get("queue_id"), "");
    EXPECT_EQ(out[0].get("no_such_attribute"), "");
    EXPECT_FALSE(p.mid_request());
}

TEST(PolicyParser, ManyRequestsOneConnection_ByteByByte) {
    PolicyRequestParser p;
    std::string all;
    for (int i = 0; i < 50; ++i) all += request("u" + std::to_string(i) + "@example.test");
    std::vector<PolicyRequest> out;
    for (char c : all) ASSERT_TRUE(p.feed(std::string_view(&c, 1), &out));
    ASSERT_EQ(out.size(), 50u);
    EXPECT_EQ(out[49].get("recipient"), "u49@example.test");
}

TEST(PolicyParser, CrLfTolerated_EmptyLinesBetweenRequestsIgnored) {
    PolicyRequestParser p;
    std::vector<PolicyRequest> out;
    ASSERT_TRUE(p.feed("\n\nrequest=smtpd_access_policy\r\nrecipient=a@b.test\r\n\r\n", &out));
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].get("recipient"), "a@b.test");
}

TEST(PolicyParser, RepeatedName_LastLineWins_EmptyValueIsEmpty) {
    PolicyRequestParser p;
    std::vector<PolicyRequest> out;
    ASSERT_TRUE(p.feed("recipient=a@x.test\nsender=\nrecipient=b@x.test\r\nreq=1\n\n", &out));
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].size(), 4u);
    EXPECT_EQ(out[0].get("recipient"), "b@x.test");
    EXPECT_EQ(out[0].get("sender"), "");
    EXPECT_EQ(out[0].get("req"), "1");
    EXPECT_EQ(out[0].get("re"), "");  // a prefix of a name is not that name
    EXPECT_FALSE(p.mid_request());
    ASSERT_TRUE(p.feed("recipient=c@x", &out));
    EXPECT_TRUE(p.mid_request());
}

TEST(PolicyParser, ValueMayContainEquals) {
    PolicyRequestParser p;
    std::vector<PolicyRequest> out;
    ASSERT_TRUE(p.feed("ccert_subject=CN=x,O=y\n\n", &out));
    EXPECT_EQ(out[0].get("ccert_subject"), "CN=x,O=y");
}

TEST(PolicyParser, KnownAttributes_LastLineWins_SameByNameAndByIndex) {
    const std::vector<std::pair<std::string, PolicyAttr>> known = {{"request", PolicyAttr::Request},
                                                                   {"protocol_state", PolicyAttr::ProtocolState},
                                                                   {"recipient", PolicyAttr::Recipient},
                                                                   {"sender", PolicyAttr::Sender},
                                                                   {"client_address", PolicyAttr::ClientAddress},
                                                                   {"client_name", PolicyAttr::ClientName},
                                                                   {"client_port", PolicyAttr::ClientPort},
                                                                   {"instance", PolicyAttr::Instance},
                                                                   {"queue_id", PolicyAttr::QueueId},
                                                                   {"sasl_username", PolicyAttr::SaslUsername}};
    std::string text;
    for (const auto& [name, attr] : known) text += name + "=first-" + name + "\n";
    text += "helo_name=h\n";
    for (const auto& [name, attr] : known) text += name + "=" + name + "-value\n";
    text += "Recipient=upper\nrecipients=longer\n\n";
    PolicyRequestParser p;
    std::vector<PolicyRequest> out;
    ASSERT_TRUE(p.feed(text, &out));
    ASSERT_EQ(out.size(), 1u);
    for (const auto& [name, attr] : known) {
        EXPECT_EQ(policy_attr(name), attr) << name;
        EXPECT_EQ(out[0].get(attr), name + "-value") << name;
        EXPECT_EQ(out[0].get(name), name + "-value") << name;
    }
    // Names are compared exactly: neither case nor a longer name matches.
    EXPECT_EQ(policy_attr("Recipient"), PolicyAttr::Other);
    EXPECT_EQ(out[0].get("Recipient"), "upper");
    EXPECT_EQ(out[0].get("recipients"), "longer");
    EXPECT_EQ(out[0].get(PolicyAttr::Other), "");
    // A known attribute the request lacks is empty; the next request starts afresh.
    ASSERT_TRUE(p.feed("request=smtpd_access_policy\n\n", &out));
    ASSERT_EQ(out.size(), 2u);
    EXPECT_EQ(out[1].get(PolicyAttr::Request), "smtpd_access_policy");
    EXPECT_EQ(out[1].get(PolicyAttr::Recipient), "");
    EXPECT_EQ(out[1].get("sender"), "");
}

TEST(PolicyParser, NameOf64Characters_Accepted) {
    PolicyRequestParser p;
    std::vector<PolicyRequest> out;
    std::string name = "a_-Z9" + std::string(59, 'x');
    ASSERT_TRUE(p.feed(name + "==v\n\n", &out));
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].get(name), "=v");
}

struct BadInput {
    const char* name;
    std::string data;
    std::string want;
};

class PolicyParserBad : public ::testing::TestWithParam<BadInput> {};

TEST_P(PolicyParserBad, ProtocolError_Reported) {
    PolicyRequestParser p(4096, 1024);
    std::vector<PolicyRequest> out;
    EXPECT_FALSE(p.feed(GetParam().data, &out));
    EXPECT_NE(p.error().find(GetParam().want), std::string::npos) << p.error();
    EXPECT_FALSE(p.feed("request=smtpd_access_policy\n\n", &out));  // stays broken
}

INSTANTIATE_TEST_SUITE_P(
    Table, PolicyParserBad,
    ::testing::Values(BadInput{"NoEquals", "request=smtpd_access_policy\ngarbage line\n\n", "not a name=value"},
                      BadInput{"EmptyName", "=value\n\n", "not a name=value"},
                      BadInput{"NameOf65Characters", std::string(65, 'n') + "=v\n\n", "not a name=value"},
                      BadInput{"BadCharacterInName", "recip.ient=a@b\n\n", "not a name=value"},
                      BadInput{"SpaceBeforeEquals", "recipient =a@b\n\n", "not a name=value"},
                      BadInput{"NameWithoutEquals", "recipient\n\n", "not a name=value"},
                      BadInput{"Over512Lines",
                               [] {
                                   std::string s;
                                   for (int i = 0; i < 513; ++i) s += "a=\n";
                                   return s;
                               }(),
                               "more than 512 attributes"},
                      BadInput{"HugeValue", "recipient=" + std::string(2000, 'a') + "\n\n", "longer than 1024"},
                      BadInput{"HugeValueNoNewline", "recipient=" + std::string(5000, 'a'), "longer than 1024"},
                      BadInput{"HugeRequest",
                               std::string(10, 'x') +
                                   [] {
                                       std::string s;
                                       for (int i = 0; i < 200; ++i)
                                           s += "a" + std::to_string(i) + "=xxxxxxxxxxxxxxxxxxxx\n";
                                       return s;
                                   }(),
                               "larger than 4096"},
                      BadInput{"Nul", std::string("recipient=a\0b\n\n", 15), "NUL"}),
    [](const ::testing::TestParamInfo<BadInput>& i) { return std::string(i.param.name); });

TEST(PolicyReply, Format) {
    EXPECT_EQ(policy_reply("DUNNO"), "action=DUNNO\n\n");
    RcptDecision d;
    EXPECT_EQ(policy_action(d), "DUNNO");
    d.action = RcptAction::Reject;
    d.reply = unknown_user_reply("x%y@example.test\r\n", "User unknown");
    EXPECT_EQ(policy_action(d), "550 5.1.1 User unknown");
    d.reply = lookup_tempfail_reply("a\r\nb@example.test", "Temporary lookup failure");
    d.action = RcptAction::TempFail;
    EXPECT_EQ(policy_action(d), "451 4.3.0 Temporary lookup failure");
    d.reply = too_many_recipients_reply("x@example.test");
    EXPECT_EQ(policy_action(d), "421 4.7.0 Too many invalid recipients, closing connection");
    d.reply = Reply{"550", "5.1.1", "a@b", "No such user\r\n"};
    EXPECT_EQ(policy_action(d), "550 5.1.1 No such user??");
}

class PolicySessionTest : public ::testing::Test {
protected:
    void SetUp() override {
        backend_ = std::make_shared<FakeBackend>("users");
        backend_->add("user@example.test");
        auto s = std::make_shared<Settings>();
        s->recipients.domains.add_exact("example.test");
        s->tarpit.tarpit_after = 2;
        s->tarpit.max_bad_recipients = 4;
        s->tarpit.ban.ban_threshold = 6;
        s->tarpit.trusted_networks = NetworkList{};
        auto rt = std::make_shared<Runtime>();
        rt->backends = {backend_};
        rt->rules = std::make_shared<RecipientRules>(s->recipients, std::make_shared<BackendChain>(rt->backends));
        rt->settings = s;
        holder_.publish(rt);
    }
    PolicyAnswer ask(PolicySession& s, const std::string& text) {
        PolicyRequestParser p;
        std::vector<PolicyRequest> out;
        EXPECT_TRUE(p.feed(text, &out));
        EXPECT_EQ(out.size(), 1u);
        s.prepare(out.at(0));
        return s.answer(out.at(0));
    }
    PolicyRequest parsed(const std::string& text) {
        PolicyRequestParser p;
        std::vector<PolicyRequest> out;
        EXPECT_TRUE(p.feed(text, &out));
        return out.at(0);
    }

    std::shared_ptr<FakeBackend> backend_;
    RuntimeHolder holder_;
    FakeClock clock_;
    FakeSleeper sleeper_{clock_};
    LocalClientState clients_{LocalStateOptions{1000, "", "", nullptr}, clock_};
    Tarpit tarpit_{clients_, sleeper_, clock_};
    Metrics metrics_;
    Services services_{clock_, tarpit_, metrics_};
};

TEST_F(PolicySessionTest, Verdicts_DunnoOrExactReply) {
    PolicySession s(holder_, services_);
    EXPECT_EQ(ask(s, request("user@example.test")).action, "DUNNO");
    EXPECT_EQ(ask(s, request("nosuch@example.test")).action, "550 5.1.1 User unknown");
    EXPECT_EQ(ask(s, request("x@other.test")).action, "DUNNO");
    backend_->fail_everything(true);
    EXPECT_EQ(ask(s, request("user@example.test")).action, "451 4.3.0 Temporary lookup failure");
}

// The harvest state shared with other hosts: this host's table with shared() true.
class SharedLookingState final : public ClientState {
public:
    explicit SharedLookingState(ClientState& local) : local_(local) {}
    ClientStatus connection_status(const std::string& k, const BanSettings& s) override {
        return local_.connection_status(k, s);
    }
    ClientStatus known_status(const std::string& k, const BanSettings& s) override { return local_.known_status(k, s); }
    ClientStatus add_bad(const std::string& k, unsigned n, const BanSettings& s) override {
        return local_.add_bad(k, n, s);
    }
    std::vector<ClientRecord> list(const BanSettings& s, std::size_t max, std::string* note) override {
        return local_.list(s, max, note);
    }
    bool forget(const Network& net, std::size_t* lifted, std::string* error) override {
        return local_.forget(net, lifted, error);
    }
    void forget_cached(const Network* net) override { local_.forget_cached(net); }
    std::string describe() override { return "shared"; }
    bool healthy() override { return true; }
    bool shared() const override { return true; }
    void maintain(const BanSettings& s) override { local_.maintain(s); }
    void save(const BanSettings& s) override { local_.save(s); }
    ClientTable& local_table() override { return local_.local_table(); }

private:
    ClientState& local_;
};

TEST_F(PolicySessionTest, AnsweredAtOnce_OnlyWhenNothingCanWaitOnAnotherServer) {
    PolicySession s(holder_, services_);
    PolicyRequest first = parsed(request("user@example.test"));
    s.prepare(first);
    EXPECT_FALSE(s.answers_at_once(first));  // the fake backend does not answer locally (and nothing is cached)
    // A runtime whose stores are all on this host: the next session is answered at once...
    auto local = std::make_shared<Runtime>(*holder_.get());
    local->lookups_local = true;
    holder_.publish(local);
    EXPECT_FALSE(s.answers_at_once(first));  // ...the running one keeps its runtime
    PolicyRequest next = parsed(request("nosuch@example.test", "192.0.2.9"));
    s.prepare(next);
    EXPECT_TRUE(s.answers_at_once(next));
    EXPECT_EQ(s.answer(next).action, "550 5.1.1 User unknown");
    // Harvest state shared through another server: never on the I/O thread.
    SharedLookingState shared(clients_);
    Tarpit shared_tarpit(shared, sleeper_, clock_);
    Services shared_services{clock_, shared_tarpit, metrics_};
    PolicySession t(holder_, shared_services);
    PolicyRequest other = parsed(request("user@example.test", "192.0.2.10"));
    t.prepare(other);
    EXPECT_FALSE(t.answers_at_once(other));
}

TEST_F(PolicySessionTest, AnsweredAtOnce_FromTheCache_NoLookupEvenIfTheEntryExpiresMeanwhile) {
    // The runtime as rcptguard builds it for a server backend: a cache in
    // front of the chain.
    auto rt = std::make_shared<Runtime>(*holder_.get());
    CacheSettings cs;
    cs.negative_ttl = std::chrono::seconds(60);
    rt->rules = std::make_shared<RecipientRules>(
        rt->settings->recipients,
        std::make_shared<CachedLookup>(std::make_shared<BackendChain>(rt->backends), cs, clock_, &metrics_));
    holder_.publish(rt);
    PolicySession s(holder_, services_);
    PolicyRequest r1 = parsed(request("nosuch@example.test"));
    s.prepare(r1);
    EXPECT_FALSE(s.answers_at_once(r1));  // not cached yet: a worker asks
    EXPECT_TRUE(backend_->calls().empty());
    EXPECT_EQ(s.answer(r1).action, "550 5.1.1 User unknown");
    std::size_t asked = backend_->calls().size();
    EXPECT_GT(asked, 0u);
    // The same recipient in the next message: answered from the cache...
    PolicyRequest r2 = parsed(request("nosuch@example.test", "192.0.2.1", "1a2b.3c4d.2"));
    s.prepare(r2);
    EXPECT_TRUE(s.answers_at_once(r2));
    // ...with what was read then, even when the entry expires before the answer.
    clock_.advance(std::chrono::seconds(61));
    EXPECT_EQ(s.answer(r2).action, "550 5.1.1 User unknown");
    EXPECT_EQ(backend_->calls().size(), asked);
    // Requests that ask no lookup never wait.
    PolicyRequest data = parsed(request("nosuch@example.test", "192.0.2.1", "1a2b.3c4d.2", "DATA"));
    s.prepare(data);
    EXPECT_TRUE(s.answers_at_once(data));
    EXPECT_EQ(s.answer(data).action, "DUNNO");
    // Expired now: the next question goes to a worker again.
    PolicyRequest r3 = parsed(request("nosuch@example.test", "192.0.2.1", "1a2b.3c4d.3"));
    s.prepare(r3);
    EXPECT_FALSE(s.answers_at_once(r3));
    EXPECT_EQ(backend_->calls().size(), asked);
}

TEST_F(PolicySessionTest, NonRcptStatesAndOtherRequests_Dunno) {
    PolicySession s(holder_, services_);
    EXPECT_EQ(ask(s, request("", "192.0.2.1", "i1", "MAIL")).action, "DUNNO");
    EXPECT_EQ(ask(s, request("nosuch@example.test", "192.0.2.1", "i1", "DATA")).action, "DUNNO");
    EXPECT_EQ(ask(s, "request=junk\nrecipient=nosuch@example.test\n\n").action, "DUNNO");
    EXPECT_EQ(ask(s, "recipient=nosuch@example.test\nprotocol_state=RCPT\n\n").action, "DUNNO");
    EXPECT_TRUE(backend_->calls().empty());
}

TEST_F(PolicySessionTest, TarpitDelayReturned_NotSlept_ThenDisconnect421) {
    PolicySession s(holder_, services_);
    EXPECT_EQ(ask(s, request("n1@example.test")).delay.count(), 0);
    EXPECT_EQ(ask(s, request("n2@example.test")).delay.count(), 0);
    PolicyAnswer third = ask(s, request("n3@example.test"));
    EXPECT_GT(third.delay.count(), 0);
    EXPECT_TRUE(sleeper_.sleeps().empty());  // the service sets a timer instead
    s.delivered(third.delay, third.delay);
    EXPECT_EQ(metrics_.tarpit_delays.load(), 1u);
    EXPECT_EQ(ask(s, request("n4@example.test")).action, "421 4.7.0 Too many invalid recipients, closing connection");
}

TEST_F(PolicySessionTest, NewSmtpSessionOnSameConnection_FreshCounts_BanAcrossSessions) {
    PolicySession s(holder_, services_);
    for (int i = 0; i < 3; ++i) ask(s, request("n@example.test", "192.0.2.9", "a.1"));
    // The same smtpd process now serves another client: its count starts at 0.
    EXPECT_EQ(ask(s, request("n@example.test", "198.51.100.1", "b.1")).delay.count(), 0);
    // The first client comes back in a new session and reaches the ban threshold (6).
    for (int i = 0; i < 3; ++i) ask(s, request("n@example.test", "192.0.2.9", "c.1"));
    EXPECT_EQ(ask(s, request("user@example.test", "192.0.2.9", "d.1")).action,
              "421 4.7.0 Too many invalid recipients from your address, try again later");
    EXPECT_EQ(ask(s, request("user@example.test", "192.0.2.10", "e.1")).action, "DUNNO");
}

TEST_F(PolicySessionTest, AuthenticatedClient_Exempt) {
    PolicySession s(holder_, services_);
    std::string base = request("n@example.test");
    std::string authed = base.replace(base.find("sasl_username="), 14, "sasl_username=alice");
    for (int i = 0; i < 10; ++i) {
        PolicyAnswer a = ask(s, authed);
        EXPECT_EQ(a.delay.count(), 0);
        EXPECT_EQ(a.action.substr(0, 3), "550");
    }
}

}  // namespace
}  // namespace rcptguard
