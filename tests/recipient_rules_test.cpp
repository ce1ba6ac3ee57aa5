// Unit tests for the recipient policy (milter/policy/recipient_policy.hpp)
// with fake backends: lookup order, chain rules, postmaster, monitor mode,
// and the rule that a TempFail never becomes a 5xx.
#include "core/recipients/recipient_rules.hpp"

#include <gtest/gtest.h>

#include "tests/fakes/fake_backend.hpp"

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

}  // namespace
}  // namespace rcptguard
