// The backend contract (backends/backend.hpp), run against every backend type:
// found, not found, case, +detail, catch-all, hostile keys, concurrency, and
// "a store that is missing or corrupt answers TempFail, never NotFound".
// Each backend type supplies a Store: how an admin would put rows into it and
// how to produce a missing or corrupt one.
#include <gtest/gtest.h>

#include <functional>
#include <thread>

#include "backends/file/file_backend.hpp"
#include "backends/ldap/ldap_backend.hpp"
#include "backends/sqlite/sqlite_backend.hpp"
#include "tests/fakes/slapd_fixture.hpp"
#include "tests/test_support.hpp"
#include "util/address.hpp"

namespace rcptguard {
namespace {

using testing::TempDir;

struct Store {
    std::string name;
    // A backend over a store holding rows exactly as written (admins type mixed case).
    std::function<BackendPtr(TempDir&, const std::vector<std::string>&)> make;
    std::function<BackendPtr(TempDir&)> make_missing;
    std::function<BackendPtr(TempDir&)> make_corrupt;
};

std::string quote_for_file(const std::string& row) { return row + "\n"; }

Store file_store() {
    Store s;
    s.name = "file";
    s.make = [](TempDir& d, const std::vector<std::string>& rows) -> BackendPtr {
        std::string text = "# recipients\n";
        for (const auto& r : rows) text += quote_for_file(r);
        testing::write_file(d.file("users.txt"), text);
        auto b = std::make_shared<FileBackend>("contract", d.file("users.txt"), AddressOptions{});
        std::string err = b->load();
        if (!err.empty()) throw std::runtime_error(err);
        return b;
    };
    s.make_missing = [](TempDir& d) -> BackendPtr {
        auto b = std::make_shared<FileBackend>("contract", d.file("absent.txt"), AddressOptions{});
        EXPECT_NE(b->load(), "");
        return b;
    };
    s.make_corrupt = [](TempDir& d) -> BackendPtr {
        testing::write_file(d.file("bad.txt"), "user@example.test\nthis is not an address\n");
        auto b = std::make_shared<FileBackend>("contract", d.file("bad.txt"), AddressOptions{});
        EXPECT_NE(b->load().find("bad.txt:2:"), std::string::npos);
        return b;
    };
    return s;
}

Store sqlite_store() {
    Store s;
    s.name = "sqlite";
    s.make = [](TempDir& d, const std::vector<std::string>& rows) -> BackendPtr {
        testing::make_sqlite_db(d.file("r.db"), rows);
        SqliteOptions o;
        o.path = d.file("r.db");
        return std::make_shared<SqliteBackend>("contract", o);
    };
    s.make_missing = [](TempDir& d) -> BackendPtr {
        SqliteOptions o;
        o.path = d.file("absent.db");
        return std::make_shared<SqliteBackend>("contract", o);
    };
    s.make_corrupt = [](TempDir& d) -> BackendPtr {
        testing::write_file(d.file("junk.db"), std::string(8192, 'J'));
        SqliteOptions o;
        o.path = d.file("junk.db");
        return std::make_shared<SqliteBackend>("contract", o);
    };
    return s;
}

// A real slapd (started once per test binary), one fresh ou per store; the
// documented OpenLDAP filter plus utf8MailAddress, the fixture's attribute for
// UTF-8 addresses (mail is ASCII-only), so hostile keys meet three substitutions.
LdapOptions ldap_options(const std::string& uri, const std::string& base) {
    LdapOptions o;
    o.connection.uris = {uri};
    o.base = base;
    std::string problem = o.filter.parse("(|(mail=%s)(mailAlternateAddress=%s)(utf8MailAddress=%s))");
    if (!problem.empty()) throw std::runtime_error(problem);
    return o;
}

Store ldap_store() {
    using testing::SlapdFixture;
    Store s;
    s.name = "ldap";
    s.make = [](TempDir&, const std::vector<std::string>& rows) -> BackendPtr {
        SlapdFixture& slapd = SlapdFixture::shared();
        std::string ou = slapd.new_ou();
        slapd.add_mail_entries(ou, rows);
        return std::make_shared<LdapBackend>("contract", ldap_options(slapd.uri(), ou));
    };
    s.make_missing = [](TempDir&) -> BackendPtr {
        // Nothing listens there: connection refused.
        std::string nowhere = "ldap://127.0.0.1:" + std::to_string(SlapdFixture::free_port()) + "/";
        return std::make_shared<LdapBackend>("contract", ldap_options(nowhere, SlapdFixture::kSuffix));
    };
    s.make_corrupt = [](TempDir&) -> BackendPtr {
        // The server answers, but the base does not exist ("no such object").
        SlapdFixture& slapd = SlapdFixture::shared();
        return std::make_shared<LdapBackend>(
            "contract", ldap_options(slapd.uri(), std::string("ou=absent,") + SlapdFixture::kSuffix));
    };
    return s;
}

class BackendContract : public ::testing::TestWithParam<Store> {
protected:
    BackendPtr make(const std::vector<std::string>& rows) { return GetParam().make(dir_, rows); }
    TempDir dir_;
};

TEST_P(BackendContract, ListedAddress_Found) {
    auto b = make({"user@example.test"});
    EXPECT_EQ(b->lookup("user@example.test").status, LookupStatus::Found);
}

TEST_P(BackendContract, UnlistedAddress_NotFound) {
    auto b = make({"user@example.test"});
    EXPECT_EQ(b->lookup("other@example.test").status, LookupStatus::NotFound);
    EXPECT_EQ(b->lookup("user@other.test").status, LookupStatus::NotFound);
}

TEST_P(BackendContract, EntryWrittenInMixedCase_FoundByCanonicalKey) {
    auto b = make({"John.Smith@Example.TEST"});
    EXPECT_EQ(b->lookup("john.smith@example.test").status, LookupStatus::Found);
}

TEST_P(BackendContract, DetailIsThePolicysJob_BackendMatchesExactly) {
    auto b = make({"user@example.test", "list+admin@example.test"});
    EXPECT_EQ(b->lookup("user+tag@example.test").status, LookupStatus::NotFound);
    EXPECT_EQ(b->lookup("list+admin@example.test").status, LookupStatus::Found);
}

TEST_P(BackendContract, CatchAllEntry_FoundOnlyForItsDomain) {
    auto b = make({"@example.test"});
    EXPECT_EQ(b->lookup("@example.test").status, LookupStatus::Found);
    EXPECT_EQ(b->lookup("@other.test").status, LookupStatus::NotFound);
    EXPECT_EQ(b->lookup("anyone@example.test").status, LookupStatus::NotFound);
}

TEST_P(BackendContract, QuotedLocalPart_FoundExactly) {
    auto b = make({"\"john doe\"@example.test"});
    EXPECT_EQ(b->lookup("\"john doe\"@example.test").status, LookupStatus::Found);
    EXPECT_EQ(b->lookup("john doe@example.test").status, LookupStatus::NotFound);
}

TEST_P(BackendContract, HostileKeys_AreData_NeverMatchOtherRows) {
    auto b = make({"user@example.test", "@catchall.test"});
    const std::string hostile[] = {"' OR 1=1 --",
                                   "' OR '1'='1'@example.test",
                                   "user@example.test' OR 'x'='x",
                                   "%",
                                   "%@example.test",
                                   "_ser@example.test",
                                   "*",
                                   "*@example.test",
                                   "*)(uid=*",
                                   ")(|(mail=*",
                                   "\\",
                                   "\"a b\"@example.test",
                                   std::string("user@example.test\0evil", 22),
                                   std::string(1024, 'a') + "@example.test",
                                   "",
                                   "@",
                                   "\xff\xfe@example.test",
                                   "USER@EXAMPLE.TEST; DROP TABLE recipients"};
    for (const auto& k : hostile) {
        LookupResult r = b->lookup(k);
        EXPECT_EQ(r.status, LookupStatus::NotFound) << "key: " << k;
    }
    // The store is intact afterwards.
    EXPECT_EQ(b->lookup("user@example.test").status, LookupStatus::Found);
}

TEST_P(BackendContract, LookupAny_ReportsMostSpecificMatch) {
    auto b = make({"User@Example.test", "@example.test"});
    std::size_t matched = 99;
    std::vector<std::string> keys = {"user+tag@example.test", "user@example.test", "@example.test"};
    EXPECT_EQ(b->lookup_any(keys, &matched).status, LookupStatus::Found);
    EXPECT_EQ(matched, 1u);
    keys = {"other@example.test", "@example.test"};
    EXPECT_EQ(b->lookup_any(keys, &matched).status, LookupStatus::Found);
    EXPECT_EQ(matched, 1u);
    keys = {"other@else.test", "@else.test"};
    EXPECT_EQ(b->lookup_any(keys, &matched).status, LookupStatus::NotFound);
    keys = {"' OR 1=1 --", "*)(uid=*", "%"};
    EXPECT_EQ(b->lookup_any(keys, &matched).status, LookupStatus::NotFound);
    keys = {"user@example.test"};
    EXPECT_EQ(b->lookup_any(keys, &matched).status, LookupStatus::Found);
    EXPECT_EQ(matched, 0u);
}

TEST_P(BackendContract, LookupAny_UserAndCatchAllBothListed_UserKeyNamed) {
    // LDAP answers all keys with one search that returns both entries; the
    // most specific key must still be the one named.
    auto b = make({"@example.test", "user@example.test", "user+tag@example.test"});
    std::size_t matched = 99;
    std::vector<std::string> keys = {"user+tag@example.test", "user@example.test", "@example.test"};
    EXPECT_EQ(b->lookup_any(keys, &matched).status, LookupStatus::Found);
    EXPECT_EQ(matched, 0u);
    keys = {"user+other@example.test", "user@example.test", "@example.test"};
    EXPECT_EQ(b->lookup_any(keys, &matched).status, LookupStatus::Found);
    EXPECT_EQ(matched, 1u);
    keys = {"nobody+x@example.test", "nobody@example.test", "@example.test"};
    EXPECT_EQ(b->lookup_any(keys, &matched).status, LookupStatus::Found);
    EXPECT_EQ(matched, 2u);
}

TEST_P(BackendContract, LookupAny_HostileKeyInEveryPosition_IsData) {
    using namespace std::string_literals;
    auto b = make({"user@example.test", "@example.test"});
    const std::vector<std::string> hostile = {"*",   "*)(mail=*", "*)(|(mail=*", "\\", "user@example.test\0x"s,
                                              "(|)", "%s",        "' OR 1=1 --"};
    for (std::size_t pos = 0; pos < 3; ++pos) {
        for (const auto& h : hostile) {
            std::vector<std::string> keys = {"nobody@else.test", "nobody@else.test", "@else.test"};
            keys[pos] = h;
            std::size_t matched = 99;
            EXPECT_EQ(b->lookup_any(keys, &matched).status, LookupStatus::NotFound) << "key " << pos << ": " << h;
            // With the real catch-all behind it, the catch-all is what matched.
            keys = {"nobody@example.test", "nobody@example.test", "@example.test"};
            keys[pos] = h;
            LookupStatus want = pos == 2 ? LookupStatus::NotFound : LookupStatus::Found;
            EXPECT_EQ(b->lookup_any(keys, &matched).status, want) << "key " << pos << ": " << h;
            if (want == LookupStatus::Found) {
                EXPECT_EQ(matched, 2u) << h;
            }
        }
    }
}

// International addresses (issue 21): the same mailbox stored with its
// domain in either form - U-label as an admin types it, A-label - and asked
// with the daemon's lookup keys for every spelling a client may use, each
// backend answering through lookup_any as the chain asks it.
struct IdnMailbox {
    const char* stored;
    std::vector<const char*> asked;  // as clients write them; all the same mailbox
};

const IdnMailbox kIdnMailboxes[] = {
    {"j\xC3\xB6rg@b\xC3\xBC\x63her.test",
     {"<j\xC3\xB6rg@b\xC3\xBC\x63her.test>", "<j\xC3\xB6rg@xn--bcher-kva.test>", "<J\xC3\x96RG@B\xC3\x9C\x43HER.test>",
      "<jo\xCC\x88rg@bu\xCC\x88\x63her.test>", "<j\xC3\xB6rg+tag@XN--BCHER-KVA.TEST.>"}},
    {"j\xC3\xB6rg@xn--bcher-kva.test",
     {"<j\xC3\xB6rg@b\xC3\xBC\x63her.test>", "<j\xC3\xB6rg@xn--bcher-kva.test>", "<J\xC3\x96RG@B\xC3\x9C\x43HER.test>",
      "<jo\xCC\x88rg@bu\xCC\x88\x63her.test>", "<j\xC3\xB6rg+tag@XN--BCHER-KVA.TEST.>"}},
    {"user@b\xC3\xBC\x63her.test", {"<user@b\xC3\xBC\x63her.test>", "<USER@xn--bcher-kva.test>"}},
    {"user@xn--bcher-kva.test", {"<user@b\xC3\xBC\x63her.test>", "<USER@xn--bcher-kva.test>"}},
    {"\xC3\xBCser@example.test", {"<\xC3\xBCser@example.test>", "<\xC3\x9C\x53\x45R@Example.test>"}},
    {"@caf\xC3\xA9.test", {"<anyone@caf\xC3\xA9.test>", "<anyone@xn--caf-dma.test>", "<x+y@CAF\xC3\x89.test>"}},
    {"@xn--caf-dma.test", {"<anyone@caf\xC3\xA9.test>", "<anyone@xn--caf-dma.test>", "<x+y@CAF\xC3\x89.test>"}},
};

TEST_P(BackendContract, IdnMailbox_StoredInEitherForm_FoundAskedInEitherForm) {
    AddressOptions opts;
    for (const IdnMailbox& m : kIdnMailboxes) {
        auto b = make({m.stored});
        for (const char* asked : m.asked) {
            Address a = parse_address(asked, opts);
            ASSERT_EQ(a.status, AddressStatus::Mailbox) << asked << ": " << a.error;
            std::size_t matched = 99;
            EXPECT_EQ(b->lookup_any(lookup_keys(a, opts), &matched).status, LookupStatus::Found)
                << "stored " << m.stored << ", asked " << asked;
        }
        // Other mailboxes of the domain, in either form, are still unknown
        // (unless the stored row is the catch-all).
        if (m.stored[0] != '@') {
            for (const char* other : {"<nobody@b\xC3\xBC\x63her.test>", "<nobody@xn--bcher-kva.test>",
                                      "<\xC3\xBC"
                                      "berall@example.test>"}) {
                std::size_t matched = 99;
                Address a = parse_address(other, opts);
                EXPECT_EQ(b->lookup_any(lookup_keys(a, opts), &matched).status, LookupStatus::NotFound)
                    << "stored " << m.stored << ", asked " << other;
            }
        }
    }
}

TEST_P(BackendContract, IdnKeys_MostSpecificMatchReported) {
    auto b = make({"j\xC3\xB6rg@b\xC3\xBC\x63her.test", "@xn--bcher-kva.test"});
    AddressOptions opts;
    std::vector<std::string> keys = lookup_keys(parse_address("<j\xC3\xB6rg+x@b\xC3\xBC\x63her.test>", opts), opts);
    ASSERT_EQ(keys.size(), 6u);
    std::size_t matched = 99;
    ASSERT_EQ(b->lookup_any(keys, &matched).status, LookupStatus::Found);
    // The mailbox (stored in one form or canonicalised at load), not the catch-all.
    EXPECT_TRUE(matched == 2 || matched == 3) << matched;
    keys = lookup_keys(parse_address("<nobody@b\xC3\xBC\x63her.test>", opts), opts);
    ASSERT_EQ(b->lookup_any(keys, &matched).status, LookupStatus::Found);
    EXPECT_EQ(keys[matched].front(), '@');
}

TEST_P(BackendContract, MissingStore_TempFail_NeverNotFound) {
    auto b = GetParam().make_missing(dir_);
    LookupResult r = b->lookup("user@example.test");
    EXPECT_EQ(r.status, LookupStatus::TempFail);
    EXPECT_FALSE(r.reason.empty());
    std::size_t m = 0;
    EXPECT_EQ(b->lookup_any({"user@example.test", "@example.test"}, &m).status, LookupStatus::TempFail);
    // An internationalised domain's six keys too.
    AddressOptions opts;
    EXPECT_EQ(b->lookup_any(lookup_keys(parse_address("<j\xC3\xB6rg+x@b\xC3\xBC\x63her.test>", opts), opts), &m).status,
              LookupStatus::TempFail);
}

TEST_P(BackendContract, LookupAny_AnyNumberOfKeys_EachConsidered) {
    auto b = make({"k7@example.test"});
    for (std::size_t n = 1; n <= 9; ++n) {
        std::vector<std::string> keys;
        for (std::size_t i = 0; i < n; ++i) keys.push_back("k" + std::to_string(i) + "@example.test");
        std::size_t matched = 99;
        LookupResult r = b->lookup_any(keys, &matched);
        if (n >= 8) {
            EXPECT_EQ(r.status, LookupStatus::Found) << n << " keys";
            EXPECT_EQ(matched, 7u) << n << " keys";
        } else {
            EXPECT_EQ(r.status, LookupStatus::NotFound) << n << " keys";
        }
    }
}

TEST_P(BackendContract, CorruptStore_TempFail_NeverNotFound) {
    auto b = GetParam().make_corrupt(dir_);
    LookupResult r = b->lookup("user@example.test");
    EXPECT_EQ(r.status, LookupStatus::TempFail);
    EXPECT_FALSE(r.reason.empty());
}

TEST_P(BackendContract, ConcurrentLookups_AllAnsweredCorrectly) {
    std::vector<std::string> rows;
    for (int i = 0; i < 200; ++i) rows.push_back("u" + std::to_string(i) + "@example.test");
    auto b = make(rows);
    std::atomic<int> wrong{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t)
        threads.emplace_back([&, t] {
            for (int i = 0; i < 300; ++i) {
                int n = (i * 7 + t) % 400;
                auto want = n < 200 ? LookupStatus::Found : LookupStatus::NotFound;
                if (b->lookup("u" + std::to_string(n) + "@example.test").status != want) ++wrong;
            }
        });
    for (auto& th : threads) th.join();
    EXPECT_EQ(wrong.load(), 0);
}

INSTANTIATE_TEST_SUITE_P(AllBackends, BackendContract, ::testing::Values(file_store(), sqlite_store(), ldap_store()),
                         [](const ::testing::TestParamInfo<Store>& i) { return i.param.name; });

}  // namespace
}  // namespace rcptguard
