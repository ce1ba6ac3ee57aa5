// pgsql_connection: see pgsql_connection.hpp. libpq facts from the
// PostgreSQL 15 manual, "libpq - C Library": 34.1.1 (PQconnectStartParams,
// PQconnectPoll), 34.5 (non-blocking mode, PQflush), 34.4 (PQsendPrepare,
// PQsendQueryPrepared, PQgetResult) - see doc/platform.md §8.5.
#include "backends/pgsql/pgsql_connection.hpp"

#include <poll.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <libpq-fe.h>

#include "util/text.hpp"

namespace rcptguard {

namespace {

constexpr Oid kTextOid = 25;  // pg_type.oid of "text"

// libpq's messages span lines ("...failed: Connection refused\n\tIs the
// server running..."): one line for the log.
std::string one_line(std::string_view text) {
    std::string out;
    bool blank = false;
    for (char c : text) {
        if (c == '\n' || c == '\r' || c == '\t') {
            blank = true;
            continue;
        }
        if (blank && !out.empty()) out += ' ';
        blank = false;
        out += c;
    }
    return std::string(trim(out));
}

// Waits for the socket; returns poll()'s revents, 0 at the deadline, -1 on
// an error of poll() itself.
int wait_socket(int fd, bool read, bool write, PgsqlConnection::Clock::time_point deadline) {
    if (fd < 0) return -1;
    for (;;) {
        auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - PgsqlConnection::Clock::now());
        if (left.count() <= 0) return 0;
        pollfd p{fd, static_cast<short>((read ? POLLIN : 0) | (write ? POLLOUT : 0)), 0};
        int rc = ::poll(&p, 1, static_cast<int>(std::min<long long>(left.count(), INT_MAX)));
        if (rc > 0) return p.revents;
        if (rc < 0 && errno != EINTR) return -1;
    }
}

std::string result_error(const PGresult* r) {
    const char* primary = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
    const char* state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    std::string text = primary ? primary : one_line(PQresultErrorMessage(r));
    if (text.empty()) text = PQresStatus(PQresultStatus(r));
    if (state) text += std::string(" (SQLSTATE ") + state + ")";
    return text;
}

}  // namespace

void pgsql_global_init() {
    std::vector<std::string> names;
    for (char** e = environ; e && *e; ++e) {
        std::string_view v = *e;
        if (v.rfind("PG", 0) == 0 && v.find('=') != std::string_view::npos)
            names.emplace_back(v.substr(0, v.find('=')));
    }
    for (const auto& n : names) unsetenv(n.c_str());
}

std::unique_ptr<SqlConnection> PgsqlConnection::open(const SqlConnectionSettings& s, const ServerAddress& host,
                                                     Clock::time_point deadline, std::string* error) {
    std::string port = std::to_string(host.port > 0 ? host.port : 5432);
    std::string options =
        "-c statement_timeout=" + std::to_string(s.query_timeout.count()) + " -c default_transaction_read_only=on";
    const char* sslmode = s.tls == SqlTls::Off ? "disable" : s.tls == SqlTls::Prefer ? "prefer" : "verify-full";
    std::vector<const char*> keys = {"host",       "port",
                                     "dbname",     "user",
                                     "sslmode",    "client_encoding",
                                     "options",    "application_name",
                                     "gssencmode", "target_session_attrs"};
    std::vector<const char*> values = {host.host.c_str(), port.c_str(), s.dbname.c_str(), s.user.c_str(),
                                       sslmode,           "UTF8",       options.c_str(),  "rcptguard",
                                       "disable",         "any"};
    if (!s.password.empty()) {
        keys.push_back("password");
        values.push_back(s.password.c_str());
    }
    if (s.tls == SqlTls::Require) {
        keys.push_back("sslrootcert");
        values.push_back(s.tls_ca_file.c_str());
    }
    keys.push_back(nullptr);
    values.push_back(nullptr);
    PGconn* conn = PQconnectStartParams(keys.data(), values.data(), 0);
    if (!conn) {
        *error = "out of memory";
        return nullptr;
    }
    auto fail = [&](const std::string& why) {
        *error = why;
        PQfinish(conn);
        return nullptr;
    };
    if (PQstatus(conn) == CONNECTION_BAD) return fail(one_line(PQerrorMessage(conn)));
    // Just after PQconnectStart, behave as if PQconnectPoll said WRITING.
    PostgresPollingStatusType st = PGRES_POLLING_WRITING;
    while (st != PGRES_POLLING_OK) {
        if (st == PGRES_POLLING_FAILED) return fail(one_line(PQerrorMessage(conn)));
        // The socket may change between calls (the next address of a name,
        // a retry without TLS under sslmode=prefer).
        int w = wait_socket(PQsocket(conn), st == PGRES_POLLING_READING, st == PGRES_POLLING_WRITING, deadline);
        if (w == 0) return fail("no answer within connect_timeout (connecting, TLS or login)");
        if (w < 0) return fail(std::string("poll: ") + std::strerror(errno));
        st = PQconnectPoll(conn);
    }
    if (PQsetnonblocking(conn, 1) != 0) return fail(one_line(PQerrorMessage(conn)));
    return std::unique_ptr<SqlConnection>(new PgsqlConnection(conn, host.to_string()));
}

PgsqlConnection::~PgsqlConnection() { PQfinish(conn_); }

SqlAnswer PgsqlConnection::finish(Clock::time_point deadline) {
    SqlAnswer q;
    auto lost = [&](SqlAnswer::Outcome o, const std::string& why) {
        q.outcome = o;
        q.error = why;
        return q;
    };
    // Non-blocking mode: a request may sit in libpq's buffer until the
    // socket takes it; the server may answer meanwhile (34.5).
    for (;;) {
        int f = PQflush(conn_);
        if (f == 0) break;
        if (f < 0) return lost(SqlAnswer::Outcome::Lost, one_line(PQerrorMessage(conn_)));
        int w = wait_socket(PQsocket(conn_), true, true, deadline);
        if (w == 0) return lost(SqlAnswer::Outcome::TimedOut, "no answer within query_timeout");
        if (w < 0) return lost(SqlAnswer::Outcome::Lost, std::string("poll: ") + std::strerror(errno));
        if ((w & (POLLIN | POLLHUP | POLLERR)) && !PQconsumeInput(conn_))
            return lost(SqlAnswer::Outcome::Lost, one_line(PQerrorMessage(conn_)));
    }
    bool failed = false;
    q.outcome = SqlAnswer::Outcome::Rows;
    for (;;) {
        while (PQisBusy(conn_)) {
            int w = wait_socket(PQsocket(conn_), true, false, deadline);
            if (w == 0) return lost(SqlAnswer::Outcome::TimedOut, "no answer within query_timeout");
            if (w < 0) return lost(SqlAnswer::Outcome::Lost, std::string("poll: ") + std::strerror(errno));
            if (!PQconsumeInput(conn_)) return lost(SqlAnswer::Outcome::Lost, one_line(PQerrorMessage(conn_)));
        }
        PGresult* r = PQgetResult(conn_);
        if (!r) break;
        ExecStatusType st = PQresultStatus(r);
        if (st == PGRES_TUPLES_OK || st == PGRES_SINGLE_TUPLE) {
            int n = PQntuples(r);
            if (q.rows == 0 && n > 0)
                for (int c = 0; c < PQnfields(r); ++c)
                    q.first_row.push_back(std::string_view(PQgetvalue(r, 0, c)) == "t");  // boolean, text format
            q.rows += n;
        } else if (st != PGRES_COMMAND_OK) {
            if (!failed) q.error = result_error(r);
            failed = true;
        }
        PQclear(r);
    }
    if (PQstatus(conn_) == CONNECTION_BAD)
        return lost(SqlAnswer::Outcome::Lost, q.error.empty() ? one_line(PQerrorMessage(conn_)) : q.error);
    if (failed) q.outcome = SqlAnswer::Outcome::Failed;
    return q;
}

SqlAnswer PgsqlConnection::run(const std::string& name, const std::string& sql,
                               const std::vector<std::string_view>& params, Clock::time_point deadline) {
    bool prepared = false;
    for (const auto& p : prepared_) prepared = prepared || p == name;
    if (!prepared) {
        std::vector<Oid> types(params.size(), kTextOid);
        if (!PQsendPrepare(conn_, name.c_str(), sql.c_str(), static_cast<int>(params.size()), types.data())) {
            SqlAnswer q;
            q.outcome = SqlAnswer::Outcome::Lost;
            q.error = one_line(PQerrorMessage(conn_));
            return q;
        }
        SqlAnswer q = finish(deadline);
        if (q.outcome != SqlAnswer::Outcome::Rows) return q;
        prepared_.push_back(name);
    }
    // Text parameters are NUL-terminated C strings (the caller never sends
    // a key with a NUL in it: sql_key_unsendable).
    std::vector<std::string> copies(params.begin(), params.end());
    std::vector<const char*> values;
    for (const auto& c : copies) values.push_back(c.c_str());
    if (!PQsendQueryPrepared(conn_, name.c_str(), static_cast<int>(values.size()), values.data(), nullptr, nullptr,
                             0)) {
        SqlAnswer q;
        q.outcome = SqlAnswer::Outcome::Lost;
        q.error = one_line(PQerrorMessage(conn_));
        return q;
    }
    return finish(deadline);
}

}  // namespace rcptguard
