// sqlite_config: see sqlite_config.hpp.
#include "backends/sqlite/sqlite_config.hpp"

#include "backends/sqlite/sqlite_backend.hpp"

namespace rcptguard {

namespace {

using std::chrono::milliseconds;

const KeySpec kKeys[] = {
    {"path", "", "the SQLite database file (required)"},
    {"query", kDefaultSqliteQuery, "the SELECT that finds a key, with one parameter (?1) for it"},
    {"pool_size", "4", "connections kept open (1 to 64)"},
    {"busy_timeout", "2s", "how long a lookup waits for a locked database or a free connection"},
    {"idle_timeout", "5m", "connections unused this long are closed"},
};

BuiltBackend make(SectionReader& r, const BackendContext&) {
    SqliteOptions o;
    o.path = r.required("path");
    o.query = r.string("query");
    if (std::string problem = SqliteBackend::check_query(o.query); !problem.empty()) r.error("query", problem);
    o.pool_size = static_cast<int>(r.integer("pool_size", 1, 64));
    o.busy_timeout = r.duration("busy_timeout", milliseconds(0), milliseconds(10'000));
    o.idle_timeout = r.duration("idle_timeout", milliseconds(1000), milliseconds(86'400'000));
    r.finish();
    if (!r.ok()) return {};
    auto b = std::make_shared<SqliteBackend>(r.section().name, o);
    return {b, b->probe()};
}

}  // namespace

const BackendType kSqliteBackendType = {"sqlite", "recipients in an SQLite database", kKeys, make};

}  // namespace rcptguard
