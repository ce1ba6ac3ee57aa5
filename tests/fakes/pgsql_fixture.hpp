// pgsql_fixture: a real, throwaway PostgreSQL 15 for the unit tests of the
// pgsql backend (recipe: doc/testing.md, "Throwaway database servers"; what
// all such servers share: sql_server_fixture.hpp).
//
// initdb into a temporary directory, the postmaster in the foreground as our
// child on a free loopback port, its unix socket in the same directory; fsync
// off. The backend under test logs in over TCP as kUser with kPassword
// (scram-sha-256) and gets SELECT only; the fixture itself administers as the
// superuser over the socket. stop() is SIGINT (fast shutdown); kill() and
// pause() reach the postmaster and every backend process.
// Thread-safety and errors: as for SqlServerFixture.
#pragma once

#include <string>
#include <vector>

#include "tests/fakes/sql_server_fixture.hpp"

namespace rcptguard::testing {

class PgsqlFixture final : public SqlServerFixture {
public:
    static constexpr const char* kPassword = "fixture-pg-secret";

    PgsqlFixture();

    static PgsqlFixture& shared();

    void exec(const std::string& sql) override;
    std::vector<std::string> column(const std::string& sql) override;
    void grant(const std::string& table) override;

private:
    void wait_ready() override;
    std::string create_table(const std::string& name) const override {
        return "CREATE TABLE " + name + " (address text NOT NULL)";
    }
    std::string literal(const std::string& text) const override { return sql_quote(text); }
};

}  // namespace rcptguard::testing
