// pgsql_fixture: a real, throwaway PostgreSQL 15 for the unit tests of the
// pgsql backend (recipe: doc/testing.md, "Throwaway database servers").
//
// initdb into a temporary directory, the postmaster in the foreground as our
// child (server_process.hpp) on a free loopback port, its unix socket in the
// same directory; fsync off. The backend under test logs in over TCP as
// kUser with kPassword (scram-sha-256) and gets SELECT only; the fixture
// itself administers as the superuser over the socket.
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

class PgsqlFixture {
public:
    static constexpr const char* kUser = "rcptguard";
    static constexpr const char* kPassword = "fixture-pg-secret";
    static constexpr const char* kDatabase = "mail";

    PgsqlFixture();
    ~PgsqlFixture();
    PgsqlFixture(const PgsqlFixture&) = delete;
    PgsqlFixture& operator=(const PgsqlFixture&) = delete;

    static PgsqlFixture& shared();

    int port() const { return port_; }
    std::string host() const;  // "127.0.0.1:PORT"

    void start();  // again after stop()/kill(): same port, same data
    void stop();   // SIGINT: fast shutdown
    void kill();   // SIGKILL the postmaster and every backend
    void pause();  // SIGSTOP the postmaster and every backend
    void resume();

    // Runs SQL as the superuser in kDatabase.
    void exec(const std::string& sql);
    // Runs one SELECT as the superuser; the first column of every row (NULL as "").
    std::vector<std::string> column(const std::string& sql);
    // A fresh table "tN (address text)" holding rows, readable by kUser.
    std::string new_table(const std::vector<std::string>& rows);

private:
    void wait_ready();

    TempDir dir_;
    std::string home_;  // owned by postgres
    int port_ = 0;
    int next_table_ = 0;
    ServerProcess server_;
};

// Single quotes doubled, for test data written into SQL text by the fixtures.
std::string sql_quote(const std::string& text);

}  // namespace rcptguard::testing
