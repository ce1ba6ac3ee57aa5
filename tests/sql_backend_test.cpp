// The SQL-server backends (pgsql, mysql) beyond the contract suite, against
// real servers (tests/fakes/pgsql_fixture, mysql_fixture): the site's own
// queries with %u and %d, domain_query, probe() and "rcptguard -n", and the
// outages - server stopped, killed, frozen, wrong password, the first of two
// hosts dead - which must answer TempFail (never NotFound) and recover
// without a restart; and each engine's connection reporting the outcome the
// shared backend maps (the mapping itself: sql_server_backend_test.cpp).
// Every test runs once per engine (tests/fakes/sql_engines). Configuration
// checks go through the registry, as the daemon reads them.
#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <thread>

#include "backends/registry.hpp"
#include "tests/fakes/mysql_fixture.hpp"
#include "tests/fakes/pgsql_fixture.hpp"
#include "tests/fakes/sql_engines.hpp"
#include "tests/test_support.hpp"

namespace rcptguard {
namespace {

using std::chrono::milliseconds;
using testing::MysqlFixture;
using testing::PgsqlFixture;
using testing::TempDir;

// What a test needs from one kind of server beyond the engine: how the
// server records the statements the backend's sessions ran that name a table
// (watch_statements() first): MariaDB's general log holds every execution;
// PostgreSQL's pg_stat_activity the last one of each session.
struct Server {
    testing::SqlEngineUnderTest engine;
    std::function<void()> watch_statements;
    std::function<std::vector<std::string>(const std::string& table)> statements_on;

    testing::SqlServerFixture& db() const { return engine.server(); }
    // A backend over the engine's shared server (hosts "" = the fixture's),
    // with short timeouts (MariaDB's are whole seconds).
    std::shared_ptr<SqlServerBackend> make(const std::string& query, const std::string& domain_query,
                                           const std::vector<std::string>& hosts, milliseconds retry_after) const {
        SqlServerOptions o = testing::sql_test_options(engine, hosts, engine.password, query, domain_query);
        milliseconds timeout(engine.type == "mysql" ? 1000 : 800);
        o.connection.query_timeout = timeout;
        o.connection.connect_timeout = timeout;
        o.retry_after = retry_after;
        return engine.make("sql", std::move(o));
    }
};

Server pgsql_server() {
    Server s;
    s.engine = testing::pgsql_engine();
    s.watch_statements = [] {};
    s.statements_on = [](const std::string& table) {
        return PgsqlFixture::shared().column(
            "SELECT query FROM pg_stat_activity WHERE usename = 'rcptguard' AND query LIKE '%" + table + " %'");
    };
    return s;
}

Server mysql_server() {
    Server s;
    s.engine = testing::mysql_engine();
    s.watch_statements = [] {
        MysqlFixture::shared().exec("SET GLOBAL log_output = 'TABLE'; SET GLOBAL general_log = 1");
    };
    s.statements_on = [](const std::string& table) {
        auto out = MysqlFixture::shared().column(
            "SELECT CONVERT(argument USING utf8mb4) FROM mysql.general_log WHERE command_type = 'Execute' AND "
            "argument LIKE '%" +
            table + " %'");
        MysqlFixture::shared().exec("SET GLOBAL general_log = 0; TRUNCATE TABLE mysql.general_log");
        return out;
    };
    return s;
}

// Waits (bounded) until a lookup gives want; returns the last answer.
LookupResult lookup_until(const Backend& b, const std::string& key, LookupStatus want) {
    LookupResult r;
    for (int i = 0; i < 200; ++i) {
        r = b.lookup(key);
        if (r.status == want) return r;
        std::this_thread::sleep_for(milliseconds(50));
    }
    return r;
}

class SqlBackend : public ::testing::TestWithParam<Server> {
protected:
    const Server& s() const { return GetParam(); }
    std::string query_for(const std::string& table) const { return "SELECT 1 FROM " + table + " WHERE address = %s"; }
    int next_ = 0;
};

TEST_P(SqlBackend, LocalPartAndDomainPlaceholders_BoundSeparately) {
    static int n = 0;
    std::string t = "parts" + std::to_string(++n) + "_" + s().engine.type;
    s().db().exec("CREATE TABLE " + t + " (local_part varchar(64) NOT NULL, domain varchar(255) NOT NULL)");
    s().db().exec("INSERT INTO " + t + " VALUES ('alice', 'example.test'), ('', 'catchall.test')");
    s().db().grant(t);
    auto b = s().make("SELECT 1 FROM " + t + " WHERE local_part = %u AND domain = %d", "", {}, milliseconds(2000));
    EXPECT_EQ(b->lookup("alice@example.test").status, LookupStatus::Found);
    EXPECT_EQ(b->lookup("alice@other.test").status, LookupStatus::NotFound);
    EXPECT_EQ(b->lookup("bob@example.test").status, LookupStatus::NotFound);
    // The catch-all key "@domain" has an empty local part.
    std::size_t matched = 9;
    EXPECT_EQ(b->lookup_any({"x@catchall.test", "@catchall.test"}, &matched).status, LookupStatus::Found);
    EXPECT_EQ(matched, 1u);
}

// An internationalised address has six keys (both forms of the domain, with
// and without +detail, both catch-alls): one statement asks them all.
TEST_P(SqlBackend, SixKeys_OneStatement_MostSpecificMatchNamed) {
    std::string t = s().db().new_table({"@b\xC3\xBC\x63her.test", "j\xC3\xB6rg@xn--bcher-kva.test"});
    auto b = s().make(query_for(t), "", {}, milliseconds(2000));
    std::vector<std::string> keys = {"j\xC3\xB6rg+news@xn--bcher-kva.test",
                                     "j\xC3\xB6rg+news@b\xC3\xBC\x63her.test",
                                     "j\xC3\xB6rg@xn--bcher-kva.test",
                                     "j\xC3\xB6rg@b\xC3\xBC\x63her.test",
                                     "@xn--bcher-kva.test",
                                     "@b\xC3\xBC\x63her.test"};
    ASSERT_EQ(b->lookup("@b\xC3\xBC\x63her.test").status, LookupStatus::Found);  // connected and prepared
    s().watch_statements();
    std::size_t matched = 99;
    EXPECT_EQ(b->lookup_any(keys, &matched).status, LookupStatus::Found);
    EXPECT_EQ(matched, 2u);
    std::vector<std::string> ran = s().statements_on(t);
    ASSERT_EQ(ran.size(), 1u);
    std::size_t exists = 0;
    for (std::size_t at = ran[0].find("EXISTS ("); at != std::string::npos; at = ran[0].find("EXISTS (", at + 1))
        ++exists;
    EXPECT_EQ(exists, 6u) << ran[0];
}

TEST_P(SqlBackend, DomainQuery_FoundNotFound_AndHostileDomainsAreData) {
    std::string t = s().db().new_table({"example.test", "Other.Test"});
    auto b = s().make(query_for(t), "SELECT 1 FROM " + t + " WHERE address = %d", {}, milliseconds(2000));
    EXPECT_TRUE(b->answers_domains());
    EXPECT_EQ(b->lookup_domain("example.test").status, LookupStatus::Found);
    EXPECT_EQ(b->lookup_domain("nowhere.test").status, LookupStatus::NotFound);
    EXPECT_EQ(b->lookup_domain("' OR 1=1 --").status, LookupStatus::NotFound);
    EXPECT_EQ(b->lookup_domain("%").status, LookupStatus::NotFound);
    auto without = s().make(query_for(t), "", {}, milliseconds(2000));
    EXPECT_FALSE(without->answers_domains());
    EXPECT_EQ(without->lookup_domain("example.test").status, LookupStatus::TempFail);
}

TEST_P(SqlBackend, RepeatedPlaceholder_EveryOccurrenceBound) {
    std::string t = s().db().new_table({"alice@example.test"});
    auto b = s().make("SELECT 1 FROM " + t + " WHERE address = %s OR address = %s", "", {}, milliseconds(2000));
    std::size_t matched = 9;
    EXPECT_EQ(b->lookup_any({"x+y@example.test", "alice@example.test", "@example.test"}, &matched).status,
              LookupStatus::Found);
    EXPECT_EQ(matched, 1u);
}

TEST_P(SqlBackend, Probe_ReportsAQueryTheServerRefuses_AndAnUnreachableServer) {
    std::string t = s().db().new_table({"alice@example.test"});
    auto good = s().make(query_for(t), "SELECT 1 FROM " + t + " WHERE address = %d", {}, milliseconds(2000));
    auto bad = s().make("SELECT 1 FROM no_such_table WHERE address = %s", "", {}, milliseconds(2000));
    auto bad_domain =
        s().make(query_for(t), "SELECT 1 FROM " + t + " WHERE no_such_column = %d", {}, milliseconds(2000));
    auto down =
        s().make(query_for(t), "", {"127.0.0.1:" + std::to_string(testing::free_loopback_port())}, milliseconds(2000));
    auto probe = [](const std::shared_ptr<SqlServerBackend>& b) {
        auto r = b->probe();
        return std::make_pair(r.warning, r.query_problem);
    };
    EXPECT_EQ(probe(good), std::make_pair(std::string(), std::string()));
    auto [w1, q1] = probe(bad);
    EXPECT_EQ(w1, "");
    EXPECT_NE(q1.find("query: "), std::string::npos) << q1;
    EXPECT_NE(q1.find("no_such_table"), std::string::npos) << q1;
    auto [w2, q2] = probe(bad_domain);
    EXPECT_NE(q2.find("domain_query: "), std::string::npos) << q2;
    auto [w3, q3] = probe(down);
    EXPECT_NE(w3, "");
    EXPECT_EQ(q3, "");
}

TEST_P(SqlBackend, PasswordNeverInAnyMessage) {
    std::string t = s().db().new_table({"alice@example.test"});
    auto b = s().make("SELECT 1 FROM " + t + " WHERE nonsense = %s", "", {}, milliseconds(2000));
    LookupResult r = b->lookup("alice@example.test");
    EXPECT_EQ(r.status, LookupStatus::TempFail);
    EXPECT_EQ(r.reason.find(s().engine.password), std::string::npos);
}

TEST_P(SqlBackend, FirstHostDead_SecondAnswers_ThenTheDeadOneIsSkipped) {
    std::string t = s().db().new_table({"alice@example.test"});
    std::string dead = "127.0.0.1:" + std::to_string(testing::free_loopback_port());
    auto b = s().make(query_for(t), "", {dead, s().db().host()}, milliseconds(60'000));
    EXPECT_EQ(b->lookup("alice@example.test").status, LookupStatus::Found);
    EXPECT_EQ(b->lookup("nobody@example.test").status, LookupStatus::NotFound);
}

TEST_P(SqlBackend, ServerStoppedThenStarted_TempFail_ThenAnswersWithoutRestart) {
    std::string t = s().db().new_table({"alice@example.test"});
    auto b = s().make(query_for(t), "", {}, milliseconds(0));
    ASSERT_EQ(b->lookup("alice@example.test").status, LookupStatus::Found);  // a pooled connection now
    s().db().stop();
    LookupResult down = b->lookup("alice@example.test");
    LookupResult down2 = b->lookup("nobody@example.test");
    s().db().start();
    EXPECT_EQ(down.status, LookupStatus::TempFail);
    EXPECT_FALSE(down.reason.empty());
    EXPECT_EQ(down2.status, LookupStatus::TempFail);
    LookupResult back = lookup_until(*b, "alice@example.test", LookupStatus::Found);
    EXPECT_EQ(back.status, LookupStatus::Found) << back.reason;
    EXPECT_EQ(b->lookup("nobody@example.test").status, LookupStatus::NotFound);
}

TEST_P(SqlBackend, ServerKilled_TempFail_ThenAnswersWithoutRestart) {
    std::string t = s().db().new_table({"alice@example.test"});
    auto b = s().make(query_for(t), "", {}, milliseconds(0));
    ASSERT_EQ(b->lookup("alice@example.test").status, LookupStatus::Found);
    s().db().kill();
    LookupResult down = b->lookup("alice@example.test");
    s().db().start();
    EXPECT_EQ(down.status, LookupStatus::TempFail);
    LookupResult back = lookup_until(*b, "alice@example.test", LookupStatus::Found);
    EXPECT_EQ(back.status, LookupStatus::Found) << back.reason;
}

TEST_P(SqlBackend, ServerFrozen_TempFail_ThenSkippedForRetryAfter_ThenBack) {
    std::string t = s().db().new_table({"alice@example.test"});
    auto b = s().make(query_for(t), "", {}, milliseconds(1000));
    ASSERT_EQ(b->lookup("alice@example.test").status, LookupStatus::Found);  // pooled connection
    s().db().pause();
    LookupResult hung = b->lookup("alice@example.test");      // the pooled connection times out
    LookupResult skipped = b->lookup("nobody@example.test");  // the host is skipped for retry_after
    s().db().resume();
    EXPECT_EQ(hung.status, LookupStatus::TempFail);
    EXPECT_NE(hung.reason.find("query_timeout"), std::string::npos) << hung.reason;
    EXPECT_EQ(skipped.status, LookupStatus::TempFail);
    EXPECT_NE(skipped.reason.find("not tried"), std::string::npos) << skipped.reason;
    LookupResult back = lookup_until(*b, "alice@example.test", LookupStatus::Found);
    EXPECT_EQ(back.status, LookupStatus::Found) << back.reason;
}

TEST_P(SqlBackend, FrozenServerAtConnect_TempFail) {
    std::string t = s().db().new_table({"alice@example.test"});
    auto b = s().make(query_for(t), "", {}, milliseconds(1000));  // no connection yet
    s().db().pause();
    LookupResult r = b->lookup("alice@example.test");
    s().db().resume();
    EXPECT_EQ(r.status, LookupStatus::TempFail);
    LookupResult back = lookup_until(*b, "alice@example.test", LookupStatus::Found);
    EXPECT_EQ(back.status, LookupStatus::Found) << back.reason;
}

// Each engine's connection reports what happened as the one outcome the
// shared backend maps to a verdict (tests/sql_server_backend_test.cpp): a
// row of truth values, Failed for a statement the server refuses (the
// connection stays usable), TimedOut for a frozen server, Lost for a killed
// one; a refused login opens nothing and never shows the password.
TEST_P(SqlBackend, Connection_ReportsEachOutcome) {
    using Outcome = SqlAnswer::Outcome;
    std::string t = s().db().new_table({"alice@example.test"});
    SqlServerOptions o = testing::sql_test_options(s().engine, {}, s().engine.password, query_for(t));
    o.connection.query_timeout = milliseconds(1000);
    o.connection.connect_timeout = milliseconds(1000);
    std::string exists = o.query.exists_statement(2);
    SqlServerOptions bad = testing::sql_test_options(s().engine, {}, s().engine.password,
                                                     "SELECT 1 FROM no_such_table WHERE address = %s");
    auto deadline = [&] { return SqlConnection::Clock::now() + o.connection.query_timeout; };
    std::string error;
    std::unique_ptr<SqlConnection> c = s().engine.open(o.connection, o.hosts[0], deadline(), &error);
    ASSERT_TRUE(c) << error;
    EXPECT_EQ(c->host(), s().db().host());

    SqlAnswer a = c->run("q2", exists, {"nobody@example.test", "alice@example.test"}, deadline());
    EXPECT_EQ(a.outcome, Outcome::Rows) << a.error;
    EXPECT_EQ(a.rows, 1);
    EXPECT_EQ(a.first_row, (std::vector<bool>{false, true}));

    a = c->run("bad", bad.query.exists_statement(1), {"alice@example.test"}, deadline());
    EXPECT_EQ(a.outcome, Outcome::Failed);
    EXPECT_NE(a.error.find("no_such_table"), std::string::npos) << a.error;
    a = c->run("q2", exists, {"alice@example.test", "nobody@example.test"}, deadline());
    EXPECT_EQ(a.outcome, Outcome::Rows) << a.error;
    EXPECT_EQ(a.first_row, (std::vector<bool>{true, false}));

    s().db().pause();
    a = c->run("q2", exists, {"alice@example.test", "nobody@example.test"}, deadline());
    s().db().resume();
    EXPECT_EQ(a.outcome, Outcome::TimedOut) << a.error;
    EXPECT_NE(a.error.find("query_timeout"), std::string::npos) << a.error;

    c = s().engine.open(o.connection, o.hosts[0], deadline(), &error);
    ASSERT_TRUE(c) << error;
    s().db().kill();
    a = c->run("q2", exists, {"alice@example.test", "nobody@example.test"}, deadline());
    s().db().start();
    EXPECT_EQ(a.outcome, Outcome::Lost) << a.error;
    EXPECT_FALSE(a.error.empty());

    SqlConnectionSettings wrong = o.connection;
    wrong.password = "not-the-password";
    error.clear();
    EXPECT_FALSE(s().engine.open(wrong, o.hosts[0], deadline(), &error));
    EXPECT_FALSE(error.empty());
    EXPECT_EQ(error.find("not-the-password"), std::string::npos) << error;
}

INSTANTIATE_TEST_SUITE_P(Servers, SqlBackend, ::testing::Values(pgsql_server(), mysql_server()),
                         [](const ::testing::TestParamInfo<Server>& i) { return i.param.engine.type; });

// --- configuration, through the registry ---------------------------------

struct ConfigCase {
    std::string name;
    std::string type;
    std::string section;  // the keys after "type = ..."
    std::string key;      // the key the problem must name
    std::string words;    // part of the problem text
};

std::string first_problem(const std::string& type, const std::string& keys) {
    ConfigFile file = parse_config_text("[backend b]\ntype = " + type + "\n" + keys, "test.conf");
    SectionReader r(file, file.sections.at(0));
    BuiltBackend b = make_backend(r, BackendContext{});
    EXPECT_FALSE(b.backend);
    if (file.problems->list.empty()) return "(no problem)";
    return file.problems->list.front().what();
}

class SqlConfig : public ::testing::TestWithParam<ConfigCase> {};

TEST_P(SqlConfig, Problem_NamesFileLineKey) {
    const ConfigCase& c = GetParam();
    std::string p = first_problem(c.type, c.section);
    EXPECT_NE(p.find("test.conf:"), std::string::npos) << p;
    EXPECT_NE(p.find(": " + c.key + ": "), std::string::npos) << p;
    EXPECT_NE(p.find(c.words), std::string::npos) << p;
}

const std::string kGood = "hosts = 127.0.0.1:9\ndbname = mail\nuser = u\ntls = off\n";

INSTANTIATE_TEST_SUITE_P(
    Cases, SqlConfig,
    ::testing::Values(
        ConfigCase{"pg_quoted", "pgsql", kGood + "query = SELECT 1 FROM m WHERE a = '%s'\n", "query", "inside quotes"},
        ConfigCase{"my_quoted", "mysql", kGood + "query = SELECT 1 FROM m WHERE a = \"%u@%d\"\n", "query",
                   "inside quotes"},
        ConfigCase{"pg_no_placeholder", "pgsql", kGood + "query = SELECT 1 FROM m\n", "query", "no placeholder"},
        ConfigCase{"my_qmark", "mysql", kGood + "query = SELECT 1 FROM m WHERE a = ?\n", "query", "'?'"},
        ConfigCase{"pg_dollar", "pgsql", kGood + "query = SELECT 1 FROM m WHERE a = $1\n", "query", "$N"},
        ConfigCase{"pg_update", "pgsql", kGood + "query = UPDATE m SET a = %s\n", "query", "SELECT"},
        ConfigCase{"my_two", "mysql", kGood + "query = SELECT 1 FROM m WHERE a = %s; DROP TABLE m\n", "query",
                   "single statement"},
        ConfigCase{"pg_unknown", "pgsql", kGood + "query = SELECT 1 FROM m WHERE a = %x\n", "query", "%x"},
        ConfigCase{"pg_domain_quoted", "pgsql",
                   kGood + "query = SELECT 1 FROM m WHERE a = %s\ndomain_query = "
                           "SELECT 1 FROM d WHERE d = '%d'\n",
                   "domain_query", "inside quotes"},
        ConfigCase{"pg_no_query", "pgsql", kGood, "query", "missing"},
        ConfigCase{"my_no_hosts", "mysql", "dbname = mail\nuser = u\nquery = SELECT 1 FROM m WHERE a = %s\n", "hosts",
                   "required"},
        ConfigCase{"pg_bad_host", "pgsql",
                   "hosts = db:99999\ndbname = mail\nuser = u\nquery = SELECT 1 FROM m WHERE a = %s\n", "hosts",
                   "port"},
        ConfigCase{
            "my_tls", "mysql",
            "hosts = 127.0.0.1\ndbname = mail\nuser = u\ntls = sometimes\nquery = SELECT 1 FROM m WHERE a = %s\n",
            "tls", "expected off, prefer or require"},
        ConfigCase{
            "pg_ca", "pgsql",
            "hosts = 127.0.0.1\ndbname = mail\nuser = u\ntls = require\ntls_ca_file = /nonexistent/ca.pem\nquery "
            "= SELECT 1 FROM m WHERE a = %s\n",
            "tls_ca_file", "/nonexistent/ca.pem"},
        ConfigCase{"my_password_file", "mysql",
                   kGood + "password_file = /nonexistent/secret\nquery = SELECT 1 FROM m WHERE a = %s\n",
                   "password_file", "/nonexistent/secret"},
        ConfigCase{"pg_unknown_key", "pgsql", kGood + "query = SELECT 1 FROM m WHERE a = %s\npassword = x\n",
                   "password", "unknown key"},
        ConfigCase{"my_scope", "mysql", kGood + "query = SELECT 1 FROM m WHERE a = %s\ndomains = example.test @x\n",
                   "domains", "not a domain name"}),
    [](const ::testing::TestParamInfo<ConfigCase>& i) { return i.param.name; });

TEST(SqlConfig, PasswordFromItsFile_NeverInTheProblems) {
    TempDir d;
    testing::write_file(d.file("secret"), "s3cret-value\nsecond line\n");
    std::string p = first_problem(
        "pgsql", kGood + "password_file = " + d.file("secret") + "\nquery = SELECT 1 FROM m WHERE a = %s\n");
    EXPECT_NE(p.find("password_file"), std::string::npos) << p;
    EXPECT_EQ(p.find("s3cret-value"), std::string::npos) << p;
}

}  // namespace
}  // namespace rcptguard
