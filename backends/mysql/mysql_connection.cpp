// mysql_connection: see mysql_connection.hpp. Connector/C facts from its
// manual pages (mysql_optionsv(3), mysql_real_connect(3), mysql_stmt_*(3))
// and doc/platform.md §8.6.
#include "backends/mysql/mysql_connection.hpp"

#include <mysql.h>
#include <mysqld_error.h>

#include <cstdio>
#include <cstring>
#include <mutex>

#include "util/text.hpp"

namespace rcptguard {

namespace {

std::once_flag g_mysql_init_once;

// Connector/C's timeouts are whole seconds.
unsigned int whole_seconds(std::chrono::milliseconds d) {
    long long s = (d.count() + 999) / 1000;
    return static_cast<unsigned int>(s < 1 ? 1 : s);
}

// Client-side errors (CR_*, 2000-2999) mean the connection is in doubt;
// everything else is the server's answer.
bool client_error(unsigned int code) { return code >= 2000 && code < 3000; }

}  // namespace

void mysql_global_init() {
    std::call_once(g_mysql_init_once, [] { mysql_library_init(0, nullptr, nullptr); });
}

std::unique_ptr<SqlConnection> MysqlConnection::open(const SqlConnectionSettings& s, const ServerAddress& host,
                                                     Clock::time_point, std::string* error) {
    mysql_global_init();  // a no-op after main()'s call
    MYSQL* m = mysql_init(nullptr);
    if (!m) {
        *error = "out of memory";
        return nullptr;
    }
    unsigned int connect_seconds = whole_seconds(s.connect_timeout);
    unsigned int io_seconds = whole_seconds(s.query_timeout);
    unsigned int no = 0;
    my_bool off = 0;
    my_bool on = 1;
    unsigned int protocol = host.socket ? MYSQL_PROTOCOL_SOCKET : MYSQL_PROTOCOL_TCP;
    mysql_optionsv(m, MYSQL_OPT_CONNECT_TIMEOUT, &connect_seconds);
    mysql_optionsv(m, MYSQL_OPT_READ_TIMEOUT, &io_seconds);
    mysql_optionsv(m, MYSQL_OPT_WRITE_TIMEOUT, &io_seconds);
    // A server may ask the client for any local file (LOAD DATA LOCAL): never.
    mysql_optionsv(m, MYSQL_OPT_LOCAL_INFILE, &no);
    mysql_optionsv(m, MYSQL_OPT_RECONNECT, &off);
    mysql_optionsv(m, MYSQL_OPT_PROTOCOL, &protocol);
    mysql_optionsv(m, MYSQL_SET_CHARSET_NAME, "utf8mb4");
    if (s.tls == SqlTls::Prefer) {
        // TLS when the server offers it; without a CA nothing is checked.
        mysql_optionsv(m, MYSQL_OPT_SSL_ENFORCE, &off);
        mysql_ssl_set(m, nullptr, nullptr, nullptr, nullptr, nullptr);
        mysql_optionsv(m, MYSQL_OPT_SSL_VERIFY_SERVER_CERT, &off);
    } else if (s.tls == SqlTls::Require) {
        mysql_optionsv(m, MYSQL_OPT_SSL_CA, s.tls_ca_file.c_str());
        mysql_optionsv(m, MYSQL_OPT_SSL_ENFORCE, &on);
        mysql_optionsv(m, MYSQL_OPT_SSL_VERIFY_SERVER_CERT, &on);
    }
    std::string port_host = host.socket ? std::string("localhost") : host.host;
    if (!mysql_real_connect(m, port_host.c_str(), s.user.c_str(), s.password.empty() ? nullptr : s.password.c_str(),
                            s.dbname.c_str(), host.socket ? 0 : static_cast<unsigned int>(host.port),
                            host.socket ? host.host.c_str() : nullptr, 0)) {
        *error = std::string(mysql_error(m)) + " (error " + std::to_string(mysql_errno(m)) + ")";
        mysql_close(m);
        return nullptr;
    }
    // The server gives up on a statement itself after query_timeout.
    // MariaDB calls it max_statement_time (seconds), MySQL max_execution_time
    // (milliseconds, SELECT only).
    char seconds[32];
    std::snprintf(seconds, sizeof seconds, "%.3f", static_cast<double>(s.query_timeout.count()) / 1000.0);
    std::string set_time = std::string("SET SESSION max_statement_time = ") + seconds;
    if (mysql_query(m, set_time.c_str()) != 0 && mysql_errno(m) == ER_UNKNOWN_SYSTEM_VARIABLE) {
        std::string mysql_time = "SET SESSION max_execution_time = " + std::to_string(s.query_timeout.count());
        mysql_query(m, mysql_time.c_str());
    }
    // Nothing this connection runs may change data, whatever the grants say.
    mysql_query(m, "SET SESSION TRANSACTION READ ONLY");
    if (client_error(mysql_errno(m))) {
        *error = std::string(mysql_error(m)) + " (error " + std::to_string(mysql_errno(m)) + ")";
        mysql_close(m);
        return nullptr;
    }
    return std::unique_ptr<SqlConnection>(new MysqlConnection(m, host.to_string(), s.query_timeout));
}

MysqlConnection::~MysqlConnection() {
    for (auto& [name, stmt] : statements_) mysql_stmt_close(stmt);
    mysql_close(mysql_);
}

SqlAnswer MysqlConnection::failure(MYSQL_STMT* stmt, std::chrono::steady_clock::time_point started) {
    SqlAnswer q;
    unsigned int code = stmt ? mysql_stmt_errno(stmt) : mysql_errno(mysql_);
    q.error =
        std::string(stmt ? mysql_stmt_error(stmt) : mysql_error(mysql_)) + " (error " + std::to_string(code) + ")";
    if (!client_error(code)) {
        q.outcome = SqlAnswer::Outcome::Failed;
        return q;
    }
    // The library reports a read timeout as a lost connection; what tells
    // them apart is the time it took.
    auto waited = std::chrono::steady_clock::now() - started;
    auto limit = std::chrono::seconds(whole_seconds(query_timeout_)) - std::chrono::milliseconds(100);
    if (waited >= limit) {
        q.outcome = SqlAnswer::Outcome::TimedOut;
        q.error = "no answer within query_timeout (" + q.error + ")";
    } else {
        q.outcome = SqlAnswer::Outcome::Lost;
    }
    return q;
}

SqlAnswer MysqlConnection::run(const std::string& name, const std::string& sql,
                               const std::vector<std::string_view>& params, Clock::time_point) {
    auto started = std::chrono::steady_clock::now();
    MYSQL_STMT* stmt = nullptr;
    auto it = statements_.find(name);
    if (it != statements_.end()) {
        stmt = it->second;
    } else {
        stmt = mysql_stmt_init(mysql_);
        if (!stmt) return failure(nullptr, started);
        if (mysql_stmt_prepare(stmt, sql.c_str(), sql.size()) != 0) {
            SqlAnswer q = failure(stmt, started);
            mysql_stmt_close(stmt);
            return q;
        }
        if (mysql_stmt_param_count(stmt) != params.size()) {
            mysql_stmt_close(stmt);
            SqlAnswer q;
            q.error = "the statement takes " + std::to_string(params.size()) + " values, the server counts otherwise";
            return q;
        }
        statements_[name] = stmt;
    }
    std::vector<MYSQL_BIND> binds(params.size());
    std::vector<unsigned long> lengths(params.size());
    for (std::size_t i = 0; i < params.size(); ++i) {
        std::memset(&binds[i], 0, sizeof binds[i]);
        lengths[i] = params[i].size();
        binds[i].buffer_type = MYSQL_TYPE_STRING;
        binds[i].buffer = const_cast<char*>(params[i].data());
        binds[i].buffer_length = params[i].size();
        binds[i].length = &lengths[i];
    }
    if (!params.empty() && mysql_stmt_bind_param(stmt, binds.data()) != 0) return failure(stmt, started);
    if (mysql_stmt_execute(stmt) != 0) return failure(stmt, started);
    unsigned int columns = mysql_stmt_field_count(stmt);
    std::vector<long long> values(columns);
    std::vector<my_bool> nulls(columns);
    std::vector<MYSQL_BIND> out(columns);
    for (unsigned int c = 0; c < columns; ++c) {
        std::memset(&out[c], 0, sizeof out[c]);
        out[c].buffer_type = MYSQL_TYPE_LONGLONG;
        out[c].buffer = &values[c];
        out[c].is_null = &nulls[c];
    }
    if (columns > 0 && mysql_stmt_bind_result(stmt, out.data()) != 0) return failure(stmt, started);
    SqlAnswer q;
    q.outcome = SqlAnswer::Outcome::Rows;
    for (;;) {
        int rc = mysql_stmt_fetch(stmt);
        if (rc == MYSQL_NO_DATA) break;
        if (rc == 1) {
            SqlAnswer f = failure(stmt, started);
            mysql_stmt_free_result(stmt);
            return f;
        }
        if (q.rows++ == 0)
            for (unsigned int c = 0; c < columns; ++c) q.first_row.push_back(!nulls[c] && values[c] != 0);
    }
    mysql_stmt_free_result(stmt);
    return q;
}

}  // namespace rcptguard
