// mysql_backend: see mysql_backend.hpp.
#include "backends/mysql/mysql_backend.hpp"

#include "backends/mysql/mysql_connection.hpp"

namespace rcptguard {

std::shared_ptr<SqlServerBackend> make_mysql_backend(std::string name, SqlServerOptions opts) {
    return std::make_shared<SqlServerBackend>(std::move(name), "mysql", std::move(opts), &MysqlConnection::open);
}

}  // namespace rcptguard
