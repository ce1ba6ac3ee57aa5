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
// backend's EXISTS statement). Outcomes: Rows, Failed (the server answered
// with an error: the connection is still good), Lost (the connection broke),
// TimedOut (no answer within query_timeout). The password never appears in
// a message.
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

#include "util/network.hpp"

struct st_mysql;
struct st_mysql_stmt;

namespace rcptguard {

// libmariadb's one-time set-up (mysql_library_init), which is not
// thread-safe; main() calls it before any thread exists.
void mysql_global_init();

enum class MysqlTls { Off, Prefer, Require };

struct MysqlConnectionSettings {
    std::string dbname;
    std::string user;
    std::string password;  // secret: never logged; "" = none
    MysqlTls tls = MysqlTls::Prefer;
    std::string tls_ca_file;
    std::chrono::milliseconds connect_timeout{2000};
    std::chrono::milliseconds query_timeout{2000};
};

struct MysqlQuery {
    enum class Outcome { Rows, Failed, Lost, TimedOut };
    Outcome outcome = Outcome::Failed;
    int rows = 0;
    std::vector<long long> first_row;
    std::string error;  // for Failed, Lost, TimedOut
};

class MysqlConnection {
public:
    // A connected, authenticated session, or nullptr and *error (the reason,
    // without the host).
    static std::unique_ptr<MysqlConnection> open(const MysqlConnectionSettings& s, const ServerAddress& host,
                                                 std::string* error);
    ~MysqlConnection();
    MysqlConnection(const MysqlConnection&) = delete;
    MysqlConnection& operator=(const MysqlConnection&) = delete;

    // Prepares sql as `name` if this connection has not yet, then runs it
    // with params bound in order (one per '?').
    MysqlQuery run(const std::string& name, const std::string& sql, const std::vector<std::string_view>& params);

    const std::string& host() const { return host_; }

private:
    MysqlConnection(st_mysql* mysql, std::string host, std::chrono::milliseconds query_timeout)
        : mysql_(mysql), host_(std::move(host)), query_timeout_(query_timeout) {}
    MysqlQuery failure(st_mysql_stmt* stmt, std::chrono::steady_clock::time_point started);

    st_mysql* mysql_;
    std::string host_;
    std::chrono::milliseconds query_timeout_;
    std::map<std::string, st_mysql_stmt*> statements_;
};

// True when the key is not sent: a NUL byte or bytes that are not UTF-8
// (no address holds them; the server would convert or refuse them).
bool mysql_key_unsendable(std::string_view key);

}  // namespace rcptguard
