// sql_server_fixture: what the throwaway database servers of the unit tests
// (pgsql_fixture, mysql_fixture; recipe: doc/testing.md, "Throwaway database
// servers") have in common: a temporary directory owned by the service user,
// a free loopback port, the server as our child in the foreground
// (server_process.hpp) with start, stop, kill, pause and resume, tables named
// per test, and one shared instance per test binary.
//
// An engine fixture derives from it and supplies the engine's own part: how
// to create the data directory and the server's command line (set in its
// constructor), when a started server is ready, administration over the
// socket (exec, column), and the column type, quoting and grant of
// new_table().
//
// shared() of an engine fixture is one instance for the whole test binary,
// started on first use and stopped when the tests end. A test that stops,
// kills or freezes it must bring it back (start(), resume()) before it ends;
// tables are named per test (new_table()), so tests never see each other's
// rows.
// Thread-safety: drive a fixture from the test's main thread; lookups against
// it may come from any thread. Errors throw std::runtime_error.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "tests/fakes/server_process.hpp"
#include "tests/test_support.hpp"

namespace rcptguard::testing {

class SqlServerFixture {
public:
    static constexpr const char* kUser = "rcptguard";  // the backend's login: SELECT only
    static constexpr const char* kDatabase = "mail";

    virtual ~SqlServerFixture();
    SqlServerFixture(const SqlServerFixture&) = delete;
    SqlServerFixture& operator=(const SqlServerFixture&) = delete;

    int port() const { return port_; }
    std::string host() const;  // "127.0.0.1:PORT"

    void start();  // again after stop()/kill(): same port, same data
    void stop();   // the engine's clean shutdown signal
    void kill();   // SIGKILL the server and every child of it
    void pause();  // SIGSTOP the server and every child (every thread)
    void resume();

    // Runs SQL as the superuser in kDatabase.
    virtual void exec(const std::string& sql) = 0;
    // Runs one SELECT as the superuser; the first column of every row (NULL as "").
    virtual std::vector<std::string> column(const std::string& sql) = 0;
    // A fresh table "tN (address ...)" holding rows, readable by kUser.
    std::string new_table(const std::vector<std::string>& rows);
    // Lets kUser read table.
    virtual void grant(const std::string& table) = 0;

protected:
    // A private directory; home() (named home_name in it) owned by user.
    SqlServerFixture(const std::string& home_name, const std::string& user);

    // One instance of F, destroyed (its server stopped) after the last test.
    template <typename F>
    static F& keep_shared() {
        static F* instance = nullptr;
        if (!instance) instance = static_cast<F*>(&adopt(std::make_unique<F>()));
        return *instance;
    }

    // Waits until a started server takes logins; throws with its log if not.
    virtual void wait_ready() = 0;
    // new_table()'s "CREATE TABLE name (address ...)" and a string as an SQL
    // literal.
    virtual std::string create_table(const std::string& name) const = 0;
    virtual std::string literal(const std::string& text) const = 0;

    const TempDir& dir() const { return dir_; }
    const std::string& home() const { return home_; }
    bool server_running() { return server_.running(); }
    // "postgres.log": the server's output, in dir().
    std::string server_log() const { return read_file(dir_.file(log_name_)); }

    // Set by the engine's constructor, before its first start().
    std::vector<std::string> command_;
    std::string log_name_;
    int stop_signal_ = 15;
    std::chrono::seconds stop_grace_{30};

private:
    static SqlServerFixture& adopt(std::unique_ptr<SqlServerFixture> f);

    TempDir dir_;
    std::string home_;
    std::string user_;
    int port_ = 0;
    int next_table_ = 0;
    ServerProcess server_;
};

// Single quotes doubled, for test data written into SQL text by the fixtures.
std::string sql_quote(const std::string& text);

}  // namespace rcptguard::testing
