// sql_server_fixture: see tests/fakes/sql_server_fixture.hpp.
#include "tests/fakes/sql_server_fixture.hpp"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>

#include <thread>

namespace rcptguard::testing {

namespace {

// Stops the shared servers after the last test.
class SharedServers : public ::testing::Environment {
public:
    void TearDown() override { list().clear(); }
    static std::vector<std::unique_ptr<SqlServerFixture>>& list() {
        static std::vector<std::unique_ptr<SqlServerFixture>> servers;
        return servers;
    }
};

[[maybe_unused]] ::testing::Environment* const g_environment = ::testing::AddGlobalTestEnvironment(new SharedServers);

}  // namespace

std::string sql_quote(const std::string& text) {
    std::string out = "'";
    for (char c : text) {
        if (c == '\'') out += '\'';
        out += c;
    }
    return out + "'";
}

SqlServerFixture& SqlServerFixture::adopt(std::unique_ptr<SqlServerFixture> f) {
    SharedServers::list().push_back(std::move(f));
    return *SharedServers::list().back();
}

SqlServerFixture::SqlServerFixture(const std::string& home_name, const std::string& user) : user_(user) {
    // As in the daemon: no SIGPIPE.
    signal(SIGPIPE, SIG_IGN);
    chmod(dir_.path().c_str(), 0755);
    home_ = dir_.file(home_name);
    mkdir(home_.c_str(), 0700);
    hand_to_user(home_, user, 0700);
    port_ = free_loopback_port();
}

SqlServerFixture::~SqlServerFixture() {
    try {
        stop();
    } catch (...) {}
}

std::string SqlServerFixture::host() const { return "127.0.0.1:" + std::to_string(port_); }

void SqlServerFixture::start() {
    if (server_.running()) return;
    server_.start(command_, user_, dir_.file(log_name_));
    wait_ready();
}

void SqlServerFixture::stop() { server_.stop(stop_signal_, stop_grace_); }

void SqlServerFixture::kill() {
    server_.kill_all();
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (loopback_port_open(port_) && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
}

void SqlServerFixture::pause() { server_.pause(); }

void SqlServerFixture::resume() { server_.resume(); }

std::string SqlServerFixture::new_table(const std::vector<std::string>& rows) {
    std::string name = "t" + std::to_string(++next_table_);
    std::string sql = create_table(name) + ";";
    for (const auto& r : rows) sql += "INSERT INTO " + name + " VALUES (" + literal(r) + ");";
    exec(sql);
    grant(name);
    return name;
}

}  // namespace rcptguard::testing
