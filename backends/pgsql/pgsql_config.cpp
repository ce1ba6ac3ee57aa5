// pgsql_config: see pgsql_config.hpp.
#include "backends/pgsql/pgsql_config.hpp"

#include "backends/pgsql/pgsql_backend.hpp"
#include "backends/sql_server_config.hpp"

namespace rcptguard {

namespace {

constexpr auto kKeys = sql_server_keys({
    .hosts = "servers as host[:port] or a socket directory, tried in order (required)",
    .connect_timeout = "per host: connect, TLS and login",
    .query_timeout = "one lookup (and the wait for a free connection)",
});

const SqlServerEngine kEngine = {
    .default_port = 5432,
    .hosts_required = "required: one or more of host, host:port, [v6-address]:port or /socket/dir",
    .dialect = SqlDialect::Postgres,
    .make = make_pgsql_backend,
};

BuiltBackend make(SectionReader& r, const BackendContext&) { return make_sql_server_backend(r, kEngine); }

}  // namespace

const BackendType kPgsqlBackendType = {"pgsql", "recipients and domains in PostgreSQL, with the site's own queries",
                                       kKeys, make};

}  // namespace rcptguard
