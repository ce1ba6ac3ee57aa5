// pgsql_backend: see pgsql_backend.hpp.
#include "backends/pgsql/pgsql_backend.hpp"

#include "backends/pgsql/pgsql_connection.hpp"

namespace rcptguard {

std::shared_ptr<SqlServerBackend> make_pgsql_backend(std::string name, SqlServerOptions opts) {
    return std::make_shared<SqlServerBackend>(std::move(name), "pgsql", std::move(opts), &PgsqlConnection::open);
}

}  // namespace rcptguard
