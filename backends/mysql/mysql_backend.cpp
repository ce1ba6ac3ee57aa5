// mysql_backend: see mysql_backend.hpp. Pool and retry rules as for LDAP
// (doc/platform.md §8.4, §8.5): independent connections, a bounded wait,
// a dead pooled connection retried once on a new one, otherwise TempFail -
// never a guess.
#include "backends/mysql/mysql_backend.hpp"

#include "util/duration.hpp"
#include "util/log.hpp"

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

MysqlBackend::MysqlBackend(std::string name, MysqlOptions opts)
    : Backend(std::move(name), "mysql"),
      opts_(std::move(opts)),
      health_(opts_.retry_after),
      pool_(opts_.pool_size, opts_.idle_timeout) {
    for (std::size_t n = 1; n <= kMaxKeysAtOnce; ++n)
        exists_sql_[n] = opts_.query.exists_statement(static_cast<int>(n));
    if (!opts_.domain_query.empty()) domain_sql_ = opts_.domain_query.exists_statement(1);
}

MysqlBackend::~MysqlBackend() = default;

std::unique_ptr<MysqlConnection> MysqlBackend::open_any(std::string* error, bool use_health) const {
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
        auto conn = MysqlConnection::open(opts_.connection, host, &err);
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

MysqlBackend::Pool::Lease MysqlBackend::checkout(std::string* error) const {
    auto deadline = std::chrono::steady_clock::now() + opts_.connection.query_timeout;
    Pool::Lease c = pool_.checkout(
        deadline, [this](std::string* e) { return open_any(e, true); }, error);
    if (!c && error->find("(pool_size)") != std::string::npos)
        *error = "all " + std::to_string(opts_.pool_size) + " connections busy for " +
                 format_duration(opts_.connection.query_timeout) + " (pool_size)";
    return c;
}

bool MysqlBackend::ask(const std::string& stmt, const std::string& sql, const std::vector<std::string_view>& values,
                       std::vector<long long>* row, std::string* error) const {
    std::string earlier;  // the first attempt's failure, when retrying
    auto fail = [&](const std::string& why) {
        *error = earlier.empty() ? why : earlier + "; retried on a new connection: " + why;
        return false;
    };
    for (int attempt = 0; attempt < 2; ++attempt) {
        std::string err;
        Pool::Lease c = checkout(&err);
        if (!c) return fail(err);
        MysqlQuery q = c->run(stmt, sql, values);
        std::string where = c->host() + ": ";
        switch (q.outcome) {
            case MysqlQuery::Outcome::Rows:
                if (q.rows != 1) return fail(where + "the lookup returned " + std::to_string(q.rows) + " rows, not 1");
                *row = std::move(q.first_row);
                return true;
            case MysqlQuery::Outcome::Failed:
                // The server answered: the connection is fine, the answer is
                // not a verdict (no such table, permission, statement_timeout).
                return fail(where + q.error);
            case MysqlQuery::Outcome::TimedOut:
                // A hung server: skip it for retry_after, and do not wait
                // for it a second time in this lookup.
                health_.failed(c->host(), q.error, HostHealth::Clock::now());
                c.discard(true);
                return fail(where + q.error);
            case MysqlQuery::Outcome::Lost: {
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

LookupResult MysqlBackend::lookup(std::string_view key) const noexcept {
    try {
        std::vector<std::string> keys{std::string(key)};
        return lookup_any(keys, nullptr);
    } catch (...) {
        return LookupResult::tempfail("out of memory");
    }
}

LookupResult MysqlBackend::lookup_any(const std::vector<std::string>& keys, std::size_t* matched) const noexcept {
    if (keys.size() > kMaxKeysAtOnce) return Backend::lookup_any(keys, matched);
    try {
        std::vector<std::size_t> asked;  // indexes of the keys sent
        std::vector<std::string_view> values;
        for (std::size_t i = 0; i < keys.size(); ++i) {
            if (mysql_key_unsendable(keys[i])) continue;
            asked.push_back(i);
            for (std::string_view v : bind_values(opts_.query, split_sql_key(keys[i]))) values.push_back(v);
        }
        if (asked.empty()) return LookupResult::not_found();
        std::size_t n = asked.size();
        std::vector<long long> row;
        std::string error;
        if (!ask("rcptguard_q" + std::to_string(n), exists_sql_[n], values, &row, &error))
            return LookupResult::tempfail(error);
        if (row.size() != n) return LookupResult::tempfail("unexpected answer to the lookup");
        for (std::size_t j = 0; j < n; ++j) {
            if (row[j] != 0) {
                if (matched) *matched = asked[j];
                return LookupResult::found();
            }
        }
        return LookupResult::not_found();
    } catch (...) {
        return LookupResult::tempfail("out of memory");
    }
}

LookupResult MysqlBackend::lookup_domain(std::string_view domain) const noexcept {
    try {
        if (opts_.domain_query.empty()) return Backend::lookup_domain(domain);
        if (mysql_key_unsendable(domain)) return LookupResult::not_found();
        SqlKeyParts parts{domain, {}, domain};
        std::vector<long long> row;
        std::string error;
        if (!ask("rcptguard_d", domain_sql_, bind_values(opts_.domain_query, parts), &row, &error))
            return LookupResult::tempfail("domain_query: " + error);
        if (row.size() != 1) return LookupResult::tempfail("unexpected answer to domain_query");
        return row[0] != 0 ? LookupResult::found() : LookupResult::not_found();
    } catch (...) {
        return LookupResult::tempfail("out of memory");
    }
}

void MysqlBackend::maintain() noexcept { pool_.close_idle(Pool::Clock::now()); }

MysqlBackend::Probe MysqlBackend::probe() const {
    Probe p;
    std::string error;
    // Not recorded in health_: the probe is a diagnosis; the first lookup
    // meets the servers itself.
    std::unique_ptr<MysqlConnection> conn = open_any(&error, false);
    if (!conn) {
        p.warning = error;
        return p;
    }
    auto check = [&](const char* what, const std::string& stmt, const std::string& sql,
                     const std::vector<std::string_view>& values) {
        MysqlQuery q = conn->run(stmt, sql, values);
        if (q.outcome == MysqlQuery::Outcome::Failed) {
            if (!p.query_problem.empty()) p.query_problem += "; ";
            p.query_problem += std::string(what) + ": " + conn->host() + ": " + q.error;
        } else if (q.outcome != MysqlQuery::Outcome::Rows) {
            p.warning = conn->host() + ": " + q.error;
        }
        return q.outcome == MysqlQuery::Outcome::Rows || q.outcome == MysqlQuery::Outcome::Failed;
    };
    bool usable = check("query", "rcptguard_q1", exists_sql_[1], bind_values(opts_.query, split_sql_key(kProbeKey)));
    if (usable && !opts_.domain_query.empty())
        usable = check("domain_query", "rcptguard_d", domain_sql_,
                       bind_values(opts_.domain_query, SqlKeyParts{kProbeDomain, {}, kProbeDomain}));
    if (usable) pool_.add_idle(std::move(conn));
    return p;
}

}  // namespace rcptguard
