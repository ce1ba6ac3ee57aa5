// The SQL-server backend's core (backends/sql_server_backend.hpp), once for
// both engines, over a scripted connection: what each outcome a connection
// reports becomes - every one but a row is TempFail, never NotFound - the
// retry of a dead pooled connection (once, never after a timeout), hosts
// skipped for retry_after, the pool's limit, keys that are never sent, the
// most specific key named, domain_query and probe(). Whether each engine's
// connection reports the right outcome for a real server that is stopped,
// killed, frozen or refuses a query is tests/sql_backend_test.cpp.
#include "backends/sql_server_backend.hpp"

#include <gtest/gtest.h>

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "backends/registry.hpp"
#include "util/config_file.hpp"

namespace rcptguard {
namespace {

using std::chrono::milliseconds;
using Outcome = SqlAnswer::Outcome;

SqlAnswer rows(std::vector<bool> first_row, int n = 1) {
    SqlAnswer a;
    a.outcome = Outcome::Rows;
    a.rows = n;
    a.first_row = std::move(first_row);
    return a;
}

SqlAnswer failure(Outcome o, std::string error) {
    SqlAnswer a;
    a.outcome = o;
    a.error = std::move(error);
    return a;
}

// A scripted server: run() answers from `script` in order (then `otherwise`),
// hosts in `down` refuse connections, and everything is counted.
struct FakeServer {
    std::mutex mutex;
    std::deque<SqlAnswer> script;
    SqlAnswer otherwise = rows({false});
    std::vector<std::string> down;
    int opens = 0;
    int runs = 0;
    std::vector<std::string> statements;                 // each run's statement name
    std::vector<std::vector<std::string>> params;        // each run's values
    std::vector<SqlConnection::Clock::time_point> ends;  // each run's deadline
    // With hold set, run() waits until it is cleared (a busy connection).
    bool hold = false;
    bool holding = false;
    std::condition_variable changed;

    SqlAnswer next(const std::string& name, const std::vector<std::string_view>& values,
                   SqlConnection::Clock::time_point deadline) {
        std::unique_lock<std::mutex> lock(mutex);
        ++runs;
        statements.push_back(name);
        params.emplace_back(values.begin(), values.end());
        ends.push_back(deadline);
        holding = hold;
        changed.notify_all();
        changed.wait(lock, [&] { return !hold; });
        holding = false;
        if (script.empty()) return otherwise;
        SqlAnswer a = script.front();
        script.pop_front();
        return a;
    }
};

class FakeConnection final : public SqlConnection {
public:
    FakeConnection(std::shared_ptr<FakeServer> server, std::string host)
        : server_(std::move(server)), host_(std::move(host)) {}
    SqlAnswer run(const std::string& name, const std::string&, const std::vector<std::string_view>& params,
                  Clock::time_point deadline) override {
        return server_->next(name, params, deadline);
    }
    const std::string& host() const override { return host_; }

private:
    std::shared_ptr<FakeServer> server_;
    std::string host_;
};

struct Made {
    std::shared_ptr<FakeServer> server = std::make_shared<FakeServer>();
    std::shared_ptr<SqlServerBackend> backend;
};

Made make(const std::vector<std::string>& hosts = {"db1"}, milliseconds retry_after = milliseconds(60'000),
          const std::string& domain_query = "", int pool_size = 4) {
    Made m;
    SqlServerOptions o;
    for (const auto& h : hosts) {
        ServerAddress a;
        EXPECT_EQ(parse_server_address(h, 5432, &a), "");
        o.hosts.push_back(a);
    }
    EXPECT_EQ(o.query.parse("SELECT 1 FROM m WHERE a = %s", SqlDialect::Postgres), "");
    if (!domain_query.empty()) {
        EXPECT_EQ(o.domain_query.parse(domain_query, SqlDialect::Postgres), "");
    }
    o.connection.query_timeout = milliseconds(200);
    o.connection.connect_timeout = milliseconds(300);
    o.retry_after = retry_after;
    o.pool_size = pool_size;
    std::shared_ptr<FakeServer> server = m.server;
    m.backend = std::make_shared<SqlServerBackend>(
        "sql", "fake", std::move(o),
        [server](const SqlConnectionSettings&, const ServerAddress& host, SqlConnection::Clock::time_point,
                 std::string* error) -> std::unique_ptr<SqlConnection> {
            std::lock_guard<std::mutex> lock(server->mutex);
            ++server->opens;
            for (const auto& d : server->down)
                if (d == host.to_string()) {
                    *error = "connection refused";
                    return nullptr;
                }
            return std::make_unique<FakeConnection>(server, host.to_string());
        });
    return m;
}

// --- every outcome, for recipients and for domains --------------------------

struct OutcomeCase {
    std::string name;
    SqlAnswer answer;
    LookupStatus want;
    std::string reason;  // part of the TempFail reason ("" for a verdict)
};

void PrintTo(const OutcomeCase& c, std::ostream* os) { *os << c.name; }

class SqlServerOutcome : public ::testing::TestWithParam<OutcomeCase> {};

TEST_P(SqlServerOutcome, Recipient_OnlyARowIsAVerdict) {
    const OutcomeCase& c = GetParam();
    Made m = make();
    m.server->script = {c.answer};
    LookupResult r = m.backend->lookup("alice@example.test");
    EXPECT_EQ(r.status, c.want) << r.reason;
    if (c.want == LookupStatus::TempFail) {
        EXPECT_NE(r.reason.find("db1:5432: "), std::string::npos) << r.reason;  // the host
        EXPECT_NE(r.reason.find(c.reason), std::string::npos) << r.reason;
    }
    EXPECT_EQ(m.server->opens, 1);  // nothing here is retried: the connection was new
}

TEST_P(SqlServerOutcome, Domain_OnlyARowIsAVerdict) {
    const OutcomeCase& c = GetParam();
    Made m = make({"db1"}, milliseconds(60'000), "SELECT 1 FROM d WHERE d = %d");
    m.server->script = {c.answer};
    LookupResult r = m.backend->lookup_domain("example.test");
    EXPECT_EQ(r.status, c.want) << r.reason;
    if (c.want == LookupStatus::TempFail) {
        EXPECT_EQ(r.reason.rfind("domain_query: ", 0), 0u) << r.reason;
        EXPECT_NE(r.reason.find(c.reason), std::string::npos) << r.reason;
    }
    ASSERT_EQ(m.server->statements.size(), 1u);
    EXPECT_EQ(m.server->statements[0], "rcptguard_d");
    EXPECT_EQ(m.server->params[0], std::vector<std::string>{"example.test"});
}

INSTANTIATE_TEST_SUITE_P(
    Cases, SqlServerOutcome,
    ::testing::Values(OutcomeCase{"true_row", rows({true}), LookupStatus::Found, ""},
                      OutcomeCase{"false_row", rows({false}), LookupStatus::NotFound, ""},
                      OutcomeCase{"no_row", rows({}, 0), LookupStatus::TempFail, "returned 0 rows, not 1"},
                      OutcomeCase{"two_rows", rows({true}, 2), LookupStatus::TempFail, "returned 2 rows, not 1"},
                      OutcomeCase{"failed", failure(Outcome::Failed, "relation \"m\" does not exist"),
                                  LookupStatus::TempFail, "relation \"m\" does not exist"},
                      OutcomeCase{"timed_out", failure(Outcome::TimedOut, "no answer within query_timeout"),
                                  LookupStatus::TempFail, "no answer within query_timeout"},
                      OutcomeCase{"lost", failure(Outcome::Lost, "server closed the connection"),
                                  LookupStatus::TempFail, "server closed the connection"}),
    [](const ::testing::TestParamInfo<OutcomeCase>& i) { return i.param.name; });

TEST(SqlServerBackend, AnswerWithTheWrongNumberOfColumns_TempFail) {
    Made m = make({"db1"}, milliseconds(60'000), "SELECT 1 FROM d WHERE d = %d");
    m.server->script = {rows({true, true}), rows({})};
    LookupResult r = m.backend->lookup("alice@example.test");
    EXPECT_EQ(r.status, LookupStatus::TempFail);
    EXPECT_EQ(r.reason, "unexpected answer to the lookup");
    LookupResult d = m.backend->lookup_domain("example.test");
    EXPECT_EQ(d.status, LookupStatus::TempFail);
    EXPECT_EQ(d.reason, "unexpected answer to domain_query");
}

// --- connections: kept, dropped, retried ------------------------------------

TEST(SqlServerBackend, Failed_KeepsTheConnection) {
    Made m = make();
    m.server->script = {failure(Outcome::Failed, "permission denied"), rows({true})};
    EXPECT_EQ(m.backend->lookup("alice@example.test").status, LookupStatus::TempFail);
    EXPECT_EQ(m.backend->lookup("alice@example.test").status, LookupStatus::Found);
    EXPECT_EQ(m.server->opens, 1);
}

TEST(SqlServerBackend, LostOnAPooledConnection_RetriedOnceOnANewOne) {
    Made m = make();
    ASSERT_EQ(m.backend->lookup("alice@example.test").status, LookupStatus::NotFound);  // one pooled connection
    m.server->script = {failure(Outcome::Lost, "server closed the connection"), rows({true})};
    EXPECT_EQ(m.backend->lookup("alice@example.test").status, LookupStatus::Found);
    EXPECT_EQ(m.server->opens, 2);
    EXPECT_EQ(m.server->runs, 3);
}

TEST(SqlServerBackend, LostTwice_TempFailWithBothReasons) {
    Made m = make();
    ASSERT_EQ(m.backend->lookup("alice@example.test").status, LookupStatus::NotFound);
    m.server->script = {failure(Outcome::Lost, "first"), failure(Outcome::Lost, "second")};
    LookupResult r = m.backend->lookup("alice@example.test");
    EXPECT_EQ(r.status, LookupStatus::TempFail);
    EXPECT_EQ(r.reason, "db1:5432: first; retried on a new connection: db1:5432: second");
    EXPECT_EQ(m.server->runs, 3);  // not a third time
}

TEST(SqlServerBackend, TimedOut_NotRetried_HostSkippedForRetryAfter) {
    Made m = make();
    ASSERT_EQ(m.backend->lookup("alice@example.test").status, LookupStatus::NotFound);  // pooled
    m.server->script = {failure(Outcome::TimedOut, "no answer within query_timeout")};
    LookupResult hung = m.backend->lookup("alice@example.test");
    EXPECT_EQ(hung.status, LookupStatus::TempFail);
    EXPECT_EQ(m.server->runs, 2);  // no second wait for a hung server
    LookupResult skipped = m.backend->lookup("alice@example.test");
    EXPECT_EQ(skipped.status, LookupStatus::TempFail);
    EXPECT_NE(skipped.reason.find("not tried"), std::string::npos) << skipped.reason;
    EXPECT_EQ(m.server->opens, 1);  // the dropped connection was not replaced
}

TEST(SqlServerBackend, TimedOut_RetryAfterZero_TriedAgainAtOnce) {
    Made m = make({"db1"}, milliseconds(0));
    m.server->script = {failure(Outcome::TimedOut, "no answer within query_timeout"), rows({true})};
    EXPECT_EQ(m.backend->lookup("alice@example.test").status, LookupStatus::TempFail);
    EXPECT_EQ(m.backend->lookup("alice@example.test").status, LookupStatus::Found);
    EXPECT_EQ(m.server->opens, 2);
}

// --- hosts ------------------------------------------------------------------

TEST(SqlServerBackend, FirstHostDown_SecondAnswers_ThenTheFirstIsSkipped) {
    Made m = make({"db1", "db2"});
    m.server->down = {"db1:5432"};
    m.server->script = {rows({true})};
    EXPECT_EQ(m.backend->lookup("alice@example.test").status, LookupStatus::Found);
    EXPECT_EQ(m.server->opens, 2);
    m.server->otherwise = failure(Outcome::TimedOut, "no answer within query_timeout");
    // db2's pooled connection times out; db1 is still skipped, db2 now too.
    EXPECT_EQ(m.backend->lookup("alice@example.test").status, LookupStatus::TempFail);
    LookupResult r = m.backend->lookup("alice@example.test");
    EXPECT_EQ(r.status, LookupStatus::TempFail);
    EXPECT_NE(r.reason.find("db1:5432: not tried"), std::string::npos) << r.reason;
    EXPECT_NE(r.reason.find("db2:5432: not tried"), std::string::npos) << r.reason;
    EXPECT_EQ(m.server->opens, 2);
}

TEST(SqlServerBackend, NoHostAnswers_TempFailNamingEach) {
    Made m = make({"db1", "db2"}, milliseconds(0));
    m.server->down = {"db1:5432", "db2:5432"};
    LookupResult r = m.backend->lookup("alice@example.test");
    EXPECT_EQ(r.status, LookupStatus::TempFail);
    EXPECT_EQ(r.reason, "db1:5432: connection refused; db2:5432: connection refused");
    EXPECT_EQ(m.server->runs, 0);
}

TEST(SqlServerBackend, AllConnectionsBusy_TempFailNamingPoolSize) {
    Made m = make({"db1"}, milliseconds(60'000), "", 1);
    m.server->hold = true;
    std::thread busy([&] { (void)m.backend->lookup("a@example.test"); });
    {
        std::unique_lock<std::mutex> lock(m.server->mutex);
        m.server->changed.wait(lock, [&] { return m.server->holding; });
    }
    LookupResult r = m.backend->lookup("b@example.test");  // waits query_timeout for the one connection
    {
        std::lock_guard<std::mutex> lock(m.server->mutex);
        m.server->hold = false;
        m.server->changed.notify_all();
    }
    busy.join();
    EXPECT_EQ(r.status, LookupStatus::TempFail);
    EXPECT_EQ(r.reason, "all 1 connections busy for 200ms (pool_size)");
}

// --- keys -------------------------------------------------------------------

TEST(SqlServerBackend, KeysNoServerCouldHold_NotFoundWithoutAsking) {
    Made m = make();
    EXPECT_EQ(m.backend->lookup(std::string("a\0b@example.test", 16)).status, LookupStatus::NotFound);
    EXPECT_EQ(m.backend->lookup("\xff@example.test").status, LookupStatus::NotFound);
    EXPECT_EQ(m.server->runs, 0);
    EXPECT_EQ(m.server->opens, 0);
    EXPECT_TRUE(sql_key_unsendable(std::string_view("\0", 1)));
    EXPECT_TRUE(sql_key_unsendable("\xc3("));
    EXPECT_FALSE(sql_key_unsendable("j\xC3\xB6rg@b\xC3\xBC\x63her.test"));
}

TEST(SqlServerBackend, AllKeysInOneStatement_MostSpecificMatchNamed_UnsendableOnesLeftOut) {
    Made m = make();
    m.server->script = {rows({false, true, true})};
    std::size_t matched = 99;
    std::vector<std::string> keys = {"a+x@example.test", "\xff@example.test", "a@example.test", "@example.test"};
    EXPECT_EQ(m.backend->lookup_any(keys, &matched).status, LookupStatus::Found);
    EXPECT_EQ(matched, 2u);  // the index in keys, not in what was sent
    ASSERT_EQ(m.server->runs, 1);
    EXPECT_EQ(m.server->statements[0], "rcptguard_q3");
    EXPECT_EQ(m.server->params[0], (std::vector<std::string>{"a+x@example.test", "a@example.test", "@example.test"}));
}

TEST(SqlServerBackend, MoreKeysThanOneStatementTakes_AskedOneByOne) {
    Made m = make();
    std::vector<std::string> keys;
    for (int i = 0; i < 7; ++i) keys.push_back("k" + std::to_string(i) + "@example.test");
    m.server->script = {rows({false}), rows({false}), rows({true})};
    std::size_t matched = 99;
    EXPECT_EQ(m.backend->lookup_any(keys, &matched).status, LookupStatus::Found);
    EXPECT_EQ(matched, 2u);
    EXPECT_EQ(m.server->runs, 3);
    EXPECT_EQ(m.server->statements[0], "rcptguard_q1");
}

TEST(SqlServerBackend, NoDomainQuery_DomainsNotAnswered) {
    Made m = make();
    EXPECT_FALSE(m.backend->answers_domains());
    EXPECT_EQ(m.backend->lookup_domain("example.test").status, LookupStatus::TempFail);
    EXPECT_EQ(m.server->runs, 0);
}

TEST(SqlServerBackend, EveryStatement_HasTheQueryTimeoutAsDeadline) {
    Made m = make();
    auto before = SqlConnection::Clock::now();
    (void)m.backend->lookup("alice@example.test");
    ASSERT_EQ(m.server->ends.size(), 1u);
    EXPECT_GE(m.server->ends[0], before + milliseconds(200));
    EXPECT_LE(m.server->ends[0], SqlConnection::Clock::now() + milliseconds(200));
}

// --- probe ------------------------------------------------------------------

TEST(SqlServerBackend, Probe_QueryProblem_Warning_AndAGoodConnectionPooled) {
    Made good = make({"db1"}, milliseconds(60'000), "SELECT 1 FROM d WHERE d = %d");
    SqlServerBackend::Probe p = good.backend->probe();
    EXPECT_EQ(p.warning, "");
    EXPECT_EQ(p.query_problem, "");
    EXPECT_EQ(good.server->statements, (std::vector<std::string>{"rcptguard_q1", "rcptguard_d"}));
    EXPECT_EQ(good.backend->lookup("alice@example.test").status, LookupStatus::NotFound);
    EXPECT_EQ(good.server->opens, 1);  // the probe's connection

    Made refused = make({"db1"}, milliseconds(60'000), "SELECT 1 FROM d WHERE d = %d");
    refused.server->script = {failure(Outcome::Failed, "no such table"), failure(Outcome::Failed, "no column")};
    p = refused.backend->probe();
    EXPECT_EQ(p.warning, "");
    EXPECT_EQ(p.query_problem, "query: db1:5432: no such table; domain_query: db1:5432: no column");

    Made lost = make();
    lost.server->script = {failure(Outcome::Lost, "server closed the connection")};
    p = lost.backend->probe();
    EXPECT_EQ(p.warning, "db1:5432: server closed the connection");
    EXPECT_EQ(p.query_problem, "");

    Made down = make();
    down.server->down = {"db1:5432"};
    p = down.backend->probe();
    EXPECT_EQ(p.warning, "db1:5432: connection refused");
    // A diagnosis only: the first lookup tries the host itself.
    down.server->down.clear();
    EXPECT_EQ(down.backend->lookup("alice@example.test").status, LookupStatus::NotFound);
}

// The defaults a section gets from each engine's declared keys, read through
// the registry as the daemon reads them. The server refuses the probe's
// connection (port 1 on loopback): the backend is built all the same.
TEST(SqlServerConfig, MinimalSection_Defaults_BothEngines) {
    for (const char* type : {"pgsql", "mysql"}) {
        SCOPED_TRACE(type);
        ConfigFile f = parse_config_text(std::string("[backend sql]\ntype = ") + type +
                                             "\nhosts = 127.0.0.1:1\ndbname = mail\nuser = rcptguard\n"
                                             "query = SELECT 1 FROM mailbox WHERE username = %s\n",
                                         "t.conf");
        SectionReader r(f, f.sections.at(0));
        BuiltBackend b = make_backend(r, BackendContext{});
        f.throw_if_problems();
        auto sql = std::dynamic_pointer_cast<const SqlServerBackend>(b.backend);
        ASSERT_TRUE(sql);
        EXPECT_NE(b.startup_warning, "");  // nobody listens on port 1
        const SqlServerOptions& o = sql->options();
        // As many connections as SQLite's and LDAP's pools: libmilter runs a
        // thread per busy session, and 4 made uncached lookups wait
        // (BENCHMARKS.md, pool_size).
        EXPECT_EQ(o.pool_size, 16);
        EXPECT_EQ(o.connection.connect_timeout, milliseconds(2000));
        EXPECT_EQ(o.connection.query_timeout, milliseconds(2000));
        EXPECT_EQ(o.retry_after, milliseconds(2000));
        EXPECT_EQ(o.idle_timeout, milliseconds(300'000));
        EXPECT_EQ(o.connection.tls, SqlTls::Prefer);
    }
}

}  // namespace
}  // namespace rcptguard
