// sql_server_backend: the one backend behind "type = pgsql" and "type =
// mysql" - recipients (and, optionally, domains) in a database server,
// through the site's own queries: PostfixAdmin, iRedMail, Modoboa or any
// schema of one's own. Everything but the wire is here; an engine folder
// (backends/pgsql/, backends/mysql/) supplies only an SqlConnection over its
// client library, its default port, dialect and help texts
// (sql_server_config.hpp), and its registration. It sits
// directly in backends/, beside backend.hpp, so that both folders can use it
// without one backend folder including another (doc/architecture.md).
//
// query is a SELECT with %s %u %d (util/sql_template.hpp), bound as text
// parameters of a prepared statement; any row means Found. All keys of a
// recipient go in one round trip: the statement is "SELECT EXISTS (query with
// key 1), EXISTS (query with key 2), ..." - one row of booleans, the first
// true one is the most specific key found (lookup_any's *matched).
// domain_query (optional) answers lookup_domain() the same way, with %s and
// %d standing for the domain. Each statement is prepared once per connection.
//
// Connections: a pool of up to pool_size (util/connection_pool.hpp), each used
// by one thread at a time. A new connection tries hosts in order and takes
// the first that connects and logs in within connect_timeout; a host that
// failed (no connection, TLS, login, or a query that got no answer within
// query_timeout) is skipped by new connections for retry_after
// (util/host_health.hpp), so an outage costs one timeout, not one per
// recipient.
//
// What a connection reports (SqlAnswer::Outcome) becomes a verdict here, in
// one place for both engines:
//   Rows, exactly one row   -> Found if a column is true, else NotFound
//   Rows, not one row       -> TempFail
//   Failed (the server said no: no such table, syntax, permission, the
//     server's statement time limit)   -> TempFail, the connection kept
//   TimedOut (no answer within query_timeout) -> TempFail, the connection
//     dropped and the host skipped for retry_after; never retried
//   Lost (the connection broke) -> a pooled connection (server restarted) is
//     dropped with the idle ones opened before it and the lookup retried once
//     on a new connection; otherwise TempFail
//   no connection (no host answered, login or TLS refused, pool exhausted)
//     -> TempFail
// A key with a NUL byte or bytes that are not UTF-8 -> NotFound without
// asking (sql_key_unsendable). A failure is never NotFound. Every TempFail
// carries the host and the reason. An unreachable server at start is not
// fatal: probe() says why, and lookups answer TempFail until it is back.
// The data may change at any time without rcptguard noticing: generation()
// stays put and cached answers live out their TTLs (see rcptguard.conf(5)).
// Thread-safety: lookups from any thread; maintain() from one.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "backends/backend.hpp"
#include "util/address.hpp"
#include "util/connection_pool.hpp"
#include "util/host_health.hpp"
#include "util/network.hpp"
#include "util/sql_template.hpp"

namespace rcptguard {

// tls: off = no TLS; prefer = TLS when the server offers it, no certificate
// check; require = TLS, the certificate checked against tls_ca_file and the
// server's name.
enum class SqlTls { Off, Prefer, Require };

struct SqlConnectionSettings {
    std::string dbname;
    std::string user;
    std::string password;  // secret: never logged; "" = none
    SqlTls tls = SqlTls::Prefer;
    std::string tls_ca_file;
    std::chrono::milliseconds connect_timeout{2000};  // per host: connect, TLS and login
    std::chrono::milliseconds query_timeout{2000};    // also the server's own statement time limit
};

// What one statement on one connection came to.
struct SqlAnswer {
    enum class Outcome {
        Rows,      // the statement ran: rows and the first row's values
        Failed,    // the server answered with an error: the connection is still good
        Lost,      // the connection broke: drop it
        TimedOut,  // no answer before the deadline: drop it, the server may be hung
    };
    Outcome outcome = Outcome::Failed;
    int rows = 0;
    std::vector<bool> first_row;  // the first row's values as truth values (EXISTS)
    std::string error;            // for Failed, Lost, TimedOut (never the password)
};

// One connection to one server, over an engine's client library.
class SqlConnection {
public:
    using Clock = std::chrono::steady_clock;

    virtual ~SqlConnection() = default;

    // Prepares sql as `name` if this connection has not yet, then runs it
    // with params bound in order as text. Returns by deadline (an engine
    // whose library counts whole seconds bounds it with the timeouts set at
    // open instead).
    virtual SqlAnswer run(const std::string& name, const std::string& sql, const std::vector<std::string_view>& params,
                          Clock::time_point deadline) = 0;
    // "host:port" or the socket path, as in messages.
    virtual const std::string& host() const = 0;
};

// Opens a connected, logged-in session to one host by deadline, or nullptr
// and *error (the reason, without the host).
using SqlConnectionOpener =
    std::function<std::unique_ptr<SqlConnection>(const SqlConnectionSettings& settings, const ServerAddress& host,
                                                 SqlConnection::Clock::time_point deadline, std::string* error)>;

// True when the key is not sent: a NUL byte (a PostgreSQL text value cannot
// hold one) or bytes that are not UTF-8 (both engines' client encodings
// refuse or convert them). No address holds such a key: "not found".
bool sql_key_unsendable(std::string_view key);

struct SqlServerOptions {
    std::vector<ServerAddress> hosts;  // tried in order
    SqlConnectionSettings connection;
    SqlTemplate query;         // parsed already
    SqlTemplate domain_query;  // empty(): none
    int pool_size = 4;
    std::chrono::milliseconds retry_after{2000};      // skip a failed host this long; 0: never skip
    std::chrono::milliseconds idle_timeout{300'000};  // idle connections closed after this
};

class SqlServerBackend final : public Backend {
public:
    // type: the engine's type name ("pgsql"); open: its connections.
    SqlServerBackend(std::string name, std::string type, SqlServerOptions opts, SqlConnectionOpener open);
    ~SqlServerBackend() override;

    // All of a recipient's keys in one statement, up to this many (an
    // internationalised address has six: both forms of the domain, with and
    // without +detail, and both catch-alls); more are asked key by key.
    static constexpr std::size_t kMaxKeysAtOnce = kMaxLookupKeys;

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

    const SqlServerOptions& options() const noexcept { return opts_; }

private:
    using Pool = ConnectionPool<SqlConnection>;
    // Tries the hosts in order (skipping those that failed recently unless
    // use_health is false).
    std::unique_ptr<SqlConnection> open_any(std::string* error, bool use_health) const;
    Pool::Lease checkout(std::string* error) const;
    // Runs a statement on a pooled connection; true and the first row, or
    // false and why not.
    bool ask(const std::string& name, const std::string& sql, const std::vector<std::string_view>& values,
             std::vector<bool>* row, std::string* error) const;

    SqlServerOptions opts_;
    SqlConnectionOpener open_;
    std::string exists_sql_[kMaxKeysAtOnce + 1];  // [n]: n keys at once, 1 <= n <= kMaxKeysAtOnce
    std::string domain_sql_;
    mutable HostHealth health_;
    mutable Pool pool_;
};

}  // namespace rcptguard
