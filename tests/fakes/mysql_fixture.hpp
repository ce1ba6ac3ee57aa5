// mysql_fixture: a real, throwaway MariaDB for the unit tests of the mysql
// backend (recipe: doc/testing.md, "Throwaway database servers"; what all
// such servers share: sql_server_fixture.hpp).
//
// mariadb-install-db into a temporary directory, mariadbd --no-defaults in
// the foreground as our child on a free loopback port, its unix socket in the
// same directory. The backend under test logs in over TCP as kUser with
// kPassword and gets SELECT only; the fixture itself administers as root over
// the socket (exec() takes several statements). stop() is SIGTERM (clean
// shutdown); pause() stops every thread.
// Thread-safety and errors: as for SqlServerFixture.
#pragma once

#include <string>
#include <vector>

#include "tests/fakes/sql_server_fixture.hpp"

namespace rcptguard::testing {

class MysqlFixture final : public SqlServerFixture {
public:
    static constexpr const char* kPassword = "fixture-my-secret";

    MysqlFixture();

    static MysqlFixture& shared();

    void exec(const std::string& sql) override;
    std::vector<std::string> column(const std::string& sql) override;
    void grant(const std::string& table) override;

private:
    void wait_ready() override;
    std::string create_table(const std::string& name) const override {
        return "CREATE TABLE " + name + " (address varchar(1100) NOT NULL) DEFAULT CHARSET utf8mb4";
    }
    std::string literal(const std::string& text) const override;
};

}  // namespace rcptguard::testing
