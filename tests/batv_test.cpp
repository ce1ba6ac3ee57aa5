// Unit tests for BATV (milter/batv/*): tags against vectors computed
// independently (Python's hmac module: HMAC-SHA1(secret, "KDDD" + address),
// first three bytes in hex, per draft-levine-smtp-batv-01 section 4.1),
// expiry and the day-number wrap-around, key rotation, malformed tags, case,
// the key file, the RCPT/EOM behaviour through a Connection, and what
// "rcptguard -q" says about tagged and untagged addresses.
#include <gtest/gtest.h>

#include <sstream>

#include "core/batv/batv_recipient.hpp"
#include "core/batv/batv_settings.hpp"
#include "core/batv/prvs.hpp"
#include "core/query.hpp"
#include "core/session.hpp"
#include "tests/fakes/fake_backend.hpp"
#include "tests/fakes/fake_clock.hpp"

namespace rcptguard {
namespace {

BatvKey key(int n, const std::string& s) { return BatvKey{n, s}; }

TEST(Prvs, TagMatchesIndependentVectors) {
    // python3 -c "import hmac,hashlib; print(hmac.new(b'...', b'1426user@example.com', hashlib.sha1).hexdigest()[:6])"
    EXPECT_EQ(prvs_tag(key(1, "s3cret-batv-key-0001"), 20419, 7, "user@example.com"), "142666be1e");
    EXPECT_EQ(prvs_tag(key(7, "another-secret-key-7777"), 20996, 7, "john.smith@example.org"), "70034eaf65");
    EXPECT_EQ(prvs_tag(key(0, "zero-key-secret-000000"), 992, 7, "a@b.example"), "0999fd25fa");
}

TEST(Prvs, DayNumber) {
    EXPECT_EQ(batv_day(0), 0);
    EXPECT_EQ(batv_day(86399), 0);
    EXPECT_EQ(batv_day(86400), 1);
    EXPECT_EQ(batv_day(1764201600), 20419);  // 2025-11-27
}

class PrvsCheck : public ::testing::Test {
protected:
    void SetUp() override { ring_.keys = {key(1, "old-key-secret-0001"), key(2, "new-key-secret-0002")}; }
    BatvKeyRing ring_;
};

TEST_F(PrvsCheck, FreshTag_Valid_ThroughLifetime_ThenExpired) {
    std::string t = prvs_tag(*ring_.signing(), 20000, 7, "u@example.com");
    EXPECT_EQ(t[0], '2');  // signed with the newest key
    for (int d = 0; d <= 7; ++d) EXPECT_EQ(check_prvs(t, "u@example.com", ring_, 20000 + d, 7), TagCheck::Valid) << d;
    EXPECT_EQ(check_prvs(t, "u@example.com", ring_, 20008, 7), TagCheck::Expired);
    EXPECT_EQ(check_prvs(t, "u@example.com", ring_, 20300, 7), TagCheck::Expired);
}

TEST_F(PrvsCheck, ExpiryDayWrapsAround1000) {
    // Signed on day 20995 with 7 days: expiry 21002 -> DDD "002".
    std::string t = prvs_tag(*ring_.signing(), 20995, 7, "u@example.com");
    EXPECT_EQ(t.substr(1, 3), "002");
    EXPECT_EQ(check_prvs(t, "u@example.com", ring_, 20999, 7), TagCheck::Valid);
    EXPECT_EQ(check_prvs(t, "u@example.com", ring_, 21000, 7), TagCheck::Valid);
    EXPECT_EQ(check_prvs(t, "u@example.com", ring_, 21002, 7), TagCheck::Valid);
    EXPECT_EQ(check_prvs(t, "u@example.com", ring_, 21003, 7), TagCheck::Expired);
}

TEST_F(PrvsCheck, RotatedKey_OldTagsStillVerify_RemovedKeyUnknown) {
    BatvKeyRing before;
    before.keys = {key(1, "old-key-secret-0001")};
    std::string old_tag = prvs_tag(*before.signing(), 20000, 7, "u@example.com");
    EXPECT_EQ(check_prvs(old_tag, "u@example.com", ring_, 20003, 7), TagCheck::Valid);
    BatvKeyRing after;
    after.keys = {key(2, "new-key-secret-0002")};
    EXPECT_EQ(check_prvs(old_tag, "u@example.com", after, 20003, 7), TagCheck::UnknownKey);
}

TEST_F(PrvsCheck, ForgedOrAlteredTags_Refused) {
    std::string t = prvs_tag(*ring_.signing(), 20000, 7, "u@example.com");
    EXPECT_EQ(check_prvs(t, "v@example.com", ring_, 20001, 7), TagCheck::BadSignature);  // another address
    std::string other_day = t;
    other_day[3] = other_day[3] == '9' ? '0' : static_cast<char>(other_day[3] + 1);
    EXPECT_EQ(check_prvs(other_day, "u@example.com", ring_, 20001, 7), TagCheck::BadSignature);
    std::string flipped = t;
    flipped[9] = flipped[9] == 'a' ? 'b' : 'a';
    EXPECT_EQ(check_prvs(flipped, "u@example.com", ring_, 20001, 7), TagCheck::BadSignature);
    EXPECT_EQ(check_prvs("2001zzzzzz", "u@example.com", ring_, 20001, 7), TagCheck::Malformed);
    EXPECT_EQ(check_prvs("200", "u@example.com", ring_, 20001, 7), TagCheck::Malformed);
    EXPECT_EQ(check_prvs("9007abcdef", "u@example.com", ring_, 20001, 7), TagCheck::UnknownKey);
}

TEST_F(PrvsCheck, HexCaseInsensitive) {
    std::string t = prvs_tag(*ring_.signing(), 20000, 7, "u@example.com");
    std::string upper = t;
    for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    EXPECT_EQ(check_prvs(upper, "u@example.com", ring_, 20001, 7), TagCheck::Valid);
}

struct SplitCase {
    const char* local;
    std::string tag, plain;
    bool malformed;
};

class PrvsSplit : public ::testing::TestWithParam<SplitCase> {};

TEST_P(PrvsSplit, BothFormsRecognised) {
    TaggedAddress t = split_prvs(GetParam().local, "example.com", '+');
    EXPECT_EQ(t.tag, GetParam().tag);
    EXPECT_EQ(t.plain, GetParam().plain);
    EXPECT_EQ(t.malformed, GetParam().malformed);
}

INSTANTIATE_TEST_SUITE_P(Table, PrvsSplit,
                         ::testing::Values(SplitCase{"prvs=1234abcdef=user", "1234abcdef", "user@example.com", false},
                                           SplitCase{"PRVS=1234ABCDEF=user", "1234ABCDEF", "user@example.com", false},
                                           SplitCase{"user+prvs=1234abcdef", "1234abcdef", "user@example.com", false},
                                           SplitCase{"user", "", "user@example.com", false},
                                           SplitCase{"user+tag", "", "user+tag@example.com", false},
                                           SplitCase{"prvs=12=user", "", "prvs=12=user@example.com", true},
                                           SplitCase{"prvs=1234abcdeg=user", "", "prvs=1234abcdeg=user@example.com",
                                                     true},
                                           SplitCase{"prvs=1234abcdef=", "", "prvs=1234abcdef=@example.com", true},
                                           SplitCase{"user+prvs=xyz", "", "user+prvs=xyz@example.com", true}));

TEST(PrvsSign, TaggedSender_FormsAndLimits) {
    EXPECT_EQ(*tagged_sender("John", "example.com", "1234abcdef", TagForm::Prefix, '+'),
              "prvs=1234abcdef=John@example.com");
    EXPECT_EQ(*tagged_sender("john", "example.com", "1234abcdef", TagForm::Subaddress, '+'),
              "john+prvs=1234abcdef@example.com");
    EXPECT_FALSE(tagged_sender("\"a b\"", "example.com", "1234abcdef", TagForm::Prefix, '+'));
    EXPECT_FALSE(tagged_sender("prvs=1111aaaaaa=john", "example.com", "1234abcdef", TagForm::Prefix, '+'));
    EXPECT_FALSE(tagged_sender("john+prvs=1111aaaaaa", "example.com", "1234abcdef", TagForm::Prefix, '+'));
    EXPECT_TRUE(tagged_sender(std::string(48, 'a'), "example.com", "1234abcdef", TagForm::Prefix, '+'));
    EXPECT_FALSE(tagged_sender(std::string(49, 'a'), "example.com", "1234abcdef", TagForm::Prefix, '+'));
}

TEST(BatvKeys, FileFormatAndErrors) {
    BatvKeyRing r;
    EXPECT_EQ(parse_batv_keys("# keys\n1 first-secret-0123456\n\n2 second-secret-0123456\n", "k", &r), "");
    ASSERT_EQ(r.keys.size(), 2u);
    EXPECT_EQ(r.signing()->number, 2);
    BatvKeyRing bad;
    EXPECT_EQ(parse_batv_keys("x secret-long-enough-1\n", "k", &bad),
              "k:1: expected a key number 0-9, then the secret");
    BatvKeyRing shortkey;
    EXPECT_NE(parse_batv_keys("1 short\n", "k", &shortkey).find("k:1: the secret must be at least 16"),
              std::string::npos);
    BatvKeyRing twice;
    EXPECT_NE(parse_batv_keys("1 aaaaaaaaaaaaaaaaaa\n1 bbbbbbbbbbbbbbbbbb\n", "k", &twice)
                  .find("k:2: key number 1 used twice"),
              std::string::npos);
    BatvKeyRing none;
    EXPECT_NE(parse_batv_keys("# nothing\n", "k", &none), "");
}

// Through a Connection, as the milter drives it.
class BatvSession : public ::testing::Test {
protected:
    void SetUp() override {
        backend_ = std::make_shared<testing::FakeBackend>("users");
        backend_->add("alice@example.com");
        backend_->add("j\xC3\xB6rg@xn--bcher-kva.example");
        services_.unix_time = [this] { return now_; };
    }
    std::shared_ptr<const Runtime> runtime(bool enforce = true, bool trusted = true, bool verify_all = false) {
        auto s = std::make_shared<Settings>();
        s->recipients.domains.add_exact("example.com");
        s->recipients.domains.add_exact("xn--bcher-kva.example");  // bücher.example
        s->tarpit.enabled = false;
        s->tarpit.ban.ban_threshold = 0;
        if (trusted) s->tarpit.trusted_networks.add_all({"192.0.2.0/24"});
        s->batv.enabled = true;
        s->batv.domains.add_exact("example.com");
        s->batv.domains.add_exact("xn--bcher-kva.example");
        s->batv.keys.keys = {BatvKey{3, "session-test-secret-3"}};
        s->batv.enforce = enforce;
        s->batv.verify_all_senders = verify_all;
        auto rt = std::make_shared<Runtime>();
        rt->backends = {backend_};
        rt->rules = std::make_shared<RecipientRules>(s->recipients, std::make_shared<BackendChain>(rt->backends));
        rt->settings = s;
        return rt;
    }
    std::string tagged(const std::string& user) {
        return "prvs=" + prvs_tag(BatvKey{3, "session-test-secret-3"}, batv_day(now_), 7, user + "@example.com") + "=" +
               user + "@example.com";
    }

    std::int64_t now_ = 1764201600;
    std::shared_ptr<testing::FakeBackend> backend_;
    testing::FakeClock clock_;
    testing::FakeSleeper sleeper_{clock_};
    LocalClientState clients_{LocalStateOptions{100, "", "", nullptr}, clock_};
    Tarpit tarpit_{clients_, sleeper_, clock_};
    Metrics metrics_;
    Services services_{clock_, tarpit_, metrics_};
};

TEST_F(BatvSession, OutboundFromTrustedClient_SenderSignedAtEom) {
    Connection c(runtime(), {"h", "192.0.2.9"}, services_);
    c.on_mail("<Alice@Example.com>", "");
    c.on_rcpt({"<friend@elsewhere.test>", "", false});
    EXPECT_TRUE(c.wants_content());
    EomEdits e = c.on_eom(false);
    ASSERT_EQ(e.new_sender,
              "<prvs=" + prvs_tag(BatvKey{3, "session-test-secret-3"}, batv_day(now_), 7, "alice@example.com") +
                  "=Alice@example.com>");
}

TEST_F(BatvSession, NotSigned_Untrusted_NullSender_OtherDomain_ExemptDestination) {
    Connection untrusted(runtime(true, false), {"h", "198.51.100.1"}, services_);
    untrusted.on_mail("<alice@example.com>", "");
    EXPECT_EQ(untrusted.on_eom(false).new_sender, "");
    Connection null(runtime(), {"h", "192.0.2.9"}, services_);
    null.on_mail("<>", "");
    EXPECT_EQ(null.on_eom(false).new_sender, "");
    Connection other(runtime(), {"h", "192.0.2.9"}, services_);
    other.on_mail("<bob@other.test>", "");
    EXPECT_EQ(other.on_eom(false).new_sender, "");
    auto rt = runtime();
    auto s = std::make_shared<Settings>(*rt->settings);
    s->batv.exempt_destination_domains.add_exact("lists.test");
    auto rt2 = std::make_shared<Runtime>(*rt);
    rt2->settings = s;
    Connection list(rt2, {"h", "192.0.2.9"}, services_);
    list.on_mail("<alice@example.com>", "");
    list.on_rcpt({"<announce@lists.test>", "", false});
    EXPECT_EQ(list.on_eom(false).new_sender, "");
}

TEST_F(BatvSession, BounceToValidTag_AcceptedAndRewritten) {
    Connection c(runtime(), {"mx.remote", "198.51.100.7"}, services_);
    c.on_mail("<>", "");
    std::string argv = "<" + tagged("alice") + ">";
    EXPECT_EQ(c.on_rcpt({argv, "", false}).action, RcptAction::Continue);
    EomEdits e = c.on_eom(false);
    ASSERT_EQ(e.rewrite_rcpts.size(), 1u);
    EXPECT_EQ(e.rewrite_rcpts[0].first, argv);
    EXPECT_EQ(e.rewrite_rcpts[0].second, "<alice@example.com>");
}

TEST_F(BatvSession, BounceToValidTag_ButUnknownUser_550_511) {
    Connection c(runtime(), {"mx.remote", "198.51.100.7"}, services_);
    c.on_mail("<>", "");
    RcptDecision d = c.on_rcpt({"<" + tagged("nosuch") + ">", "", false});
    EXPECT_EQ(d.reply.code, "550");
    EXPECT_EQ(d.reply.xcode, "5.1.1");
}

TEST_F(BatvSession, CheckAtOnce_ChecksTheAddressTheTagStandsFor_OnRcptUsesItForThatAddressOnly) {
    backend_->set_local(true);  // answers without waiting, as SQLite does
    Connection c(runtime(), {"mx.remote", "198.51.100.7"}, services_);
    c.on_mail("<>", "");
    std::string argv = "<" + tagged("alice") + ">";
    std::optional<RcptPrecheck> pre = c.check_at_once(argv);
    ASSERT_TRUE(pre.has_value());
    EXPECT_EQ(pre->address, "alice@example.com");
    EXPECT_EQ(pre->check.verdict, Verdict::Valid);
    std::size_t calls = backend_->calls().size();
    RcptInput in;
    in.address = argv;
    in.precheck = &*pre;
    EXPECT_EQ(c.on_rcpt(in).action, RcptAction::Continue);
    EXPECT_EQ(backend_->calls().size(), calls);  // judged by the precheck, not asked again
    EXPECT_EQ(c.on_eom(false).rewrite_rcpts.size(), 1u);
    // A precheck taken for another address is never applied to this one.
    Connection d(runtime(), {"mx.remote", "198.51.100.7"}, services_);
    d.on_mail("<>", "");
    std::optional<RcptPrecheck> bob = d.check_at_once("<bob@example.com>");
    ASSERT_TRUE(bob.has_value());
    EXPECT_EQ(bob->check.verdict, Verdict::Unknown);
    in.precheck = &*bob;
    EXPECT_EQ(d.on_rcpt(in).action, RcptAction::Continue);  // alice, checked for herself
}

TEST_F(BatvSession, BounceToUntaggedOrForged_550_571) {
    Connection c(runtime(), {"mx.remote", "198.51.100.7"}, services_);
    c.on_mail("<>", "");
    RcptDecision untagged = c.on_rcpt({"<alice@example.com>", "", false});
    EXPECT_EQ(
        untagged.reply.to_string(),
        "550 5.7.1 <alice@example.com>: Recipient address rejected: Bounce to an address we never used as a sender (BATV)");
    RcptDecision forged = c.on_rcpt({"<prvs=3123abcdef=alice@example.com>", "", false});
    EXPECT_EQ(forged.reply.code, "550");
    EXPECT_EQ(forged.reply.xcode, "5.7.1");
    EXPECT_NE(forged.reply.phrase.find("Invalid bounce address tag"), std::string::npos);
    // postmaster is always accepted (RFC 5321 4.5.1)
    EXPECT_EQ(c.on_rcpt({"<postmaster@example.com>", "", false}).action, RcptAction::Continue);
    EXPECT_EQ(c.bad_recipients(), 2u);
}

TEST_F(BatvSession, ExpiredTag_Refused) {
    std::string old = tagged("alice");
    now_ += 8 * 86400;
    Connection c(runtime(), {"mx.remote", "198.51.100.7"}, services_);
    c.on_mail("<>", "");
    RcptDecision d = c.on_rcpt({"<" + old + ">", "", false});
    EXPECT_NE(d.reply.phrase.find("expired"), std::string::npos);
}

TEST_F(BatvSession, MonitorMode_LogsAndAccepts) {
    Connection c(runtime(false), {"mx.remote", "198.51.100.7"}, services_);
    c.on_mail("<>", "");
    EXPECT_EQ(c.on_rcpt({"<alice@example.com>", "", false}).action, RcptAction::Continue);
    EXPECT_EQ(c.on_rcpt({"<prvs=3123abcdef=alice@example.com>", "", false}).action, RcptAction::Continue);
    EXPECT_EQ(metrics_.batv_monitored.load(), 2u);
}

TEST_F(BatvSession, NonNullSenderToTaggedAddress_StrippedNotRefused) {
    Connection c(runtime(), {"mx.remote", "198.51.100.7"}, services_);
    c.on_mail("<autoreply@remote.test>", "");
    EXPECT_EQ(c.on_rcpt({"<prvs=3123abcdef=alice@example.com>", "", false}).action, RcptAction::Continue);
    EXPECT_EQ(c.on_eom(false).rewrite_rcpts.size(), 1u);
    EXPECT_EQ(c.on_rcpt({"<alice@example.com>", "", false}).action, RcptAction::Continue);
}

// UTF-8 senders (RFC 6531): the tag goes in front of the UTF-8 local part as
// the sender wrote it, the domain keeps its form, and the HMAC is over the
// canonical address, so every spelling of the bounce address verifies.
const std::string kJoergCanonical = "j\xC3\xB6rg@xn--bcher-kva.example";

TEST_F(BatvSession, Utf8Sender_TagBeforeUtf8LocalPart_SignedOverCanonicalAddress) {
    std::string tag = prvs_tag(BatvKey{3, "session-test-secret-3"}, batv_day(now_), 7, kJoergCanonical);
    Connection u(runtime(), {"h", "192.0.2.9"}, services_);
    u.on_mail("<J\xC3\xB6rg@B\xC3\xBC\x63her.example>", "");
    u.on_rcpt({"<friend@elsewhere.test>", "", false});
    EXPECT_EQ(u.on_eom(false).new_sender, "<prvs=" + tag + "=J\xC3\xB6rg@b\xC3\xBC\x63her.example>");
    // The same sender written with the ASCII form of the domain: same tag, ASCII domain kept.
    Connection a(runtime(), {"h", "192.0.2.9"}, services_);
    a.on_mail("<j\xC3\xB6rg@xn--bcher-kva.example>", "");
    a.on_rcpt({"<friend@elsewhere.test>", "", false});
    EXPECT_EQ(a.on_eom(false).new_sender, "<prvs=" + tag + "=j\xC3\xB6rg@xn--bcher-kva.example>");
}

struct Utf8BounceCase {
    std::string rcpt;       // what the bounce is addressed to; TAG stands for the valid tag
    std::string rewritten;  // the recipient it is delivered to
};

TEST_F(BatvSession, BounceToTaggedUtf8Address_AnySpelling_ValidAndRewrittenInItsForm) {
    std::string tag = prvs_tag(BatvKey{3, "session-test-secret-3"}, batv_day(now_), 7, kJoergCanonical);
    const Utf8BounceCase cases[] = {
        {"prvs=" + tag + "=J\xC3\xB6rg@b\xC3\xBC\x63her.example", "<j\xC3\xB6rg@b\xC3\xBC\x63her.example>"},
        {"prvs=" + tag + "=j\xC3\xB6rg@xn--bcher-kva.example", "<j\xC3\xB6rg@xn--bcher-kva.example>"},
        {"PRVS=" + tag + "=J\xC3\x96RG@XN--BCHER-KVA.EXAMPLE", "<j\xC3\xB6rg@xn--bcher-kva.example>"},
        {"prvs=" + tag + "=jo\xCC\x88rg@bu\xCC\x88\x63her.example", "<j\xC3\xB6rg@b\xC3\xBC\x63her.example>"},
        {"j\xC3\xB6rg+prvs=" + tag + "@b\xC3\xBC\x63her.example", "<j\xC3\xB6rg@b\xC3\xBC\x63her.example>"},
    };
    for (const auto& k : cases) {
        Connection c(runtime(), {"mx.remote", "198.51.100.7"}, services_);
        c.on_mail("<>", "");
        RcptDecision d = c.on_rcpt({"<" + k.rcpt + ">", "", false});
        EXPECT_EQ(d.action, RcptAction::Continue) << k.rcpt << ": " << d.reply.to_string();
        EomEdits e = c.on_eom(false);
        ASSERT_EQ(e.rewrite_rcpts.size(), 1u) << k.rcpt;
        EXPECT_EQ(e.rewrite_rcpts[0].second, k.rewritten) << k.rcpt;
    }
    // A forged tag on the UTF-8 address is still refused.
    Connection c(runtime(), {"mx.remote", "198.51.100.7"}, services_);
    c.on_mail("<>", "");
    RcptDecision forged = c.on_rcpt({"<prvs=3123abcdef=j\xC3\xB6rg@b\xC3\xBC\x63her.example>", "", false});
    EXPECT_EQ(forged.reply.code, "550");
    EXPECT_EQ(forged.reply.xcode, "5.7.1");
}

// rcptguard -q / rcptguard-ctl check: the same classification as at RCPT.
class BatvQuery : public BatvSession {
protected:
    int query(const std::string& address, bool enforce = true) {
        out_.str("");
        return run_query(*runtime(enforce), address, out_, now_);
    }
    // rcptguard -q ADDRESS -S SENDER
    int query_from(const std::string& address, const std::string& sender, bool enforce = true,
                   bool verify_all = false) {
        out_.str("");
        return run_query(*runtime(enforce, true, verify_all), address, out_, now_, sender);
    }
    bool says(const std::string& part) const { return text().find(part) != std::string::npos; }
    std::string text() const { return out_.str(); }
    std::ostringstream out_;
};

TEST_F(BatvQuery, ValidTag_PlainAddressChecked) {
    EXPECT_EQ(query(tagged("alice")), kQueryValid) << text();
    EXPECT_NE(text().find("BATV tag valid: recipient rewritten to <alice@example.com>"), std::string::npos) << text();
    EXPECT_EQ(query(tagged("nosuch")), kQueryUnknown) << text();
    EXPECT_NE(text().find("550 5.1.1"), std::string::npos) << text();
}

TEST_F(BatvQuery, ValidTagOnUtf8Address_RewrittenInUtf8_AndFound) {
    std::string tag = prvs_tag(BatvKey{3, "session-test-secret-3"}, batv_day(now_), 7, kJoergCanonical);
    EXPECT_EQ(query("prvs=" + tag + "=j\xC3\xB6rg@b\xC3\xBC\x63her.example"), kQueryValid) << text();
    EXPECT_TRUE(says("BATV tag valid: recipient rewritten to <j\xC3\xB6rg@b\xC3\xBC\x63her.example>")) << text();
}

TEST_F(BatvQuery, InvalidTag_ExitUnknownWhenEnforcing_PlainCheckedInMonitorMode) {
    EXPECT_EQ(query("prvs=3123abcdef=alice@example.com"), kQueryUnknown) << text();
    EXPECT_NE(text().find("BATV tag invalid (bad signature): a bounce would get 550 5.7.1"), std::string::npos)
        << text();
    std::string old = tagged("alice");
    now_ += 8 * 86400;
    EXPECT_EQ(query(old), kQueryUnknown) << text();
    EXPECT_NE(text().find("expired"), std::string::npos) << text();
    EXPECT_EQ(query("prvs=3123abcdef=alice@example.com", false), kQueryValid) << text();
    EXPECT_NE(text().find("BATV monitor mode"), std::string::npos) << text();
}

TEST_F(BatvQuery, Untagged_OrdinaryVerdictWithBounceNote_PostmasterWithout) {
    EXPECT_EQ(query("alice@example.com"), kQueryValid) << text();
    EXPECT_NE(text().find("a bounce (MAIL FROM:<>) to this untagged address would get 550 5.7.1"), std::string::npos)
        << text();
    EXPECT_EQ(query("postmaster@example.com"), kQueryValid) << text();
    EXPECT_EQ(text().find("BATV"), std::string::npos) << text();
}

TEST_F(BatvQuery, SenderGiven_BounceToUntagged_RefusedWithoutLookupWhenEnforcing) {
    for (const char* bounce : {"<>", ""}) {
        EXPECT_EQ(query_from("alice@example.com", bounce), kQueryUnknown) << text();
        EXPECT_TRUE(says("<alice@example.com>: BATV: a bounce to an untagged address: would reply 550 5.7.1"))
            << text();
        EXPECT_FALSE(says("valid")) << text();
    }
    EXPECT_EQ(query_from("alice@example.com", "<>", false), kQueryValid) << text();  // monitor: logged only
    EXPECT_TRUE(says("BATV monitor mode")) << text();
    EXPECT_TRUE(says("valid: found alice@example.com")) << text();
}

TEST_F(BatvQuery, SenderGiven_OrdinaryMailToUntagged_NoBatvAtAll) {
    EXPECT_EQ(query_from("alice@example.com", "<bob@remote.test>"), kQueryValid) << text();
    EXPECT_FALSE(says("BATV")) << text();
    EXPECT_EQ(query_from("nosuch@example.com", "bob@remote.test"), kQueryUnknown) << text();
    EXPECT_TRUE(says("550 5.1.1")) << text();
}

TEST_F(BatvQuery, SenderGiven_InvalidTag_RefusedForBounces_RewrittenForOthersUnlessVerifyAll) {
    const std::string forged = "prvs=3123abcdef=alice@example.com";
    EXPECT_EQ(query_from(forged, "<>"), kQueryUnknown) << text();
    EXPECT_TRUE(says("BATV tag invalid (bad signature): would reply 550 5.7.1")) << text();
    EXPECT_EQ(query_from(forged, "<autoreply@remote.test>"), kQueryValid) << text();
    EXPECT_TRUE(
        says("not checked for mail from <autoreply@remote.test> (batv_verify_all_senders = no): recipient "
             "rewritten to <alice@example.com>"))
        << text();
    EXPECT_EQ(query_from(forged, "<autoreply@remote.test>", true, true), kQueryUnknown) << text();
    EXPECT_TRUE(says("would reply 550 5.7.1")) << text();
    EXPECT_EQ(query_from(tagged("alice"), "<autoreply@remote.test>"), kQueryValid) << text();
    EXPECT_TRUE(says("BATV tag valid: recipient rewritten to <alice@example.com>")) << text();
}

TEST(BatvRecipientStep, RefuseRewriteOrPass_BySenderAndTag) {
    BatvRecipient untagged{BatvRecipient::Kind::Untagged, TagCheck::Valid, ""};
    BatvRecipient valid{BatvRecipient::Kind::Tagged, TagCheck::Valid, "a@example.com"};
    BatvRecipient forged{BatvRecipient::Kind::Tagged, TagCheck::BadSignature, "a@example.com"};
    EXPECT_EQ(batv_step(BatvRecipient{}, true, true), BatvStep::Pass);
    EXPECT_EQ(batv_step(untagged, true, false), BatvStep::Refuse);
    EXPECT_EQ(batv_step(untagged, false, true), BatvStep::Pass);  // ordinary mail to our users
    EXPECT_EQ(batv_step(valid, true, false), BatvStep::Rewrite);
    EXPECT_EQ(batv_step(valid, false, true), BatvStep::Rewrite);
    EXPECT_EQ(batv_step(forged, true, false), BatvStep::Refuse);
    EXPECT_EQ(batv_step(forged, false, false), BatvStep::Rewrite);  // an auto-reply: not checked unless asked
    EXPECT_EQ(batv_step(forged, false, true), BatvStep::Refuse);
}

TEST(BatvRecipientClassify, NotChecked_OffOtherDomainExemptOrNotMailbox) {
    BatvSettings b;
    b.domains.add_exact("example.com");
    b.keys.keys = {BatvKey{1, "classify-test-secret"}};
    AddressOptions ao;
    auto kind = [&](const std::string& addr) {
        return classify_batv_recipient(b, parse_address(addr, ao), '+', 20000).kind;
    };
    EXPECT_EQ(kind("alice@example.com"), BatvRecipient::Kind::NotChecked);  // BATV off
    b.enabled = true;
    EXPECT_EQ(kind("alice@example.com"), BatvRecipient::Kind::Untagged);
    EXPECT_EQ(kind("alice@other.test"), BatvRecipient::Kind::NotChecked);
    EXPECT_EQ(kind("<>"), BatvRecipient::Kind::NotChecked);
    EXPECT_EQ(kind("Postmaster@example.com"), BatvRecipient::Kind::NotChecked);
    b.exempt_recipients = {"alice@example.com"};
    EXPECT_EQ(kind("alice@example.com"), BatvRecipient::Kind::NotChecked);
    BatvRecipient t = classify_batv_recipient(b, parse_address("prvs=1zzzabcdef=bob@example.com", ao), '+', 20000);
    EXPECT_EQ(t.kind, BatvRecipient::Kind::Tagged);
    EXPECT_EQ(t.check, TagCheck::Malformed);
    EXPECT_EQ(t.plain, "prvs=1zzzabcdef=bob@example.com");  // not a tag: the address as it is
    EXPECT_EQ(batv_refusal(t, "x").to_string(),
              "550 5.7.1 <x>: Recipient address rejected: Invalid bounce address tag (BATV): malformed tag");
}

}  // namespace
}  // namespace rcptguard
