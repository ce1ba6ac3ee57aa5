// sql_server_backend: see sql_server_backend.hpp. Pool and retry rules as
// for LDAP (doc/platform.md §8.4, §8.5, §8.6): independent connections, a
// bounded wait, a dead pooled connection retried once on a new one,
// otherwise TempFail - never a guess.
#include "backends/sql_server_backend.hpp"

#include "util/duration.hpp"
#include "util/log.hpp"
#include "util/text.hpp"

namespace rcptguard {

namespace {

// A key and a domain no database holds (RFC 2606 reserves .invalid).
constexpr char kProbeKey[] = "rcptguard-probe@invalid";
constexpr char kProbeDomain[] = "invalid";

std::vector<std::string_view> bind_values(const SqlTemplate& t, const SqlKeyParts& k) {
    std::vector<std::string_view> v;
    for (SqlParam p : t.params()) v.push_back(sql_param_value(p, k));
    return v;
}

}  // namespace

bool sql_key_unsendable(std::string_view key) {
    return key.find('\0') != std::string_view::npos || !is_valid_utf8(key);
}

SqlServerBackend::SqlServerBackend(std::string name, std::string type, SqlServerOptions opts, SqlConnectionOpener open)
    : Backend(std::move(name), std::move(type)),
      opts_(std::move(opts)),
      open_(std::move(open)),
      health_(opts_.retry_after),
      pool_(opts_.pool_size, opts_.idle_timeout) {
    for (std::size_t n = 1; n <= kMaxKeysAtOnce; ++n)
        exists_sql_[n] = opts_.query.exists_statement(static_cast<int>(n));
    if (!opts_.domain_query.empty()) domain_sql_ = opts_.domain_query.exists_statement(1);
}

SqlServerBackend::~SqlServerBackend() = default;

std::unique_ptr<SqlConnection> SqlServerBackend::open_any(std::string* error, bool use_health) const {
    std::string failures;
    for (const ServerAddress& host : opts_.hosts) {
        std::string where = host.to_string();
        auto now = HostHealth::Clock::now();
        std::string why;
        if (use_health && !health_.may_try(where, now, &why)) {
            failures += (failures.empty() ? "" : "; ") + where + ": " + why;
            continue;
        }
        std::string err;
        auto conn = open_(opts_.connection, host, SqlConnection::Clock::now() + opts_.connection.connect_timeout, &err);
        if (conn) {
            if (use_health) health_.succeeded(where);
            if (!failures.empty() && use_health)
                log_warning("backend " + name() + ": " + failures + "; using " + where);
            return conn;
        }
        if (use_health) health_.failed(where, err, HostHealth::Clock::now());
        failures += (failures.empty() ? "" : "; ") + where + ": " + err;
    }
    *error = failures.empty() ? std::string("no hosts") : failures;
    return nullptr;
}

SqlServerBackend::Pool::Lease SqlServerBackend::checkout(std::string* error) const {
    auto deadline = std::chrono::steady_clock::now() + opts_.connection.query_timeout;
    Pool::Lease c = pool_.checkout(
        deadline, [this](std::string* e) { return open_any(e, true); }, error);
    if (!c && error->find("(pool_size)") != std::string::npos)
        *error = "all " + std::to_string(opts_.pool_size) + " connections busy for " +
                 format_duration(opts_.connection.query_timeout) + " (pool_size)";
    return c;
}

bool SqlServerBackend::ask(const std::string& stmt, const std::string& sql, const std::vector<std::string_view>& values,
                           std::vector<bool>* row, std::string* error) const {
    std::string earlier;  // the first attempt's failure, when retrying
    auto fail = [&](const std::string& why) {
        *error = earlier.empty() ? why : earlier + "; retried on a new connection: " + why;
        return false;
    };
    for (int attempt = 0; attempt < 2; ++attempt) {
        std::string err;
        Pool::Lease c = checkout(&err);
        if (!c) return fail(err);
        SqlAnswer q = c->run(stmt, sql, values, SqlConnection::Clock::now() + opts_.connection.query_timeout);
        std::string where = c->host() + ": ";
        switch (q.outcome) {
            case SqlAnswer::Outcome::Rows:
                if (q.rows != 1) return fail(where + "the lookup returned " + std::to_string(q.rows) + " rows, not 1");
                *row = std::move(q.first_row);
                return true;
            case SqlAnswer::Outcome::Failed:
                // The server answered: the connection is fine, the answer is
                // not a verdict (no such table, permission, statement_timeout).
                return fail(where + q.error);
            case SqlAnswer::Outcome::TimedOut:
                // A hung server: skip it for retry_after, and do not wait
                // for it a second time in this lookup.
                health_.failed(c->host(), q.error, HostHealth::Clock::now());
                c.discard(true);
                return fail(where + q.error);
            case SqlAnswer::Outcome::Lost: {
                bool retry = c.reused() && attempt == 0;
                if (!c.reused()) health_.failed(c->host(), q.error, HostHealth::Clock::now());
                c.discard(true);
                if (!retry) return fail(where + q.error);
                earlier = where + q.error;
                break;
            }
        }
    }
    return fail("retry failed");
}

LookupResult SqlServerBackend::lookup(std::string_view key) const noexcept {
    try {
        std::vector<std::string> keys{std::string(key)};
        return lookup_any(keys, nullptr);
    } catch (...) {
        return LookupResult::tempfail("out of memory");
    }
}

LookupResult SqlServerBackend::lookup_any(const std::vector<std::string>& keys, std::size_t* matched) const noexcept {
    if (keys.size() > kMaxKeysAtOnce) return Backend::lookup_any(keys, matched);
    try {
        std::vector<std::size_t> asked;  // indexes of the keys sent
        std::vector<std::string_view> values;
        for (std::size_t i = 0; i < keys.size(); ++i) {
            if (sql_key_unsendable(keys[i])) continue;
            asked.push_back(i);
            for (std::string_view v : bind_values(opts_.query, split_sql_key(keys[i]))) values.push_back(v);
        }
        if (asked.empty()) return LookupResult::not_found();
        std::size_t n = asked.size();
        std::vector<bool> row;
        std::string error;
        if (!ask("rcptguard_q" + std::to_string(n), exists_sql_[n], values, &row, &error))
            return LookupResult::tempfail(error);
        if (row.size() != n) return LookupResult::tempfail("unexpected answer to the lookup");
        for (std::size_t j = 0; j < n; ++j) {
            if (row[j]) {
                if (matched) *matched = asked[j];
                return LookupResult::found();
            }
        }
        return LookupResult::not_found();
    } catch (...) {
        return LookupResult::tempfail("out of memory");
    }
}

LookupResult SqlServerBackend::lookup_domain(std::string_view domain) const noexcept {
    try {
        if (opts_.domain_query.empty()) return Backend::lookup_domain(domain);
        if (sql_key_unsendable(domain)) return LookupResult::not_found();
        SqlKeyParts parts{domain, {}, domain};
        std::vector<bool> row;
        std::string error;
        if (!ask("rcptguard_d", domain_sql_, bind_values(opts_.domain_query, parts), &row, &error))
            return LookupResult::tempfail("domain_query: " + error);
        if (row.size() != 1) return LookupResult::tempfail("unexpected answer to domain_query");
        return row[0] ? LookupResult::found() : LookupResult::not_found();
    } catch (...) {
        return LookupResult::tempfail("out of memory");
    }
}

void SqlServerBackend::maintain() noexcept { pool_.close_idle(Pool::Clock::now()); }

SqlServerBackend::Probe SqlServerBackend::probe() const {
    Probe p;
    std::string error;
    // Not recorded in health_: the probe is a diagnosis; the first lookup
    // meets the servers itself.
    std::unique_ptr<SqlConnection> conn = open_any(&error, false);
    if (!conn) {
        p.warning = error;
        return p;
    }
    auto check = [&](const char* what, const std::string& stmt, const std::string& sql,
                     const std::vector<std::string_view>& values) {
        SqlAnswer q = conn->run(stmt, sql, values, SqlConnection::Clock::now() + opts_.connection.connect_timeout);
        if (q.outcome == SqlAnswer::Outcome::Failed) {
            if (!p.query_problem.empty()) p.query_problem += "; ";
            p.query_problem += std::string(what) + ": " + conn->host() + ": " + q.error;
        } else if (q.outcome != SqlAnswer::Outcome::Rows) {
            p.warning = conn->host() + ": " + q.error;
        }
        return q.outcome == SqlAnswer::Outcome::Rows || q.outcome == SqlAnswer::Outcome::Failed;
    };
    bool usable = check("query", "rcptguard_q1", exists_sql_[1], bind_values(opts_.query, split_sql_key(kProbeKey)));
    if (usable && !opts_.domain_query.empty())
        usable = check("domain_query", "rcptguard_d", domain_sql_,
                       bind_values(opts_.domain_query, SqlKeyParts{kProbeDomain, {}, kProbeDomain}));
    if (usable) pool_.add_idle(std::move(conn));
    return p;
}

}  // namespace rcptguard
