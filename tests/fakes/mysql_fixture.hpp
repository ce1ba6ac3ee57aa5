// mysql_fixture: a real, throwaway MariaDB for the unit tests of the mysql
// backend (recipe: doc/testing.md, "Throwaway database servers").
//
// mariadb-install-db into a temporary directory, mariadbd --no-defaults in
// the foreground as our child (server_process.hpp) on a free loopback port,
// its unix socket in the same directory. The backend under test logs in over
// TCP as kUser with kPassword and gets SELECT only; the fixture itself
// administers as root over the socket.
//
// shared() is one instance for the whole test binary, started on first use
// and stopped when the tests end. A test that stops, kills or freezes it must
// bring it back (start(), resume()) before it ends; tables are named per test
// (new_table()), so tests never see each other's rows.
// Thread-safety: drive a fixture from the test's main thread; lookups against
// it may come from any thread. Errors throw std::runtime_error.
#pragma once

#include <string>
#include <vector>

#include "tests/fakes/server_process.hpp"
#include "tests/test_support.hpp"

namespace rcptguard::testing {

class MysqlFixture {
public:
    static constexpr const char* kUser = "rcptguard";
    static constexpr const char* kPassword = "fixture-my-secret";
    static constexpr const char* kDatabase = "mail";

    MysqlFixture();
    ~MysqlFixture();
    MysqlFixture(const MysqlFixture&) = delete;
    MysqlFixture& operator=(const MysqlFixture&) = delete;

    static MysqlFixture& shared();

    int port() const { return port_; }
    std::string host() const;  // "127.0.0.1:PORT"

    void start();  // again after stop()/kill(): same port, same data
    void stop();   // SIGTERM: clean shutdown
    void kill();   // SIGKILL
    void pause();  // SIGSTOP (every thread)
    void resume();

    // Runs SQL (several statements) as root in kDatabase.
    void exec(const std::string& sql);
    // Runs one SELECT as the root; the first column of every row (NULL as "").
    std::vector<std::string> column(const std::string& sql);
    // A fresh table "tN (address varchar(1100))" holding rows, readable by kUser.
    std::string new_table(const std::vector<std::string>& rows);

private:
    void wait_ready();

    TempDir dir_;
    std::string home_;  // owned by mysql
    std::vector<std::string> args_;
    int port_ = 0;
    int next_table_ = 0;
    ServerProcess server_;
};

}  // namespace rcptguard::testing
