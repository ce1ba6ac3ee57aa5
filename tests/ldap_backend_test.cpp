// Unit tests for the LDAP backend beyond the shared contract
// (backends/ldap_backend.hpp, ldap_config.hpp) against a real slapd
// (tests/fakes/slapd_fixture.hpp): outages and recovery, limits, binding,
// the Active Directory style filter, probing, and configuration checks.
#include "backends/ldap/ldap_backend.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <thread>

#include "backends/ldap/ldap_config.hpp"
#include "backends/registry.hpp"
#include "tests/fakes/slapd_fixture.hpp"
#include "tests/test_support.hpp"
#include "util/log.hpp"

namespace rcptguard {
namespace {

using std::chrono::milliseconds;
using testing::SlapdFixture;

LdapOptions options(const std::vector<std::string>& uris, const std::string& base,
                    const std::string& filter = "(|(mail=%s)(mailAlternateAddress=%s))") {
    LdapOptions o;
    o.connection.uris = uris;
    o.base = base;
    EXPECT_EQ(o.filter.parse(filter), "");
    return o;
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// --- outages: each test has its own server to stop, restart or freeze -----

// Options for such a server, holding user@example.test; timeouts of 0 keep
// the defaults.
LdapOptions one_user_options(SlapdFixture& slapd, milliseconds retry_after, milliseconds timeouts = milliseconds(0)) {
    std::string ou = slapd.new_ou();
    slapd.add_mail_entries(ou, {"user@example.test"});
    LdapOptions o = options({slapd.uri()}, ou);
    o.retry_after = retry_after;
    if (timeouts.count() > 0) {
        o.connection.connect_timeout = timeouts;
        o.connection.search_timeout = timeouts;
    }
    return o;
}

TEST(LdapBackendOutage, ServerRestarted_StalePooledConnectionRetried_Found) {
    SlapdFixture slapd;
    LdapBackend b("dir", one_user_options(slapd, LdapOptions{}.retry_after));
    ASSERT_EQ(b.lookup("user@example.test").status, LookupStatus::Found);  // pool holds a connection now
    slapd.stop();
    slapd.start();
    // The pooled connection died with the old server; the lookup notices,
    // opens a new one and asks again instead of failing.
    EXPECT_EQ(b.lookup("user@example.test").status, LookupStatus::Found);
    EXPECT_EQ(b.lookup("other@example.test").status, LookupStatus::NotFound);
}

TEST(LdapBackendOutage, ServerStopped_TempFailWithReason_ThenBackWithoutRestart) {
    SlapdFixture slapd;
    // retry_after 0: every lookup tries the server (skipping it has its own tests).
    LdapBackend b("dir", one_user_options(slapd, milliseconds(0)));
    ASSERT_EQ(b.lookup("user@example.test").status, LookupStatus::Found);
    slapd.stop();
    for (const char* key : {"user@example.test", "nosuch@example.test"}) {
        LookupResult r = b.lookup(key);
        EXPECT_EQ(r.status, LookupStatus::TempFail) << key;
        EXPECT_TRUE(contains(r.reason, slapd.uri())) << r.reason;
        EXPECT_TRUE(contains(r.reason, "Can't contact LDAP server")) << r.reason;
    }
    slapd.start();
    EXPECT_EQ(b.lookup("user@example.test").status, LookupStatus::Found);
}

TEST(LdapBackendOutage, ServerHung_TempFailSaysTimedOut_ThenRecovers) {
    SlapdFixture slapd;
    LdapBackend b("dir", one_user_options(slapd, milliseconds(0), milliseconds(500)));
    ASSERT_EQ(b.lookup("user@example.test").status, LookupStatus::Found);
    slapd.pause();
    LookupResult r = b.lookup("user@example.test");
    EXPECT_EQ(r.status, LookupStatus::TempFail);
    EXPECT_TRUE(contains(r.reason, "Timed out")) << r.reason;
    r = b.lookup("nosuch@example.test");  // a new connection: connects (the kernel answers), then times out
    EXPECT_EQ(r.status, LookupStatus::TempFail);
    EXPECT_TRUE(contains(r.reason, "Timed out")) << r.reason;
    slapd.resume();
    EXPECT_EQ(b.lookup("user@example.test").status, LookupStatus::Found);
}

TEST(LdapBackendOutage, ServerHung_LaterLookupsSkipItAtOnceWithTheReason) {
    SlapdFixture slapd;
    // retry_after is never up during this test.
    LdapBackend b("dir", one_user_options(slapd, milliseconds(600'000), milliseconds(500)));
    ASSERT_EQ(b.lookup("user@example.test").status, LookupStatus::Found);
    slapd.pause();
    LookupResult first = b.lookup("user@example.test");  // stale pooled connection, then a fresh one: both time out
    EXPECT_EQ(first.status, LookupStatus::TempFail);
    EXPECT_TRUE(contains(first.reason, "Timed out")) << first.reason;
    EXPECT_FALSE(contains(first.reason, "not tried")) << first.reason;
    for (const char* key : {"user@example.test", "nosuch@example.test"}) {
        LookupResult r = b.lookup(key);  // the server is not asked again: TempFail at once, saying why
        EXPECT_EQ(r.status, LookupStatus::TempFail) << key;
        EXPECT_TRUE(contains(r.reason, slapd.uri() + ": not tried: it failed ")) << r.reason;
        EXPECT_TRUE(contains(r.reason, "Timed out")) << r.reason;
        EXPECT_TRUE(contains(r.reason, "(retry_after)")) << r.reason;
    }
    slapd.resume();
    // Still within retry_after: skipped although the server is back (a
    // TempFail, never NotFound: the sender retries).
    EXPECT_EQ(b.lookup("nosuch@example.test").status, LookupStatus::TempFail);
}

TEST(LdapBackendOutage, ServerStopped_SkippedForRetryAfter_ThenBackWithoutRestart) {
    SlapdFixture slapd;
    LdapBackend b("dir", one_user_options(slapd, milliseconds(200)));
    ASSERT_EQ(b.lookup("user@example.test").status, LookupStatus::Found);
    slapd.stop();
    LookupResult r = b.lookup("user@example.test");
    EXPECT_EQ(r.status, LookupStatus::TempFail);
    EXPECT_TRUE(contains(r.reason, "Can't contact LDAP server")) << r.reason;
    slapd.start();
    // Once retry_after is up a lookup tries the server again and it answers.
    LookupResult back;
    for (int i = 0; i < 200 && back.status != LookupStatus::Found; ++i) {
        back = b.lookup("user@example.test");
        if (back.status != LookupStatus::Found) std::this_thread::sleep_for(milliseconds(50));
    }
    EXPECT_EQ(back.status, LookupStatus::Found) << back.reason;
    EXPECT_EQ(b.lookup("nosuch@example.test").status, LookupStatus::NotFound);
}

TEST(LdapBackendOutage, FirstUriDown_SecondUriAnswers) {
    SlapdFixture& slapd = SlapdFixture::shared();
    std::string ou = slapd.new_ou();
    slapd.add_mail_entries(ou, {"user@example.test"});
    std::string dead = "ldap://127.0.0.1:" + std::to_string(SlapdFixture::free_port()) + "/";
    LdapBackend b("dir", options({dead, slapd.uri()}, ou));
    EXPECT_EQ(b.lookup("user@example.test").status, LookupStatus::Found);
    EXPECT_EQ(b.lookup("nosuch@example.test").status, LookupStatus::NotFound);
}

TEST(LdapBackendOutage, NoUriAnswers_ReasonNamesEveryUri) {
    std::string a = "ldap://127.0.0.1:" + std::to_string(SlapdFixture::free_port()) + "/";
    std::string c = "ldap://127.0.0.1:" + std::to_string(SlapdFixture::free_port()) + "/";
    LdapBackend b("dir", options({a, c}, SlapdFixture::kSuffix));
    LookupResult r = b.lookup("user@example.test");
    EXPECT_EQ(r.status, LookupStatus::TempFail);
    EXPECT_TRUE(contains(r.reason, a + ": connect: Can't contact LDAP server")) << r.reason;
    EXPECT_TRUE(contains(r.reason, c + ": connect:")) << r.reason;
    EXPECT_NE(b.probe(), "");
}

// --- answers -----------------------------------------------------------------

TEST(LdapBackendAnswers, SizeLimitExceededAfterAnEntry_Found) {
    SlapdFixture& slapd = SlapdFixture::shared();
    std::string ou = slapd.new_ou();
    slapd.add_mail_entries(ou, {"shared@example.test", "shared@example.test", "shared@example.test"});
    for (int limit : {1, 2, 0}) {
        LdapOptions o = options({slapd.uri()}, ou);
        o.size_limit = limit;
        LdapBackend b("dir", std::move(o));
        EXPECT_EQ(b.lookup("shared@example.test").status, LookupStatus::Found) << "size_limit " << limit;
    }
}

TEST(LdapBackendAnswers, LookupAny_ResultCutShortBySizeLimit_MostSpecificStillNamed) {
    // Four entries answer the joined filter; room for size_limit per key (3
    // with the default) cuts the result short, so the keys ahead of the best
    // one found are asked one by one.
    SlapdFixture& slapd = SlapdFixture::shared();
    std::string ou = slapd.new_ou();
    slapd.add_mail_entries(ou, {"@example.test", "shared@example.test", "shared@example.test", "shared@example.test",
                                "shared+x@example.test"});
    for (int limit : {1, 2, 0}) {
        LdapOptions o = options({slapd.uri()}, ou);
        o.size_limit = limit;
        LdapBackend b("dir", std::move(o));
        std::size_t matched = 99;
        std::vector<std::string> keys = {"shared+x@example.test", "shared@example.test", "@example.test"};
        EXPECT_EQ(b.lookup_any(keys, &matched).status, LookupStatus::Found) << "size_limit " << limit;
        EXPECT_EQ(matched, 0u) << "size_limit " << limit;
        keys = {"shared+y@example.test", "shared@example.test", "@example.test"};
        EXPECT_EQ(b.lookup_any(keys, &matched).status, LookupStatus::Found) << "size_limit " << limit;
        EXPECT_EQ(matched, 1u) << "size_limit " << limit;
        keys = {"other+y@example.test", "other@example.test", "@example.test"};
        EXPECT_EQ(b.lookup_any(keys, &matched).status, LookupStatus::Found) << "size_limit " << limit;
        EXPECT_EQ(matched, 2u) << "size_limit " << limit;
    }
}

TEST(LdapBackendAnswers, LookupAny_ActiveDirectoryFilter_MostSpecificKey) {
    SlapdFixture& slapd = SlapdFixture::shared();
    std::string ou = slapd.new_ou();
    slapd.add({{"cn=Jane Doe," + ou,
                {{"objectClass", {"inetOrgPerson", "rcptguardTestMailRecipient"}},
                 {"cn", {"Jane Doe"}},
                 {"sn", {"Doe"}},
                 {"proxyAddresses", {"SMTP:Jane.Doe@Example.TEST", "smtp:jdoe@example.test"}}}},
               {"cn=Catch All," + ou,
                {{"objectClass", {"inetOrgPerson", "rcptguardTestMailRecipient"}},
                 {"cn", {"Catch All"}},
                 {"sn", {"All"}},
                 {"proxyAddresses", {"smtp:@example.test"}}}}});
    LdapBackend b("ad", options({slapd.uri()}, ou, "(|(proxyAddresses=smtp:%s)(userPrincipalName=%s))"));
    std::size_t matched = 99;
    std::vector<std::string> keys = {"jdoe+news@example.test", "jdoe@example.test", "@example.test"};
    EXPECT_EQ(b.lookup_any(keys, &matched).status, LookupStatus::Found);
    EXPECT_EQ(matched, 1u);
    keys = {"nobody+news@example.test", "nobody@example.test", "@example.test"};
    EXPECT_EQ(b.lookup_any(keys, &matched).status, LookupStatus::Found);
    EXPECT_EQ(matched, 2u);
}

TEST(LdapBackendAnswers, LookupAny_TemplateWeCannotJudge_KeysAskedOneByOne) {
    // An extensible match is the server's to judge: the joined search still
    // answers, and the keys ahead of the catch-all are asked one by one.
    SlapdFixture& slapd = SlapdFixture::shared();
    std::string ou = slapd.new_ou();
    slapd.add_mail_entries(ou, {"@example.test", "user@example.test"});
    LdapBackend b("dir", options({slapd.uri()}, ou, "(&(mail=%s)(!(cn:caseExactMatch:=nobody)))"));
    std::size_t matched = 99;
    std::vector<std::string> keys = {"user+x@example.test", "user@example.test", "@example.test"};
    EXPECT_EQ(b.lookup_any(keys, &matched).status, LookupStatus::Found);
    EXPECT_EQ(matched, 1u);
    keys = {"else+x@example.test", "else@example.test", "@example.test"};
    EXPECT_EQ(b.lookup_any(keys, &matched).status, LookupStatus::Found);
    EXPECT_EQ(matched, 2u);
    keys = {"else+x@other.test", "else@other.test", "@other.test"};
    EXPECT_EQ(b.lookup_any(keys, &matched).status, LookupStatus::NotFound);
}

TEST(LdapBackendAnswers, AlternateAddress_Found) {
    SlapdFixture& slapd = SlapdFixture::shared();
    std::string ou = slapd.new_ou();
    slapd.add({{"cn=alias," + ou,
                {{"objectClass", {"inetOrgPerson", "rcptguardTestMailRecipient"}},
                 {"cn", {"alias"}},
                 {"sn", {"alias"}},
                 {"mail", {"john.smith@example.test"}},
                 {"mailAlternateAddress", {"jsmith@example.test", "Sales@Example.TEST"}}}}});
    LdapBackend b("dir", options({slapd.uri()}, ou));
    EXPECT_EQ(b.lookup("jsmith@example.test").status, LookupStatus::Found);
    EXPECT_EQ(b.lookup("sales@example.test").status, LookupStatus::Found);
    EXPECT_EQ(b.lookup("smith@example.test").status, LookupStatus::NotFound);
}

TEST(LdapBackendAnswers, ActiveDirectoryStyleFilter_ProxyAddressesAnyCase_AndUpn) {
    SlapdFixture& slapd = SlapdFixture::shared();
    std::string ou = slapd.new_ou();
    slapd.add({{"cn=Jane Doe," + ou,
                {{"objectClass", {"inetOrgPerson", "rcptguardTestMailRecipient"}},
                 {"cn", {"Jane Doe"}},
                 {"sn", {"Doe"}},
                 {"proxyAddresses", {"SMTP:Jane.Doe@Example.TEST", "smtp:jdoe@example.test", "X400:c=US;a= ;"}},
                 {"userPrincipalName", {"jane@corp.example.test"}}}}});
    LdapBackend b("ad", options({slapd.uri()}, ou, "(|(proxyAddresses=smtp:%s)(userPrincipalName=%s))"));
    EXPECT_EQ(b.lookup("jane.doe@example.test").status, LookupStatus::Found);  // primary, SMTP: in capitals
    EXPECT_EQ(b.lookup("jdoe@example.test").status, LookupStatus::Found);
    EXPECT_EQ(b.lookup("jane@corp.example.test").status, LookupStatus::Found);
    EXPECT_EQ(b.lookup("doe@example.test").status, LookupStatus::NotFound);
    EXPECT_EQ(b.lookup("*").status, LookupStatus::NotFound);
}

TEST(LdapBackendAnswers, LocalPartAndDomainPlaceholders_Found) {
    SlapdFixture& slapd = SlapdFixture::shared();
    std::string ou = slapd.new_ou();
    slapd.add({{"uid=kim," + ou,
                {{"objectClass", {"inetOrgPerson"}},
                 {"uid", {"kim"}},
                 {"cn", {"Kim"}},
                 {"sn", {"Kim"}},
                 {"o", {"example.test"}}}}});
    LdapBackend b("dir", options({slapd.uri()}, ou, "(&(uid=%u)(o=%d))"));
    EXPECT_EQ(b.lookup("kim@example.test").status, LookupStatus::Found);
    EXPECT_EQ(b.lookup("kim@other.test").status, LookupStatus::NotFound);
    EXPECT_EQ(b.lookup("@example.test").status, LookupStatus::NotFound);  // catch-all key: %u is empty
}

TEST(LdapBackendAnswers, ScopeOne_DoesNotSeeDeeperEntries) {
    SlapdFixture& slapd = SlapdFixture::shared();
    std::string ou = slapd.new_ou();
    std::string deeper = "ou=deeper," + ou;
    slapd.add({{deeper, {{"objectClass", {"organizationalUnit"}}, {"ou", {"deeper"}}}}});
    slapd.add_mail_entries(deeper, {"deep@example.test"});
    slapd.add_mail_entries(ou, {"top@example.test"});
    LdapOptions o = options({slapd.uri()}, ou);
    o.scope = LdapScope::One;
    LdapBackend b("dir", std::move(o));
    EXPECT_EQ(b.lookup("top@example.test").status, LookupStatus::Found);
    EXPECT_EQ(b.lookup("deep@example.test").status, LookupStatus::NotFound);
}

TEST(LdapBackendAnswers, BaseDoesNotExist_TempFailSaysSo_ProbeToo) {
    SlapdFixture& slapd = SlapdFixture::shared();
    std::string base = std::string("ou=nowhere,") + SlapdFixture::kSuffix;
    LdapBackend b("dir", options({slapd.uri()}, base));
    LookupResult r = b.lookup("user@example.test");
    EXPECT_EQ(r.status, LookupStatus::TempFail);
    EXPECT_TRUE(contains(r.reason, "No such object")) << r.reason;
    EXPECT_TRUE(contains(r.reason, base)) << r.reason;
    EXPECT_TRUE(contains(b.probe(), "No such object"));
}

TEST(LdapBackendAnswers, BoundWithPassword_Found) {
    SlapdFixture& slapd = SlapdFixture::shared();
    std::string ou = slapd.new_ou();
    slapd.add_mail_entries(ou, {"user@example.test"});
    LdapOptions o = options({slapd.uri()}, ou);
    o.connection.bind_dn = SlapdFixture::kRootDn;
    o.connection.bind_password = SlapdFixture::kRootPassword;
    LdapBackend b("dir", std::move(o));
    EXPECT_EQ(b.probe(), "");
    EXPECT_EQ(b.lookup("user@example.test").status, LookupStatus::Found);
}

TEST(LdapBackendAnswers, WrongPassword_TempFail_ReasonWithoutPassword) {
    SlapdFixture& slapd = SlapdFixture::shared();
    LdapOptions o = options({slapd.uri()}, SlapdFixture::kSuffix);
    o.connection.bind_dn = SlapdFixture::kRootDn;
    o.connection.bind_password = "not-the-Password-42";
    LdapBackend b("dir", std::move(o));
    LookupResult r = b.lookup("user@example.test");
    EXPECT_EQ(r.status, LookupStatus::TempFail);
    EXPECT_TRUE(contains(r.reason, "bind: Invalid credentials")) << r.reason;
    EXPECT_FALSE(contains(r.reason, "not-the-Password-42")) << r.reason;
}

TEST(LdapBackendAnswers, ProbeOfGoodDirectory_Empty) {
    SlapdFixture& slapd = SlapdFixture::shared();
    LdapBackend b("dir", options({slapd.uri()}, SlapdFixture::kSuffix));
    EXPECT_EQ(b.probe(), "");
}

// --- several recipients in one search (every connection busy) ----------------

struct Asked {
    std::vector<std::string> keys;
    LookupResult result;
    std::size_t matched = 99;
};

// The backend's only connection is busy with a search the frozen directory
// holds; meanwhile the lookups of `later` arrive and wait. Once the directory
// is back they are answered. Returns the searches sent after the first one.
std::uint64_t ask_while_busy(SlapdFixture& slapd, LdapBackend& b, std::vector<Asked>& later) {
    std::uint64_t before = b.searches();
    slapd.pause();
    Asked first{{"hung@example.test", "@example.test"}};
    std::thread hung([&] { first.result = b.lookup_any(first.keys, &first.matched); });
    while (b.searches() == before) std::this_thread::yield();
    std::vector<std::thread> callers;
    for (Asked& a : later) callers.emplace_back([&a, &b] { a.result = b.lookup_any(a.keys, &a.matched); });
    while (b.waiting_lookups() != later.size()) std::this_thread::yield();
    slapd.resume();
    hung.join();
    for (std::thread& t : callers) t.join();
    EXPECT_EQ(first.result.status, LookupStatus::NotFound) << first.result.reason;
    return b.searches() - before - 1;
}

LdapOptions one_connection(SlapdFixture& slapd, const std::string& filter) {
    std::string ou = slapd.new_ou();
    slapd.add_mail_entries(ou, {"a@example.test", "b@example.test", "user@example.test", "@catchall.test"});
    LdapOptions o = options({slapd.uri()}, ou, filter);
    o.pool_size = 1;
    o.connection.search_timeout = milliseconds(30'000);
    return o;
}

TEST(LdapBackendBatch, WaitingRecipients_OneSearch_EachWithItsOwnMostSpecificMatch) {
    SlapdFixture slapd;
    LdapBackend b("dir", one_connection(slapd, "(|(mail=%s)(mailAlternateAddress=%s))"));
    ASSERT_EQ(b.lookup("a@example.test").status, LookupStatus::Found);  // the connection is open
    std::vector<Asked> later = {
        {{"a+tag@example.test", "a@example.test", "@example.test"}},
        {{"b@example.test", "@example.test"}},
        {{"nosuch@example.test", "@example.test"}},
        {{"x@catchall.test", "@catchall.test"}},
        {{"y+z@catchall.test", "y@catchall.test", "@catchall.test"}},
        {{"*)(mail=*@example.test", "@example.test"}},  // escaped: data, never filter syntax
        {{"B@EXAMPLE.TEST", "@example.test"}},          // the directory ignores case, so do we
    };
    EXPECT_EQ(ask_while_busy(slapd, b, later), 1u);  // all seven in one search
    const std::vector<std::pair<LookupStatus, std::size_t>> want = {
        {LookupStatus::Found, 1}, {LookupStatus::Found, 0},     {LookupStatus::NotFound, 99}, {LookupStatus::Found, 1},
        {LookupStatus::Found, 2}, {LookupStatus::NotFound, 99}, {LookupStatus::Found, 0}};
    for (std::size_t i = 0; i < later.size(); ++i) {
        EXPECT_EQ(later[i].result.status, want[i].first) << later[i].keys[0] << " " << later[i].result.reason;
        EXPECT_EQ(later[i].matched, want[i].second) << later[i].keys[0];
    }
}

TEST(LdapBackendBatch, EntriesLeaveRecipientsUnsure_EachAskedAgainOnItsOwn) {
    // An extensible match is the server's to judge: from the batch's entries
    // no recipient can be told, so each is looked up alone, as before batches.
    SlapdFixture slapd;
    LdapBackend b("dir", one_connection(slapd, "(&(mail=%s)(!(cn:caseExactMatch:=nobody)))"));
    ASSERT_EQ(b.lookup("a@example.test").status, LookupStatus::Found);
    std::vector<Asked> later = {
        {{"user+x@example.test", "user@example.test", "@example.test"}},
        {{"x@catchall.test", "@catchall.test"}},
        {{"else@other.test", "@other.test"}},
    };
    EXPECT_GE(ask_while_busy(slapd, b, later), 1u + later.size());
    EXPECT_EQ(later[0].result.status, LookupStatus::Found);
    EXPECT_EQ(later[0].matched, 1u);
    EXPECT_EQ(later[1].result.status, LookupStatus::Found);
    EXPECT_EQ(later[1].matched, 1u);
    EXPECT_EQ(later[2].result.status, LookupStatus::NotFound);
}

TEST(LdapBackendBatch, DirectoryHungPastTheTimeout_EveryWaitingRecipientTempFails) {
    SlapdFixture slapd;
    LdapOptions o = one_connection(slapd, "(mail=%s)");
    o.retry_after = milliseconds(0);
    o.connection.search_timeout = milliseconds(300);
    LdapBackend b("dir", std::move(o));
    ASSERT_EQ(b.lookup("a@example.test").status, LookupStatus::Found);
    slapd.pause();
    std::vector<Asked> asked = {{{"a@example.test", "@example.test"}},
                                {{"b@example.test", "@example.test"}},
                                {{"nosuch@example.test", "@example.test"}}};
    std::vector<std::thread> callers;
    for (Asked& a : asked) callers.emplace_back([&a, &b] { a.result = b.lookup_any(a.keys, &a.matched); });
    for (std::thread& t : callers) t.join();
    slapd.resume();
    for (const Asked& a : asked) {
        EXPECT_EQ(a.result.status, LookupStatus::TempFail) << a.keys[0];  // never NotFound
        EXPECT_FALSE(a.result.reason.empty());
    }
    EXPECT_EQ(b.lookup_any({"b@example.test", "@example.test"}, nullptr).status, LookupStatus::Found);
}

// --- configuration ("[backend NAME]" with type = ldap) --------------------------

class LdapConfig : public ::testing::Test {
protected:
    void SetUp() override {
        set_log_capture([this](LogLevel level, const std::string& line) {
            if (level <= LogLevel::Warning) warnings_.push_back(line);
        });
        testing::write_file(dir_.file("pw"), std::string(SlapdFixture::kRootPassword) + "\n");
        chmod(dir_.file("pw").c_str(), 0640);
    }
    void TearDown() override { set_log_capture(nullptr); }

    // A section for the shared slapd, plus the given lines.
    std::string section(const std::string& extra) {
        return "[backend dir]\ntype = ldap\nuri = " + SlapdFixture::shared().uri() +
               "\nbase = " + SlapdFixture::kSuffix + "\n" + extra;
    }
    BuiltBackend build(const std::string& text) {
        ConfigFile f = parse_config_text(text, "t.conf");
        SectionReader r(f, f.sections.at(0));
        BuiltBackend b = make_backend(r, BackendContext{});
        f.throw_if_problems();
        return b;
    }
    // "file:line: key: problem" of the ConfigError, or "" if none.
    std::string error_of(const std::string& text) {
        try {
            build(text);
        } catch (const ConfigError& e) {
            return e.what();
        }
        return "";
    }

    testing::TempDir dir_;
    std::vector<std::string> warnings_;
};

TEST_F(LdapConfig, MinimalSection_Defaults) {
    ConfigFile f = parse_config_text(section(""), "t.conf");
    SectionReader r(f, f.sections.at(0));
    r.required("type");
    LdapOptions o = read_ldap_options(r);
    EXPECT_EQ(o.scope, LdapScope::Sub);
    EXPECT_EQ(o.filter.text(), "(mail=%s)");
    EXPECT_EQ(o.pool_size, 4);
    EXPECT_EQ(o.size_limit, 1);
    EXPECT_EQ(o.connection.connect_timeout, milliseconds(2000));
    EXPECT_EQ(o.connection.search_timeout, milliseconds(3000));
    EXPECT_FALSE(o.connection.start_tls);
    EXPECT_TRUE(o.connection.tls_verify);
    EXPECT_EQ(o.connection.tls_ca_file, "/etc/ssl/certs/ca-certificates.crt");
    EXPECT_EQ(o.connection.bind_dn, "");
    EXPECT_EQ(o.retry_after, milliseconds(2000));
}

TEST_F(LdapConfig, RetryAfter_ReadAndZeroAllowed) {
    for (auto [text, want] : {std::pair<const char*, long>{"retry_after = 30s\n", 30000},
                              {"retry_after = 0\n", 0},
                              {"retry_after = 500ms\n", 500}}) {
        ConfigFile f = parse_config_text(section(text), "t.conf");
        SectionReader r(f, f.sections.at(0));
        r.required("type");
        EXPECT_EQ(read_ldap_options(r).retry_after.count(), want) << text;
    }
}

TEST_F(LdapConfig, FirstUriDown_SecondAnswers_WarningNamesTheFailedOne) {
    std::string dead = "ldap://127.0.0.1:" + std::to_string(SlapdFixture::free_port()) + "/";
    BuiltBackend b = build("[backend dir]\ntype = ldap\nuri = " + dead + " " + SlapdFixture::shared().uri() +
                           "\nbase = " + SlapdFixture::kSuffix + "\n");
    ASSERT_TRUE(b.backend);
    EXPECT_EQ(b.startup_warning, "");  // the directory answered
    ASSERT_EQ(warnings_.size(), 1u);
    EXPECT_TRUE(contains(warnings_[0], "backend dir: " + dead + ": connect: Can't contact LDAP server; using " +
                                           SlapdFixture::shared().uri()))
        << warnings_[0];
    EXPECT_EQ(b.backend->lookup("nosuch@example.test").status, LookupStatus::NotFound);
}

TEST_F(LdapConfig, GoodSection_BuiltAndProbedWithoutWarning) {
    BuiltBackend b = build(section("filter = (|(mail=%s)(mailAlternateAddress=%s))\nbind_dn = " +
                                   std::string(SlapdFixture::kRootDn) + "\nbind_password_file = " + dir_.file("pw") +
                                   "\nscope = one\npool_size = 2\nsize_limit = 5\nconnect_timeout = 1s\n"
                                   "search_timeout = 500ms\n"));
    ASSERT_TRUE(b.backend);
    EXPECT_EQ(b.backend->type(), "ldap");
    EXPECT_EQ(b.startup_warning, "");
    EXPECT_TRUE(warnings_.empty());
    EXPECT_EQ(b.backend->lookup("nosuch@example.test").status, LookupStatus::NotFound);
}

TEST_F(LdapConfig, UnreachableDirectory_NotAnError_StartupWarning) {
    std::string dead = "ldap://127.0.0.1:" + std::to_string(SlapdFixture::free_port()) + "/";
    BuiltBackend b = build("[backend dir]\ntype = ldap\nuri = " + dead + "\nbase = dc=example,dc=test\n");
    ASSERT_TRUE(b.backend);
    EXPECT_TRUE(contains(b.startup_warning, dead + ": connect: Can't contact LDAP server")) << b.startup_warning;
    EXPECT_EQ(b.backend->lookup("user@example.test").status, LookupStatus::TempFail);
}

TEST_F(LdapConfig, WorldReadablePasswordFile_Warning_NoPasswordInIt) {
    chmod(dir_.file("pw").c_str(), 0644);
    build(section("bind_dn = cn=x,dc=example,dc=test\nbind_password_file = " + dir_.file("pw") + "\n"));
    ASSERT_EQ(warnings_.size(), 1u);
    EXPECT_TRUE(
        contains(warnings_[0], "backend dir: bind_password_file " + dir_.file("pw") + " is accessible to every user"))
        << warnings_[0];
    EXPECT_FALSE(contains(warnings_[0], SlapdFixture::kRootPassword));
}

TEST_F(LdapConfig, PasswordOverPlainLdapToRemoteHost_Warning) {
    std::string text =
        "[backend dir]\ntype = ldap\nuri = ldap://192.0.2.1:1/\nbase = dc=x\nconnect_timeout = 100ms\n"
        "bind_dn = cn=x,dc=x\nbind_password_file = " +
        dir_.file("pw") + "\n";
    ConfigFile f = parse_config_text(text, "t.conf");
    SectionReader r(f, f.sections.at(0));
    r.required("type");
    read_ldap_options(r);  // no probe: 192.0.2.1 (TEST-NET-1) is never contacted
    ASSERT_EQ(warnings_.size(), 1u);
    EXPECT_TRUE(contains(warnings_[0], "unencrypted")) << warnings_[0];
}

// The commented [backend directory] in etc/rcptguard.conf, uncommented, is a
// valid section whose values are the documented defaults.
TEST_F(LdapConfig, ShippedExample_Uncommented_ValidWithDocumentedDefaults) {
    std::string shipped = testing::read_file(testing::source_dir() + "/etc/rcptguard.conf");
    std::size_t from = shipped.find("#[backend directory]");
    ASSERT_NE(from, std::string::npos);
    std::string text;
    for (std::size_t pos = from; pos < shipped.size();) {
        std::size_t eol = shipped.find('\n', pos);
        std::string line = shipped.substr(pos, eol - pos);
        pos = eol == std::string::npos ? shipped.size() : eol + 1;
        if (line.empty()) break;
        if (line.rfind("# ", 0) == 0) continue;  // prose
        text += line.substr(1) + "\n";
    }
    std::size_t pw = text.find("/etc/rcptguard/ldap.secret");
    ASSERT_NE(pw, std::string::npos);
    text.replace(pw, std::string("/etc/rcptguard/ldap.secret").size(), dir_.file("pw"));
    ConfigFile f = parse_config_text(text, "rcptguard.conf");
    SectionReader r(f, f.sections.at(0));
    EXPECT_EQ(r.required("type"), "ldap");
    LdapOptions o = read_ldap_options(r);  // no connection is made
    EXPECT_EQ(o.connection.uris.size(), 2u);
    EXPECT_EQ(o.scope, LdapScope::Sub);
    EXPECT_EQ(o.filter.text(), "(|(mail=%s)(mailAlternateAddress=%s))");
    EXPECT_EQ(o.connection.connect_timeout, milliseconds(2000));
    EXPECT_EQ(o.connection.search_timeout, milliseconds(3000));
    EXPECT_EQ(o.pool_size, 4);
    EXPECT_EQ(o.size_limit, 1);
    EXPECT_TRUE(o.connection.tls_verify);
    EXPECT_FALSE(o.connection.start_tls);
    EXPECT_EQ(o.connection.bind_password, SlapdFixture::kRootPassword);
}

struct BadConfigCase {
    const char* name;
    std::string lines;  // appended to a good section (line 5 on)
    std::string want;   // expected in "t.conf:LINE: key: problem"
};

class LdapConfigBad : public LdapConfig, public ::testing::WithParamInterface<BadConfigCase> {};

TEST_P(LdapConfigBad, Section_ConfigError_NamesLineAndKey) {
    std::string lines = GetParam().lines;
    for (std::size_t p; (p = lines.find("PWFILE")) != std::string::npos;) lines.replace(p, 6, dir_.file("pw"));
    for (std::size_t p; (p = lines.find("NOFILE")) != std::string::npos;) lines.replace(p, 6, dir_.file("absent"));
    std::string e = error_of(section(lines));
    EXPECT_TRUE(contains(e, GetParam().want)) << "got: " << e;
}

INSTANTIATE_TEST_SUITE_P(
    Table, LdapConfigBad,
    ::testing::Values(
        BadConfigCase{"FilterUnbalanced", "filter = (|(mail=%s)(mailAlternateAddress=%s)\n",
                      "t.conf:5: filter: unbalanced parentheses"},
        BadConfigCase{"FilterUnknownPlaceholder", "filter = (mail=%e)\n", "t.conf:5: filter: unknown placeholder '%e'"},
        BadConfigCase{"FilterWithoutPlaceholder", "filter = (mail=x@y)\n", "t.conf:5: filter: uses none of"},
        BadConfigCase{"BadScope", "scope = subtree\n", "t.conf:5: scope: expected base, one or sub"},
        BadConfigCase{"UnknownKey", "search_base = x\n", "t.conf:5: search_base: unknown key in [backend dir]"},
        BadConfigCase{"PasswordFileMissing", "bind_dn = cn=x,dc=example,dc=test\nbind_password_file = NOFILE\n",
                      "t.conf:6: bind_password_file: cannot read"},
        BadConfigCase{"BindDnWithoutPasswordFile", "bind_dn = cn=x,dc=example,dc=test\n",
                      "bind_password_file: required with bind_dn"},
        BadConfigCase{"PasswordFileWithoutBindDn", "bind_password_file = PWFILE\n", "bind_dn: required"},
        BadConfigCase{"BadBindDn", "bind_dn = not a dn\nbind_password_file = PWFILE\n",
                      "t.conf:5: bind_dn: 'not a dn' is not a valid DN"},
        BadConfigCase{"CaFileMissing", "start_tls = yes\ntls_ca_file = NOFILE\n", "t.conf:6: tls_ca_file: cannot read"},
        BadConfigCase{"TimeoutTooShort", "search_timeout = 0s\n", "t.conf:5: search_timeout: must be between"},
        BadConfigCase{"PoolTooLarge", "pool_size = 1000\n", "t.conf:5: pool_size:"},
        BadConfigCase{"RetryAfterTooLong", "retry_after = 1h\n", "t.conf:5: retry_after: must be between"},
        BadConfigCase{"RetryAfterNotADuration", "retry_after = soon\n", "t.conf:5: retry_after:"}),
    [](const ::testing::TestParamInfo<BadConfigCase>& i) { return i.param.name; });

struct BadHeadCase {
    const char* name;
    std::string text;
    std::string want;
};

class LdapConfigBadHead : public LdapConfig, public ::testing::WithParamInterface<BadHeadCase> {};

TEST_P(LdapConfigBadHead, Section_ConfigError) {
    std::string e = error_of(GetParam().text);
    EXPECT_TRUE(contains(e, GetParam().want)) << "got: " << e;
}

INSTANTIATE_TEST_SUITE_P(
    Table, LdapConfigBadHead,
    ::testing::Values(BadHeadCase{"NoUri", "[backend d]\ntype = ldap\nbase = dc=x\n", "t.conf:1: uri: required"},
                      BadHeadCase{"HttpUri", "[backend d]\ntype = ldap\nuri = http://x/\nbase = dc=x\n",
                                  "t.conf:3: uri: 'http://x/' is not an LDAP URI"},
                      BadHeadCase{"UriWithBase", "[backend d]\ntype = ldap\nuri = ldap://h/dc=x\nbase = dc=x\n",
                                  "t.conf:3: uri: 'ldap://h/dc=x': give only scheme, host and port"},
                      BadHeadCase{"StartTlsWithLdaps",
                                  "[backend d]\ntype = ldap\nuri = ldaps://h/\nbase = dc=x\nstart_tls = yes\n",
                                  "t.conf:5: start_tls: ldaps:// is TLS from the start"},
                      BadHeadCase{"NoBase", "[backend d]\ntype = ldap\nuri = ldap://h/\n", "t.conf:1: base: missing"},
                      BadHeadCase{"BadBase", "[backend d]\ntype = ldap\nuri = ldap://h/\nbase = dc=example,,dc=test\n",
                                  "t.conf:4: base: 'dc=example,,dc=test' is not a valid DN"}),
    [](const ::testing::TestParamInfo<BadHeadCase>& i) { return i.param.name; });

}  // namespace
}  // namespace rcptguard
