// pgsql_connection: one libpq connection to one PostgreSQL server, owned
// RAII-style (the destructor closes it), driven in non-blocking mode so that
// every wait - connecting, TLS, authentication, preparing and running a
// statement - ends at a deadline of our own (doc/platform.md §8.5). A server
// that stops answering (SIGSTOPped, a dead network path) costs at most that
// deadline; libpq's own connect_timeout (whole seconds, at least 2) is not
// used.
//
// open() connects to one host with every setting given explicitly (host,
// port, dbname, user, password, sslmode, sslrootcert, client_encoding UTF8,
// a read-only session, statement_timeout), so environment variables such as
// PGSSLMODE cannot weaken what rcptguard.conf says. tls: off = sslmode
// disable, prefer = libpq's prefer (encrypted when the server offers it, no
// certificate check), require = verify-full against tls_ca_file (the chain
// and the server's name or address).
//
// run() prepares a statement under a name once per connection (parameters
// declared as text, so PostgreSQL never has to guess their type) and runs it
// with text parameters. Outcomes (SqlAnswer, backends/sql_server_backend.hpp):
// Rows (with the first row's values, "t" being true), Failed (the server
// answered with an error: the connection is still good), Lost (the
// connection broke, or libpq could not send), TimedOut (no answer before the
// deadline; the server may be hung). The password never appears in a
// message.
//
// Thread-safety: a connection is used by one thread at a time (the backend's
// pool hands it out); libpq is thread-safe across connections.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "backends/sql_server_backend.hpp"
#include "util/network.hpp"

struct pg_conn;

namespace rcptguard {

class PgsqlConnection final : public SqlConnection {
public:
    // A connected, authenticated session, or nullptr and *error (the reason,
    // without the host): an SqlConnectionOpener.
    static std::unique_ptr<SqlConnection> open(const SqlConnectionSettings& s, const ServerAddress& host,
                                               Clock::time_point deadline, std::string* error);
    ~PgsqlConnection() override;
    PgsqlConnection(const PgsqlConnection&) = delete;
    PgsqlConnection& operator=(const PgsqlConnection&) = delete;

    // Prepares sql as `name` if this connection has not yet, then runs it.
    // sql has parameters $1..$N, all text.
    SqlAnswer run(const std::string& name, const std::string& sql, const std::vector<std::string_view>& params,
                  Clock::time_point deadline) override;

    const std::string& host() const override { return host_; }

private:
    PgsqlConnection(pg_conn* conn, std::string host) : conn_(conn), host_(std::move(host)) {}
    // Sends what libpq has buffered and waits for the complete answer.
    SqlAnswer finish(Clock::time_point deadline);

    pg_conn* conn_;
    std::string host_;
    std::vector<std::string> prepared_;
};

// libpq takes a default for every setting not given from PG* environment
// variables (PGHOSTADDR, PGSERVICE, PGSSLCERT, ...) and from pg_service.conf.
// main() calls this before any thread exists: it removes every PG* variable,
// so that nothing but rcptguard.conf decides where and how rcptguard
// connects (the same reason LDAPNOINIT is set for libldap).
void pgsql_global_init();

}  // namespace rcptguard
