// Unit tests for the recipient policy (milter/policy/recipient_policy.hpp)
// with fake backends: lookup order, chain rules, postmaster, monitor mode,
// and the rule that a TempFail never becomes a 5xx.
#include "core/recipients/recipient_rules.hpp"

#include <gtest/gtest.h>

#include "tests/fakes/fake_backend.hpp"
#include "util/text.hpp"

namespace rcptguard {
namespace {

using testing::FakeBackend;

class PolicyTest : public ::testing::Test {
protected:
    void SetUp() override {
        a_ = std::make_shared<FakeBackend>("a");
        b_ = std::make_shared<FakeBackend>("b");
        settings_.domains.add_exact("example.test");
        settings_.domains.add_subdomains_of("sub.test");
    }
    RecipientRules policy() const {
        return RecipientRules(settings_, std::make_shared<BackendChain>(std::vector<BackendPtr>{a_, b_}));
    }
    RcptDecision decide(const std::string& raw) const {
        RecipientRules p = policy();
        return p.decide(p.check(raw));
    }

    std::shared_ptr<FakeBackend> a_, b_;
    RecipientSettings settings_;
};

TEST_F(PolicyTest, KnownUser_Valid_Continue) {
    a_->add("user@example.test");
    RecipientCheck c = policy().check("<User@Example.TEST>");
    EXPECT_EQ(c.verdict, Verdict::Valid);
    EXPECT_EQ(c.key, "user@example.test");
    EXPECT_EQ(c.backend, "a");
    EXPECT_EQ(decide("<user@example.test>").action, RcptAction::Continue);
}

TEST_F(PolicyTest, UnknownUser_Rejected550WithExactText) {
    RcptDecision d = decide("<nosuch@example.test>");
    EXPECT_EQ(d.action, RcptAction::Reject);
    EXPECT_EQ(d.reply.to_string(), "550 5.1.1 <nosuch@example.test>: Recipient address rejected: User unknown");
}

TEST_F(PolicyTest, LookupOrder_FullThenBaseThenCatchAll_EachBackendInTurn) {
    RecipientCheck c = policy().check("<user+tag@example.test>");
    EXPECT_EQ(c.verdict, Verdict::Unknown);
    std::vector<std::string> want = {"user+tag@example.test", "user@example.test", "@example.test"};
    EXPECT_EQ(a_->calls(), want);
    EXPECT_EQ(b_->calls(), want);
}

TEST_F(PolicyTest, CatchAllInFirstBackend_WinsOverLaterBackends) {
    a_->add("@example.test");
    b_->fail_everything(true);
    RecipientCheck c = policy().check("<anyone@example.test>");
    EXPECT_EQ(c.verdict, Verdict::Valid);
    EXPECT_EQ(c.key, "@example.test");
    EXPECT_TRUE(b_->calls().empty());
}

TEST_F(PolicyTest, Detail_FoundByBaseAddress) {
    b_->add("user@example.test");
    RecipientCheck c = policy().check("<user+lists@example.test>");
    EXPECT_EQ(c.verdict, Verdict::Valid);
    EXPECT_EQ(c.key, "user@example.test");
    EXPECT_EQ(c.backend, "b");
}

TEST_F(PolicyTest, CatchAll_AcceptsAnyLocalPart) {
    a_->add("@example.test");
    EXPECT_EQ(policy().check("<anything@example.test>").verdict, Verdict::Valid);
}

TEST_F(PolicyTest, FirstFoundWins_LaterBackendsNotAsked) {
    a_->add("user@example.test");
    policy().check("<user@example.test>");
    EXPECT_TRUE(b_->calls().empty());
}

TEST_F(PolicyTest, TempFail_StopsChain_NeverBecomes550) {
    a_->fail("user@example.test");
    b_->add("user@example.test");
    RecipientCheck c = policy().check("<user@example.test>");
    EXPECT_EQ(c.verdict, Verdict::TempFail);
    EXPECT_EQ(c.backend, "a");
    EXPECT_TRUE(b_->calls().empty());
    RcptDecision d = policy().decide(c);
    EXPECT_EQ(d.action, RcptAction::TempFail);
    EXPECT_EQ(d.reply.to_string(),
              "451 4.3.0 <user@example.test>: Recipient address rejected: Temporary lookup failure");
}

TEST_F(PolicyTest, TempFailOnCatchAllKey_StillTempFail) {
    a_->fail("@example.test");
    RcptDecision d = decide("<nosuch@example.test>");
    EXPECT_EQ(d.action, RcptAction::TempFail);
    EXPECT_TRUE(d.reply.is_temporary());
}

TEST_F(PolicyTest, TempFailInSecondBackend_AfterNotFound_TempFail) {
    b_->fail_everything(true);
    EXPECT_EQ(decide("<nosuch@example.test>").action, RcptAction::TempFail);
}

TEST_F(PolicyTest, OnBackendErrorAccept_ContinuesAndFlags) {
    settings_.accept_on_backend_error = true;
    a_->fail_everything(true);
    RcptDecision d = decide("<user@example.test>");
    EXPECT_EQ(d.action, RcptAction::Continue);
    EXPECT_TRUE(d.accepted_on_error);
    EXPECT_EQ(d.would_reply.code, "451");
}

TEST_F(PolicyTest, OnBackendErrorAccept_UnknownStillRejected) {
    settings_.accept_on_backend_error = true;
    EXPECT_EQ(decide("<nosuch@example.test>").action, RcptAction::Reject);
}

TEST_F(PolicyTest, MonitorMode_UnknownContinues_RecordsWouldReject) {
    settings_.monitor = true;
    RcptDecision d = decide("<nosuch@example.test>");
    EXPECT_EQ(d.action, RcptAction::Continue);
    EXPECT_TRUE(d.monitored);
    EXPECT_EQ(d.would_reply.code, "550");
}

TEST_F(PolicyTest, MonitorMode_TempFailContinues) {
    settings_.monitor = true;
    a_->fail_everything(true);
    RcptDecision d = decide("<user@example.test>");
    EXPECT_EQ(d.action, RcptAction::Continue);
    EXPECT_EQ(d.would_reply.code, "451");
}

TEST_F(PolicyTest, UnverifiedFound_ValidAndCountedForItsBackend) {
    // A call-ahead backend in front of a server that accepts everything answers
    // Found without a real check: still valid, and counted.
    b_->add_unverified("anyone@example.test");
    Metrics metrics;
    RecipientRules p(settings_, std::make_shared<BackendChain>(std::vector<BackendPtr>{a_, b_}, &metrics));
    EXPECT_EQ(p.check("<anyone@example.test>").verdict, Verdict::Valid);
    EXPECT_EQ(metrics.backend("b").unverified.load(), 1u);
    EXPECT_EQ(metrics.backend("b").found.load(), 1u);
    EXPECT_EQ(metrics.backend("a").unverified.load(), 0u);
    a_->add("known@example.test");
    EXPECT_EQ(p.check("<known@example.test>").verdict, Verdict::Valid);
    EXPECT_EQ(metrics.backend("a").unverified.load(), 0u);
}

TEST_F(PolicyTest, OtherDomain_NoOpinion_NoLookup) {
    RecipientCheck c = policy().check("<user@elsewhere.test>");
    EXPECT_EQ(c.verdict, Verdict::NotOurs);
    EXPECT_TRUE(a_->calls().empty());
    EXPECT_EQ(decide("<user@elsewhere.test>").action, RcptAction::Continue);
}

TEST_F(PolicyTest, ParentDomainEntry_MatchesSubdomainsOnly) {
    EXPECT_EQ(policy().check("<x@mail.sub.test>").verdict, Verdict::Unknown);
    EXPECT_EQ(policy().check("<x@a.b.sub.test>").verdict, Verdict::Unknown);
    EXPECT_EQ(policy().check("<x@sub.test>").verdict, Verdict::NotOurs);
}

TEST_F(PolicyTest, Postmaster_AlwaysValid_EvenDuringOutage) {
    a_->fail_everything(true);
    EXPECT_EQ(policy().check("<Postmaster@example.test>").verdict, Verdict::Valid);
    EXPECT_EQ(policy().check("<postmaster>").verdict, Verdict::Valid);
    EXPECT_TRUE(a_->calls().empty());
}

TEST_F(PolicyTest, BareLocalPart_NoOpinion) { EXPECT_EQ(policy().check("<root>").verdict, Verdict::NotOurs); }

TEST_F(PolicyTest, BadSyntaxInOurDomain_501) {
    RcptDecision d = decide("<a b@example.test>");
    EXPECT_EQ(d.action, RcptAction::Reject);
    EXPECT_EQ(d.reply.to_string(),
              "501 5.1.3 <a b@example.test>: Recipient address rejected: Bad recipient address syntax");
    EXPECT_TRUE(a_->calls().empty());
}

TEST_F(PolicyTest, DoubledDotInOurDomain_501NotALookup) {
    RcptDecision d = decide("<bad..dots@example.test>");
    EXPECT_EQ(d.reply.to_string(),
              "501 5.1.3 <bad..dots@example.test>: Recipient address rejected: Bad recipient address syntax");
    EXPECT_TRUE(a_->calls().empty());
}

TEST_F(PolicyTest, BadSyntaxElsewhere_NoOpinion) {
    EXPECT_EQ(decide("<a b@elsewhere.test>").action, RcptAction::Continue);
}

TEST_F(PolicyTest, NullRecipient_BadSyntax) { EXPECT_EQ(policy().check("<>").verdict, Verdict::BadSyntax); }

TEST_F(PolicyTest, CustomRejectMessage_UsedAndPercentSafe) {
    settings_.reject_message = "No such user (100% sure)";
    RcptDecision d = decide("<x@example.test>");
    EXPECT_EQ(d.reply.text(), "<x@example.test>: Recipient address rejected: No such user (100% sure)");
    EXPECT_TRUE(reply_is_well_formed(d.reply));
}

TEST_F(PolicyTest, HostileAddresses_NeverCrash_AlwaysWellFormedReply) {
    const std::string hostile[] = {"<' OR 1=1 --@example.test>",
                                   "<*)(uid=*@example.test>",
                                   "<\"a b\"@example.test>",
                                   "<%@example.test>",
                                   "<" + std::string(1024, 'a') + "@example.test>",
                                   std::string("<a\0b@example.test>", 18),
                                   "<\xff\xfe@example.test>",
                                   "<<<>>>",
                                   "<@:@example.test>",
                                   "<\"\\\"@example.test>"};
    for (const auto& h : hostile) {
        RcptDecision d = decide(h);
        if (d.action != RcptAction::Continue) {
            EXPECT_TRUE(reply_is_well_formed(d.reply)) << d.reply.to_string();
        }
    }
}

// --- domains from a backend, [domain] sections, backend scopes ------------

class DomainRulesTest : public ::testing::Test {
protected:
    void SetUp() override {
        db_ = std::make_shared<FakeBackend>("db");
        other_ = std::make_shared<FakeBackend>("other");
        settings_.domains.add_exact("static.test");
        settings_.domain_backends = {"db"};
        db_->add_domain("fromdb.test");
        db_->add_domain("second.test");
    }
    RecipientRules rules(std::vector<DomainSet> scopes = {}) const {
        RecipientLookups l;
        l.recipients = std::make_shared<BackendChain>(std::vector<BackendPtr>{db_, other_}, scopes);
        l.domains = std::make_shared<BackendChain>(std::vector<BackendPtr>{domain_query_view(db_)});
        for (const auto& d : settings_.per_domain)
            l.per_domain.push_back(
                d.backend_names.empty() ? nullptr : std::make_shared<BackendChain>(std::vector<BackendPtr>{other_}));
        return RecipientRules(settings_, l);
    }
    std::shared_ptr<FakeBackend> db_, other_;
    RecipientSettings settings_;
};

TEST_F(DomainRulesTest, DomainFromDomainQuery_Ours_ThenRecipientsLookedUp) {
    db_->add("alice@fromdb.test");
    RecipientRules r = rules();
    RecipientCheck c = r.check("<alice@fromdb.test>");
    EXPECT_EQ(c.verdict, Verdict::Valid);
    EXPECT_EQ(c.domain_backend, "db");
    EXPECT_EQ(r.check("<nobody@fromdb.test>").verdict, Verdict::Unknown);
    EXPECT_EQ(r.decide(r.check("<nobody@fromdb.test>")).reply.code, "550");
}

TEST_F(DomainRulesTest, InternationalDomainInTheDatabase_EitherFormIsOurs) {
    db_->add_domain("b\xC3\xBC\x63her.test");  // stored in its U-label form
    db_->add("@xn--bcher-kva.test");
    RecipientRules r = rules();
    for (const char* rcpt : {"<anyone@xn--bcher-kva.test>", "<anyone@B\xC3\x9C\x43HER.test>"}) {
        RecipientCheck c = r.check(rcpt);
        EXPECT_EQ(c.verdict, Verdict::Valid) << rcpt;
        EXPECT_EQ(c.domain_backend, "db") << rcpt;
    }
    std::vector<std::string> asked = {"xn--bcher-kva.test", "b\xC3\xBC\x63her.test"};
    std::vector<std::string> calls = db_->domain_calls();
    ASSERT_GE(calls.size(), 2u);
    EXPECT_EQ(std::vector<std::string>(calls.begin(), calls.begin() + 2), asked);
}

TEST_F(DomainRulesTest, CheckAtOnce_NothingAskedOfAStoreElsewhere_LocalStoresAnswer) {
    db_->add("alice@fromdb.test");
    RecipientRules r = rules();                                         // the fakes are not on this host
    EXPECT_FALSE(r.check_at_once("<alice@fromdb.test>").has_value());   // the domain needs the database
    EXPECT_FALSE(r.check_at_once("<nobody@static.test>").has_value());  // the recipient needs it
    EXPECT_TRUE(db_->calls().empty());
    EXPECT_TRUE(db_->domain_calls().empty());
    // No lookup at all: answered at once, as check() would.
    auto postmaster = r.check_at_once("<postmaster@static.test>");
    ASSERT_TRUE(postmaster.has_value());
    EXPECT_EQ(postmaster->verdict, Verdict::Valid);
    auto syntax = r.check_at_once("<a..b@static.test>");
    ASSERT_TRUE(syntax.has_value());
    EXPECT_EQ(syntax->verdict, Verdict::BadSyntax);
    // Stores on this host are asked, and the answer is check()'s.
    db_->set_local(true);
    other_->set_local(true);
    RecipientRules local = rules();
    auto alice = local.check_at_once("<alice@fromdb.test>");
    ASSERT_TRUE(alice.has_value());
    EXPECT_EQ(alice->verdict, Verdict::Valid);
    EXPECT_EQ(alice->domain_backend, "db");
    auto nobody = local.check_at_once("<nobody@fromdb.test>");
    ASSERT_TRUE(nobody.has_value());
    EXPECT_EQ(nobody->verdict, Verdict::Unknown);
}

TEST_F(DomainRulesTest, DomainNamedInDomains_NotAskedOfTheDatabase) {
    RecipientRules r = rules();
    EXPECT_EQ(r.check("<nobody@static.test>").verdict, Verdict::Unknown);
    EXPECT_TRUE(db_->domain_calls().empty());
}

TEST_F(DomainRulesTest, DomainTheDatabaseDoesNotKnow_NotOurs_NoRecipientLookup) {
    RecipientRules r = rules();
    EXPECT_EQ(r.check("<someone@elsewhere.test>").verdict, Verdict::NotOurs);
    EXPECT_EQ(db_->domain_calls(), std::vector<std::string>{"elsewhere.test"});
    EXPECT_TRUE(db_->calls().empty());
}

TEST_F(DomainRulesTest, DomainQueryFails_451ForThatRecipient_NeverNotOursNeverA550) {
    db_->fail_domains(true);
    RecipientRules r = rules();
    RecipientCheck c = r.check("<alice@fromdb.test>");
    EXPECT_EQ(c.verdict, Verdict::TempFail);
    EXPECT_EQ(c.backend, "db");
    EXPECT_NE(c.reason.find("fake domain outage"), std::string::npos);
    RcptDecision d = r.decide(c);
    EXPECT_EQ(d.action, RcptAction::TempFail);
    EXPECT_EQ(d.reply.code, "451");
    EXPECT_EQ(r.check("<x@static.test>").verdict, Verdict::Unknown);  // named domains go on
}

TEST_F(DomainRulesTest, DomainSection_MonitorForOneDomain_WhileAnotherEnforces) {
    DomainSettings mon;
    mon.domain = "fromdb.test";
    mon.monitor = true;
    mon.reject_message = "User unknown";
    settings_.per_domain.push_back(mon);
    RecipientRules r = rules();
    RcptDecision watched = r.decide(r.check("<nobody@fromdb.test>"));
    EXPECT_EQ(watched.action, RcptAction::Continue);
    EXPECT_TRUE(watched.monitored);
    EXPECT_EQ(watched.would_reply.code, "550");
    RcptDecision enforced = r.decide(r.check("<nobody@second.test>"));
    EXPECT_EQ(enforced.action, RcptAction::Reject);
    EXPECT_FALSE(r.monitor_for(r.check("<nobody@second.test>")));
    EXPECT_TRUE(r.monitor_for(r.check("<nobody@fromdb.test>")));
}

TEST_F(DomainRulesTest, DomainSection_GlobalMonitor_OneDomainEnforces) {
    settings_.monitor = true;
    DomainSettings strict;
    strict.domain = "static.test";
    strict.monitor = false;
    strict.reject_message = "No such mailbox here";
    settings_.per_domain.push_back(strict);
    RecipientRules r = rules();
    RcptDecision d = r.decide(r.check("<nobody@static.test>"));
    EXPECT_EQ(d.action, RcptAction::Reject);
    EXPECT_EQ(d.reply.to_string(), "550 5.1.1 <nobody@static.test>: Recipient address rejected: No such mailbox here");
    EXPECT_TRUE(r.decide(r.check("<nobody@fromdb.test>")).monitored);
}

TEST_F(DomainRulesTest, DomainSection_OwnBackends_OnlyThoseAsked) {
    DomainSettings own;
    own.domain = "second.test";
    own.reject_message = "User unknown";
    own.backend_names = {"other"};
    settings_.per_domain.push_back(own);
    db_->add("carol@second.test");
    other_->add("dave@second.test");
    RecipientRules r = rules();
    EXPECT_EQ(r.check("<dave@second.test>").verdict, Verdict::Valid);
    EXPECT_EQ(r.check("<carol@second.test>").verdict, Verdict::Unknown);  // db is not asked for second.test
}

TEST_F(DomainRulesTest, BackendScope_AskedOnlyAboutItsDomains) {
    DomainSet only_static;
    only_static.add_exact("static.test");
    db_->add("eve@fromdb.test");
    RecipientRules r = rules({only_static, DomainSet{}});
    EXPECT_EQ(r.check("<eve@fromdb.test>").verdict, Verdict::Unknown);  // db skipped, other does not know eve
    EXPECT_TRUE(db_->calls().empty());
    EXPECT_EQ(r.check("<x@static.test>").verdict, Verdict::Unknown);
    EXPECT_FALSE(db_->calls().empty());
}

TEST_F(DomainRulesTest, EveryBackendScopedAway_TempFailNever550) {
    DomainSet a, b;
    a.add_exact("static.test");
    b.add_subdomains_of("static.test");
    RecipientRules r = rules({a, b});
    RecipientCheck c = r.check("<x@fromdb.test>");
    EXPECT_EQ(c.verdict, Verdict::TempFail);
    EXPECT_NE(c.reason.find("no backend is asked about domain fromdb.test"), std::string::npos) << c.reason;
}

// International addresses (issue 21): a store holding an IDN domain in
// either form, "domains" listing it once in either form, recipients written
// in either form - one verdict.
struct IdnCase {
    const char* name;
    std::string domains;  // the "domains" key
    std::string recipient;
    Verdict want;
};

class IdnRules : public ::testing::TestWithParam<IdnCase> {};

TEST_P(IdnRules, EitherForm_OneVerdict) {
    const IdnCase& c = GetParam();
    auto store = std::make_shared<FakeBackend>("store");
    // As an admin may have stored them: U-label form, A-label form, and a
    // UTF-8 local part (rows hold the canonical local part).
    store->add("j\xC3\xB6rg@b\xC3\xBC\x63her.test");
    store->add("user@xn--bcher-kva.test");
    store->add("\xC3\xBCser@example.test");
    store->add("@xn--caf-dma.test");
    RecipientSettings s;
    ASSERT_EQ(build_domain_set(split_list(c.domains), &s.domains), "");
    RecipientRules rules(s, std::make_shared<BackendChain>(std::vector<BackendPtr>{store}));
    RecipientCheck got = rules.check(c.recipient);
    EXPECT_EQ(got.verdict, c.want) << to_string(got.verdict) << ": " << got.reason;
}

INSTANTIATE_TEST_SUITE_P(
    Table, IdnRules,
    ::testing::Values(
        IdnCase{"StoredU_AskedU", "b\xC3\xBC\x63her.test", "<j\xC3\xB6rg@b\xC3\xBC\x63her.test>", Verdict::Valid},
        IdnCase{"StoredU_AskedA", "b\xC3\xBC\x63her.test", "<j\xC3\xB6rg@xn--bcher-kva.test>", Verdict::Valid},
        IdnCase{"StoredA_AskedU", "b\xC3\xBC\x63her.test", "<user@b\xC3\xBC\x63her.test>", Verdict::Valid},
        IdnCase{"StoredA_AskedA", "b\xC3\xBC\x63her.test", "<user@xn--bcher-kva.test>", Verdict::Valid},
        IdnCase{"AskedUpperCaseU", "xn--bcher-kva.test", "<J\xC3\x96RG@B\xC3\x9C\x43HER.TEST>", Verdict::Valid},
        IdnCase{"AskedNfd", "xn--bcher-kva.test", "<jo\xCC\x88rg@bu\xCC\x88\x63her.test>", Verdict::Valid},
        IdnCase{"AskedWithDetail", "xn--bcher-kva.test", "<user+news@b\xC3\xBC\x63her.test>", Verdict::Valid},
        IdnCase{"CatchAllStoredA_AskedU", "caf\xC3\xA9.test", "<anyone@caf\xC3\xA9.test>", Verdict::Valid},
        IdnCase{"UpperCaseUtf8Local_Folded", "example.test", "<\xC3\x9C\x53\x45R@example.test>", Verdict::Valid},
        // Listed once in one form: the other form is ours too, so its unknown
        // users are refused here instead of bounced later.
        IdnCase{"ListedU_UnknownAskedA", "b\xC3\xBC\x63her.test", "<nobody@xn--bcher-kva.test>", Verdict::Unknown},
        IdnCase{"ListedA_UnknownAskedU", "xn--bcher-kva.test", "<nobody@b\xC3\xBC\x63her.test>", Verdict::Unknown},
        IdnCase{"UnknownUtf8Local", "example.test",
                "<\xC3\xBC"
                "berall@example.test>",
                Verdict::Unknown},
        IdnCase{"ParentListedU_SubdomainA", ".b\xC3\xBC\x63her.test", "<x@mail.xn--bcher-kva.test>", Verdict::Unknown},
        // Invalid IDN or UTF-8 in one of our domains: a syntax error (501), not "unknown".
        IdnCase{"InvalidIdnSubdomain_BadSyntax", ".b\xC3\xBC\x63her.test", "<x@\xE2\x98\x83.b\xC3\xBC\x63her.test>",
                Verdict::BadSyntax},
        IdnCase{"InvalidALabelSubdomain_BadSyntax", ".xn--bcher-kva.test", "<x@xn--zzzz.b\xC3\xBC\x63her.test>",
                Verdict::BadSyntax},
        IdnCase{"InvalidUtf8Local_BadSyntax", "b\xC3\xBC\x63her.test", "<j\xF6rg@b\xC3\xBC\x63her.test>",
                Verdict::BadSyntax},
        IdnCase{"OverlongUtf8Local_BadSyntax", "example.test", "<a\xC0\xAF@example.test>", Verdict::BadSyntax},
        IdnCase{"InvalidIdnElsewhere_NotOurs", "b\xC3\xBC\x63her.test", "<x@xn--zzzz.test>", Verdict::NotOurs},
        IdnCase{"SharpSDomain_IsAnotherDomain", "stra\xC3\x9F\x65.test", "<x@strasse.test>", Verdict::NotOurs}),
    [](const ::testing::TestParamInfo<IdnCase>& i) { return std::string(i.param.name); });

TEST_F(PolicyTest, IdnDomain_BackendAskedBothFormsMostSpecificFirst) {
    ASSERT_EQ(build_domain_set({"b\xC3\xBC\x63her.test"}, &settings_.domains), "");
    EXPECT_EQ(policy().check("<Nobody+X@B\xC3\xBC\x63her.test>").verdict, Verdict::Unknown);
    std::vector<std::string> want = {"nobody+x@xn--bcher-kva.test", "nobody+x@b\xC3\xBC\x63her.test",
                                     "nobody@xn--bcher-kva.test",   "nobody@b\xC3\xBC\x63her.test",
                                     "@xn--bcher-kva.test",         "@b\xC3\xBC\x63her.test"};
    EXPECT_EQ(a_->calls(), want);
}

TEST_F(PolicyTest, IdnDomain_FoundKeyIsTheStoredForm) {
    ASSERT_EQ(build_domain_set({"xn--bcher-kva.test"}, &settings_.domains), "");
    a_->add("j\xC3\xB6rg@b\xC3\xBC\x63her.test");
    RecipientCheck c = policy().check("<j\xC3\xB6rg@xn--bcher-kva.test>");
    EXPECT_EQ(c.verdict, Verdict::Valid);
    EXPECT_EQ(c.key, "j\xC3\xB6rg@b\xC3\xBC\x63her.test");
}

TEST(DomainSet, InvalidIdnEntry_ErrorSaysWhy) {
    DomainSet d;
    std::string e = build_domain_set({"\xE2\x98\x83.test"}, &d);
    EXPECT_NE(e.find("is not a domain name"), std::string::npos) << e;
    EXPECT_NE(e.find("invalid international domain name"), std::string::npos) << e;
}

TEST(DomainSet, Describe_ShowsULabels) {
    DomainSet d;
    ASSERT_EQ(build_domain_set({"xn--bcher-kva.test", ".B\xC3\x9C\x43HER.example"}, &d), "");
    std::vector<std::string> want = {".b\xC3\xBC\x63her.example", "b\xC3\xBC\x63her.test"};
    EXPECT_EQ(d.describe(), want);
}

}  // namespace
}  // namespace rcptguard
