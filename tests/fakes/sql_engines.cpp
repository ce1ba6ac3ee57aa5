// sql_engines: see tests/fakes/sql_engines.hpp.
#include "tests/fakes/sql_engines.hpp"

#include <stdexcept>

#include "backends/mysql/mysql_backend.hpp"
#include "backends/mysql/mysql_connection.hpp"
#include "backends/pgsql/pgsql_backend.hpp"
#include "backends/pgsql/pgsql_connection.hpp"
#include "tests/fakes/mysql_fixture.hpp"
#include "tests/fakes/pgsql_fixture.hpp"

namespace rcptguard::testing {

SqlEngineUnderTest pgsql_engine() {
    return {"pgsql",
            []() -> SqlServerFixture& { return PgsqlFixture::shared(); },
            PgsqlFixture::kPassword,
            5432,
            SqlDialect::Postgres,
            make_pgsql_backend,
            &PgsqlConnection::open};
}

SqlEngineUnderTest mysql_engine() {
    return {"mysql",
            []() -> SqlServerFixture& { return MysqlFixture::shared(); },
            MysqlFixture::kPassword,
            3306,
            SqlDialect::MySql,
            make_mysql_backend,
            &MysqlConnection::open};
}

SqlServerOptions sql_test_options(const SqlEngineUnderTest& e, const std::vector<std::string>& hosts,
                                  const std::string& password, const std::string& query,
                                  const std::string& domain_query) {
    SqlServerOptions o;
    for (const auto& h : hosts.empty() ? std::vector<std::string>{e.server().host()} : hosts) {
        ServerAddress a;
        if (std::string p = parse_server_address(h, e.default_port, &a); !p.empty()) throw std::runtime_error(p);
        o.hosts.push_back(a);
    }
    o.connection.dbname = SqlServerFixture::kDatabase;
    o.connection.user = SqlServerFixture::kUser;
    o.connection.password = password;
    o.connection.tls = SqlTls::Off;
    if (std::string p = o.query.parse(query, e.dialect); !p.empty()) throw std::runtime_error(p);
    if (!domain_query.empty())
        if (std::string p = o.domain_query.parse(domain_query, e.dialect); !p.empty()) throw std::runtime_error(p);
    return o;
}

}  // namespace rcptguard::testing
