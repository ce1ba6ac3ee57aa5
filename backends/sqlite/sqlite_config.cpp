// sqlite_config: see sqlite_config.hpp.
#include "backends/sqlite/sqlite_config.hpp"

#include "backends/sqlite/sqlite_backend.hpp"

namespace rcptguard {

namespace {

using std::chrono::milliseconds;

const KeySpec kKeys[] = {
    {"path", "", "the SQLite database file (required)"},
    {"query", kDefaultSqliteQuery,
     "the SELECT that finds a recipient: %s the key, %u its local part, %d its domain (or one parameter, ?1)"},
    {"domain_query", "", "the SELECT that finds a domain (%s or %d), for domains = backend:NAME"},
    {"pool_size", "16", "connections kept open (1 to 64)"},
    {"busy_timeout", "2s", "how long a lookup waits for a locked database or a free connection"},
    {"idle_timeout", "5m", "connections unused this long are closed"},
};

BuiltBackend make(SectionReader& r, const BackendContext&) {
    SqliteOptions o;
    o.path = r.required("path");
    o.query = r.string("query");
    // Placeholders (%s %u %d) as for the other SQL backends, or the older
    // form with one SQLite parameter (?1, :address) for the key.
    bool placeholders = o.query.find("%s") != std::string::npos || o.query.find("%u") != std::string::npos ||
                        o.query.find("%d") != std::string::npos;
    if (placeholders) {
        if (std::string problem = o.query_template.parse(o.query, SqlDialect::Sqlite); !problem.empty())
            r.error("query", problem);
    } else if (std::string problem = SqliteBackend::check_query(o.query); !problem.empty()) {
        r.error("query", problem);
    }
    std::string domain_query = r.string("domain_query");
    if (!domain_query.empty())
        if (std::string problem = o.domain_query.parse(domain_query, SqlDialect::Sqlite); !problem.empty())
            r.error("domain_query", problem);
    o.pool_size = static_cast<int>(r.integer("pool_size", 1, 64));
    o.busy_timeout = r.duration("busy_timeout", milliseconds(0), milliseconds(10'000));
    o.idle_timeout = r.duration("idle_timeout", milliseconds(1000), milliseconds(86'400'000));
    r.finish();
    if (!r.ok()) return {};
    auto b = std::make_shared<SqliteBackend>(r.section().name, o);
    std::string query_problem;
    std::string warning = b->probe(&query_problem);
    return {b, warning, query_problem, {}};
}

}  // namespace

const BackendType kSqliteBackendType = {"sqlite", "recipients in an SQLite database", kKeys, make};

}  // namespace rcptguard
