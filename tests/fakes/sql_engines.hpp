// sql_engines: the database engines the unit tests run the SQL-server
// backend against (backends/sql_server_backend.hpp over PostgreSQL and
// MariaDB), each with its shared throwaway server and what a test needs to
// build a backend over it, so that a test is written once and instantiated
// per engine.
// Thread-safety: as for the fixtures (drive from the test's main thread).
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "backends/sql_server_backend.hpp"
#include "tests/fakes/sql_server_fixture.hpp"
#include "util/sql_template.hpp"

namespace rcptguard::testing {

struct SqlEngineUnderTest {
    std::string type;  // "pgsql", "mysql"
    SqlServerFixture& (*server)();
    std::string password;  // kUser's, on server()
    int default_port;
    SqlDialect dialect;
    std::shared_ptr<SqlServerBackend> (*make)(std::string name, SqlServerOptions opts);
    SqlConnectionOpener open;
};

SqlEngineUnderTest pgsql_engine();
SqlEngineUnderTest mysql_engine();

// Options for a backend logging in as kUser with the given password, TLS
// off: hosts (empty: the shared server), query and domain_query (may be
// empty) in the engine's dialect; throws on a bad host or query.
SqlServerOptions sql_test_options(const SqlEngineUnderTest& e, const std::vector<std::string>& hosts,
                                  const std::string& password, const std::string& query,
                                  const std::string& domain_query = "");

}  // namespace rcptguard::testing
