// The backend contract (backends/backend.hpp), run against every backend type:
// found, not found, case, +detail, catch-all, hostile keys, concurrency, and
// "a store that is missing or corrupt answers TempFail, never NotFound".
// Each backend type supplies a Store: how an admin would put rows into it and
// how to produce a missing or corrupt one. The call-ahead backend's "store"
// is a mail server (a fake one on loopback) that accepts the rows' addresses
// and rejects the rest, with "@domain" rows as its catch-alls.
#include <gtest/gtest.h>

#include <functional>
#include <thread>

#include "backends/file/file_backend.hpp"
#include "backends/ldap/ldap_backend.hpp"
#include "backends/smtp/smtp_backend.hpp"
#include "backends/smtp/smtp_config.hpp"
#include "backends/sqlite/sqlite_backend.hpp"
#include "tests/fakes/fake_smtp_server.hpp"
#include "tests/fakes/slapd_fixture.hpp"
#include "tests/fakes/sql_engines.hpp"
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
    // More ways a store can be broken, each of which must answer TempFail
    // (a query the server refuses, a wrong password, ...): name, maker.
    std::vector<std::pair<std::string, std::function<BackendPtr(TempDir&)>>> more_broken = {};
    // A call-ahead store: keys go to a mail server, which applies its own
    // +detail and catch-all rules, so only the full address is ever asked.
    bool downstream_decides = false;
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

// A real database server (started once per test binary: PostgreSQL, MariaDB),
// one fresh table per store, read as the unprivileged user with a site query
// whose WHERE is `match`. PostgreSQL compares text by bytes, so its query
// folds the stored side as a site would; MariaDB's default collation ignores
// case.
Store sql_server_store(const testing::SqlEngineUnderTest& e, const std::string& match) {
    using testing::sql_test_options;
    Store s;
    s.name = e.type;
    s.make = [e, match](TempDir&, const std::vector<std::string>& rows) -> BackendPtr {
        std::string t = e.server().new_table(rows);
        return e.make("contract", sql_test_options(e, {}, e.password, "SELECT 1 FROM " + t + " WHERE " + match));
    };
    s.make_missing = [e](TempDir&) -> BackendPtr {
        // Nothing listens there: connection refused.
        return e.make("contract", sql_test_options(e, {"127.0.0.1:" + std::to_string(testing::free_loopback_port())},
                                                   e.password, "SELECT 1 FROM recipients WHERE address = %s"));
    };
    s.make_corrupt = [e](TempDir&) -> BackendPtr {
        // The server answers, but the table does not exist.
        return e.make("contract", sql_test_options(e, {}, e.password, "SELECT 1 FROM absent WHERE address = %s"));
    };
    s.more_broken = {
        {"query with a syntax error",
         [e](TempDir&) -> BackendPtr {
             return e.make("contract", sql_test_options(e, {}, e.password, "SELECT 1 FROM WHERE address = %s"));
         }},
        {"query naming a column that does not exist",
         [e](TempDir&) -> BackendPtr {
             std::string t = e.server().new_table({"user@example.test"});
             return e.make("contract", sql_test_options(e, {}, e.password, "SELECT 1 FROM " + t + " WHERE mail = %s"));
         }},
        {"wrong password",
         [e](TempDir&) -> BackendPtr {
             std::string t = e.server().new_table({"user@example.test"});
             return e.make("contract",
                           sql_test_options(e, {}, "not-the-password", "SELECT 1 FROM " + t + " WHERE address = %s"));
         }},
    };
    return s;
}

// A backend together with the fake server it asks; the server outlives it.
// It offers SMTPUTF8, as a downstream must that takes international
// addresses.
struct SmtpStore {
    testing::FakeSmtpServer server{smtputf8_server()};
    BackendPtr backend;

    static testing::FakeSmtpServer::Options smtputf8_server() {
        testing::FakeSmtpServer::Options o;
        o.smtputf8 = true;
        return o;
    }
};

BackendPtr smtp_backend_on(std::shared_ptr<SmtpStore> store, const std::string& host) {
    SmtpOptions o;
    SmtpServer s;
    std::string problem;
    if (!parse_smtp_host(host, &s, &problem)) throw std::runtime_error(problem);
    o.hosts = {s};
    o.client.helo_name = "gw.example.test";
    store->backend = std::make_shared<SmtpBackend>("contract", o);
    return BackendPtr(store, store->backend.get());
}

Store smtp_store() {
    Store s;
    s.name = "smtp";
    s.downstream_decides = true;
    s.make = [](TempDir&, const std::vector<std::string>& rows) -> BackendPtr {
        auto store = std::make_shared<SmtpStore>();
        for (const auto& r : rows) {
            if (!r.empty() && r.front() == '@')
                store->server.add_catch_all(r.substr(1));
            else
                store->server.add_mailbox(r);
        }
        return smtp_backend_on(store, store->server.host());
    };
    s.make_missing = [](TempDir&) -> BackendPtr {
        // Nothing listens there: connection refused.
        auto store = std::make_shared<SmtpStore>();
        std::string host = store->server.host();
        store->server.stop();
        return smtp_backend_on(store, host);
    };
    s.make_corrupt = [](TempDir&) -> BackendPtr {
        // Something answers, but it does not speak SMTP.
        auto store = std::make_shared<SmtpStore>();
        store->server.set_greeting("HTTP/1.1 400 Bad Request\r\n\r\n");
        return smtp_backend_on(store, store->server.host());
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
    if (GetParam().downstream_decides) {
        // The server accepts any address of its catch-all domain; the key
        // "@domain" itself is never sent.
        std::size_t m = 9;
        EXPECT_EQ(b->lookup_any({"anyone@example.test", "@example.test"}, &m).status, LookupStatus::Found);
        EXPECT_EQ(m, 0u);
        EXPECT_EQ(b->lookup_any({"anyone@other.test", "@other.test"}, &m).status, LookupStatus::NotFound);
        EXPECT_EQ(b->lookup("@example.test").status, LookupStatus::NotFound);
        return;
    }
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
    // A call-ahead backend asks for the full address only, so that is what matched.
    const std::size_t want = GetParam().downstream_decides ? 0u : 1u;
    std::size_t matched = 99;
    std::vector<std::string> keys = {"user+tag@example.test", "user@example.test", "@example.test"};
    EXPECT_EQ(b->lookup_any(keys, &matched).status, LookupStatus::Found);
    EXPECT_EQ(matched, want);
    keys = {"other@example.test", "@example.test"};
    EXPECT_EQ(b->lookup_any(keys, &matched).status, LookupStatus::Found);
    EXPECT_EQ(matched, want);
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
    if (GetParam().downstream_decides) {
        // Only the full address is asked; the downstream's catch-all accepts
        // each, so the key named is always the first.
        for (const char* first : {"user+tag@example.test", "user+other@example.test", "nobody+x@example.test"}) {
            keys[0] = first;
            matched = 99;
            EXPECT_EQ(b->lookup_any(keys, &matched).status, LookupStatus::Found) << first;
            EXPECT_EQ(matched, 0u) << first;
        }
        return;
    }
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
            if (GetParam().downstream_decides) {
                // Only the first key is asked: a hostile one is never sent
                // (NotFound); otherwise the downstream's catch-all accepts
                // the full address whatever the other keys hold.
                LookupStatus want = pos == 0 ? LookupStatus::NotFound : LookupStatus::Found;
                EXPECT_EQ(b->lookup_any(keys, &matched).status, want) << "key " << pos << ": " << h;
                if (want == LookupStatus::Found) {
                    EXPECT_EQ(matched, 0u) << h;
                }
                continue;
            }
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
    if (GetParam().downstream_decides) {
        // Only the first key reaches the downstream: the canonical address,
        // local part folded, domain in A-label form. A downstream that lists
        // its mailboxes in that form knows every spelling a client may use;
        // +detail is its own business (the fake server has none).
        for (const IdnMailbox& m : kIdnMailboxes) {
            std::string row = m.stored[0] == '@' ? "@" + canonical_domain(m.stored + 1)
                                                 : parse_address(std::string("<") + m.stored + ">", opts).canonical();
            auto b = make({row});
            for (const char* asked : m.asked) {
                Address a = parse_address(asked, opts);
                ASSERT_EQ(a.status, AddressStatus::Mailbox) << asked << ": " << a.error;
                std::vector<std::string> keys = lookup_keys(a, opts);
                LookupStatus want = m.stored[0] == '@' || strip_detail(a.local, opts.recipient_delimiters) == a.local
                                        ? LookupStatus::Found
                                        : LookupStatus::NotFound;
                std::size_t matched = 99;
                EXPECT_EQ(b->lookup_any(keys, &matched).status, want) << "row " << row << ", asked " << asked;
                if (want == LookupStatus::Found) {
                    EXPECT_EQ(matched, 0u) << asked;
                }
            }
            if (m.stored[0] != '@') {
                for (const char* other : {"<nobody@b\xC3\xBC\x63her.test>", "<nobody@xn--bcher-kva.test>"}) {
                    std::size_t matched = 99;
                    Address a = parse_address(other, opts);
                    EXPECT_EQ(b->lookup_any(lookup_keys(a, opts), &matched).status, LookupStatus::NotFound)
                        << "row " << row << ", asked " << other;
                }
            }
        }
        return;
    }
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
    if (GetParam().downstream_decides) {
        // The downstream's catch-all accepts the full address, the one key asked.
        EXPECT_EQ(matched, 0u);
        keys = lookup_keys(parse_address("<nobody@b\xC3\xBC\x63her.test>", opts), opts);
        matched = 99;
        ASSERT_EQ(b->lookup_any(keys, &matched).status, LookupStatus::Found);
        EXPECT_EQ(matched, 0u);
        return;
    }
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
    if (GetParam().downstream_decides) {
        // Only the first key, the full address, is ever asked.
        for (std::size_t n = 1; n <= 9; ++n) {
            std::vector<std::string> keys;
            for (std::size_t i = 0; i < n; ++i) keys.push_back("k" + std::to_string(i) + "@example.test");
            std::size_t matched = 99;
            EXPECT_EQ(b->lookup_any(keys, &matched).status, LookupStatus::NotFound) << n << " keys";
            keys.front() = "k7@example.test";
            EXPECT_EQ(b->lookup_any(keys, &matched).status, LookupStatus::Found) << n << " keys";
            EXPECT_EQ(matched, 0u) << n << " keys";
        }
        return;
    }
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

TEST_P(BackendContract, OtherwiseBrokenStore_TempFail_NeverNotFound) {
    for (const auto& [what, maker] : GetParam().more_broken) {
        auto b = maker(dir_);
        LookupResult r = b->lookup("user@example.test");
        EXPECT_EQ(r.status, LookupStatus::TempFail) << what;
        EXPECT_FALSE(r.reason.empty()) << what;
        std::size_t m = 0;
        EXPECT_EQ(b->lookup_any({"user@example.test", "@example.test"}, &m).status, LookupStatus::TempFail) << what;
    }
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

INSTANTIATE_TEST_SUITE_P(AllBackends, BackendContract,
                         ::testing::Values(file_store(), sqlite_store(), ldap_store(),
                                           sql_server_store(testing::pgsql_engine(), "lower(address) = %s"),
                                           sql_server_store(testing::mysql_engine(), "address = %s"), smtp_store()),
                         [](const ::testing::TestParamInfo<Store>& i) { return i.param.name; });

}  // namespace
}  // namespace rcptguard
