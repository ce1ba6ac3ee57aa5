// mysql_connection: one MariaDB Connector/C (libmariadb) connection to one
// MariaDB or MySQL server, owned RAII-style (the destructor closes it), with
// its prepared statements.
//
// open() connects to one host with everything given explicitly (no option
// files, no LOAD DATA LOCAL, no automatic reconnect, character set utf8mb4)
// and bounds every wait with the library's own timeouts: MYSQL_OPT_CONNECT_
// TIMEOUT for connecting, MYSQL_OPT_READ_TIMEOUT and _WRITE_TIMEOUT for
// everything after (doc/platform.md §8.6; whole seconds, rounded up). It also
// asks the server to give up on a statement after query_timeout
// (max_statement_time on MariaDB, max_execution_time on MySQL; ignored where
// neither exists). tls: off = no TLS; prefer = TLS when the server offers
// it, no certificate check; require = TLS, the certificate checked against
// tls_ca_file and the server's name.
//
// run() prepares a statement once per connection (by name) and runs it with
// the values bound as strings; the result is one row of integers (the
// backend's EXISTS statement; not 0 is true). Outcomes (SqlAnswer,
// backends/sql_server_backend.hpp): Rows, Failed (the server answered with
// an error: the connection is still good), Lost (the connection broke),
// TimedOut (no answer within query_timeout). The deadline the backend passes
// is not used: the library's timeouts set at open() bound every wait. The
// password never appears in a message.
//
// Thread-safety: a connection is used by one thread at a time (the backend's
// pool hands it out). mysql_global_init() must run once while the process is
// single-threaded.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "backends/sql_server_backend.hpp"
#include "util/network.hpp"

struct st_mysql;
struct st_mysql_stmt;

namespace rcptguard {

// libmariadb's one-time set-up (mysql_library_init), which is not
// thread-safe; main() calls it before any thread exists.
void mysql_global_init();

class MysqlConnection final : public SqlConnection {
public:
    // A connected, authenticated session, or nullptr and *error (the reason,
    // without the host): an SqlConnectionOpener (the deadline is not used,
    // see above).
    static std::unique_ptr<SqlConnection> open(const SqlConnectionSettings& s, const ServerAddress& host,
                                               Clock::time_point deadline, std::string* error);
    ~MysqlConnection() override;
    MysqlConnection(const MysqlConnection&) = delete;
    MysqlConnection& operator=(const MysqlConnection&) = delete;

    // Prepares sql as `name` if this connection has not yet, then runs it
    // with params bound in order (one per '?').
    SqlAnswer run(const std::string& name, const std::string& sql, const std::vector<std::string_view>& params,
                  Clock::time_point deadline) override;

    const std::string& host() const override { return host_; }

private:
    MysqlConnection(st_mysql* mysql, std::string host, std::chrono::milliseconds query_timeout)
        : mysql_(mysql), host_(std::move(host)), query_timeout_(query_timeout) {}
    SqlAnswer failure(st_mysql_stmt* stmt, std::chrono::steady_clock::time_point started);

    st_mysql* mysql_;
    std::string host_;
    std::chrono::milliseconds query_timeout_;
    std::map<std::string, st_mysql_stmt*> statements_;
};

}  // namespace rcptguard
