// pgsql_backend: recipients (and, optionally, domains) in a PostgreSQL
// database, through the site's own queries ("type = pgsql"): PostfixAdmin,
// iRedMail, Modoboa or any schema of one's own.
//
// query is a SELECT with %s %u %d (util/sql_template.hpp), bound as text
// parameters; any row means Found. All keys of a recipient go in one round
// trip: the statement is "SELECT EXISTS (query with key 1), EXISTS (query
// with key 2), ..." - one row of booleans, the first true one is the most
// specific key found (lookup_any's *matched). domain_query (optional) answers
// lookup_domain() the same way, with %s and %d standing for the domain. Each
// statement is prepared once per connection.
//
// Connections: a pool of up to pool_size (util/connection_pool.hpp), each used
// by one thread at a time. A new connection tries hosts in order and takes
// the first that connects and logs in within connect_timeout; a host that
// failed (no connection, TLS, login, or a query that got no answer within
// query_timeout) is skipped by new connections for retry_after
// (util/host_health.hpp), so an outage costs one timeout, not one per
// recipient.
//
// lookup_any(): a row -> Found; none -> NotFound; a key that no PostgreSQL
// text value can equal (NUL byte, not UTF-8) -> NotFound without asking.
// Everything else -> TempFail with the host and the reason: no host answered,
// login or TLS refused, the query failed (no such table, syntax, permission,
// statement_timeout), no answer within query_timeout, pool exhausted. A
// pooled connection that turns out dead (server restarted) is dropped with
// the idle ones opened before it and the lookup retried once on a new
// connection; a timeout is not retried (the server may be hung). A failure is
// never NotFound. An unreachable server at start is not fatal: probe() says
// why, and lookups answer TempFail until it is back.
// The data may change at any time without rcptguard noticing: generation()
// stays put and cached answers live out their TTLs (see rcptguard.conf(5)).
// Thread-safety: lookups from any thread; maintain() from one.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "backends/backend.hpp"
#include "backends/pgsql/pgsql_connection.hpp"
#include "util/connection_pool.hpp"
#include "util/host_health.hpp"
#include "util/network.hpp"
#include "util/sql_template.hpp"

namespace rcptguard {

struct PgsqlOptions {
    std::vector<ServerAddress> hosts;  // tried in order
    PgsqlConnectionSettings connection;
    SqlTemplate query;         // parsed already
    SqlTemplate domain_query;  // empty(): none
    std::chrono::milliseconds connect_timeout{2000};
    int pool_size = 4;
    std::chrono::milliseconds retry_after{2000};      // skip a failed host this long; 0: never skip
    std::chrono::milliseconds idle_timeout{300'000};  // idle connections closed after this
};

class PgsqlBackend final : public Backend {
public:
    PgsqlBackend(std::string name, PgsqlOptions opts);
    ~PgsqlBackend() override;

    // All of a recipient's keys in one statement, up to this many (an
    // internationalised address has six: both forms of the domain, with and
    // without +detail, and both catch-alls); more are asked key by key.
    static constexpr std::size_t kMaxKeysAtOnce = 6;

    LookupResult lookup(std::string_view key) const noexcept override;
    LookupResult lookup_any(const std::vector<std::string>& keys, std::size_t* matched) const noexcept override;
    bool answers_domains() const noexcept override { return !opts_.domain_query.empty(); }
    LookupResult lookup_domain(std::string_view domain) const noexcept override;
    void maintain() noexcept override;

    // Connects and runs the queries once (for keys no database holds):
    // warning says why the server could not be asked, query_problem what it
    // said about a query. A good connection stays in the pool.
    struct Probe {
        std::string warning;
        std::string query_problem;
    };
    Probe probe() const;

private:
    using Pool = ConnectionPool<PgsqlConnection>;
    // Tries the hosts in order (skipping those that failed recently unless
    // use_health is false).
    std::unique_ptr<PgsqlConnection> open_any(std::string* error, bool use_health) const;
    Pool::Lease checkout(std::string* error) const;
    // Runs a statement on a pooled connection; true and the first row, or
    // false and why not.
    bool ask(const std::string& name, const std::string& sql, const std::vector<std::string_view>& values,
             std::vector<std::string>* row, std::string* error) const;

    PgsqlOptions opts_;
    std::string exists_sql_[kMaxKeysAtOnce + 1];  // [n]: n keys at once, 1 <= n <= kMaxKeysAtOnce
    std::string domain_sql_;
    mutable HostHealth health_;
    mutable Pool pool_;
};

}  // namespace rcptguard
