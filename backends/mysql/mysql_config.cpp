// mysql_config: see mysql_config.hpp.
#include "backends/mysql/mysql_config.hpp"

#include "backends/mysql/mysql_backend.hpp"
#include "backends/sql_server_config.hpp"

namespace rcptguard {

namespace {

// Connector/C counts its timeouts in whole seconds.
constexpr auto kKeys = sql_server_keys({
    .hosts = "servers as host[:port] or a socket path, tried in order (required)",
    .connect_timeout = "per host: connect, TLS and login (whole seconds)",
    .query_timeout = "one lookup (and the wait for a free connection; whole seconds)",
});

const SqlServerEngine kEngine = {
    .default_port = 3306,
    .hosts_required = "required: one or more of host, host:port, [v6-address]:port or /path/to/socket",
    .dialect = SqlDialect::MySql,
    .make = make_mysql_backend,
};

BuiltBackend make(SectionReader& r, const BackendContext&) { return make_sql_server_backend(r, kEngine); }

}  // namespace

const BackendType kMysqlBackendType = {
    "mysql", "recipients and domains in MariaDB or MySQL, with the site's own queries", kKeys, make};

}  // namespace rcptguard
