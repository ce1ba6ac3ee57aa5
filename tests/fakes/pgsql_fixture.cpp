// pgsql_fixture: see tests/fakes/pgsql_fixture.hpp.
#include "tests/fakes/pgsql_fixture.hpp"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>

#include <chrono>
#include <libpq-fe.h>
#include <memory>
#include <stdexcept>
#include <thread>

#include "backends/pgsql/pgsql_connection.hpp"

namespace rcptguard::testing {

namespace {

constexpr char kBin[] = "/usr/lib/postgresql/15/bin/";

class SharedPgsqlEnvironment : public ::testing::Environment {
public:
    void TearDown() override { instance().reset(); }
    static std::unique_ptr<PgsqlFixture>& instance() {
        static std::unique_ptr<PgsqlFixture> fixture;
        return fixture;
    }
};

[[maybe_unused]] ::testing::Environment* const g_environment =
    ::testing::AddGlobalTestEnvironment(new SharedPgsqlEnvironment);

}  // namespace

std::string sql_quote(const std::string& text) {
    std::string out = "'";
    for (char c : text) {
        if (c == '\'') out += '\'';
        out += c;
    }
    return out + "'";
}

PgsqlFixture::PgsqlFixture() {
    // As in the daemon: no PG* variable may steer libpq, no SIGPIPE.
    pgsql_global_init();
    signal(SIGPIPE, SIG_IGN);
    chmod(dir_.path().c_str(), 0755);
    home_ = dir_.file("pg");
    mkdir(home_.c_str(), 0700);
    hand_to_user(home_, "postgres", 0700);
    port_ = free_loopback_port();
    std::string data = home_ + "/data";
    ServerProcess::run({std::string(kBin) + "initdb", "-D", data, "-U", "postgres", "-E", "UTF8", "--locale=C",
                        "--auth-local=trust", "--auth-host=scram-sha-256", "--no-instructions", "--no-sync"},
                       "postgres", dir_.file("initdb.log"));
    std::string conf = read_file(data + "/postgresql.conf");
    conf += "listen_addresses = '127.0.0.1'\nport = " + std::to_string(port_) + "\nunix_socket_directories = '" +
            home_ + "'\nfsync = off\nsynchronous_commit = on\nfull_page_writes = off\nmax_connections = 100\n";
    write_file(data + "/postgresql.conf", conf);
    start();
    exec(std::string("CREATE ROLE ") + kUser + " LOGIN PASSWORD " + sql_quote(kPassword) + ";");
    exec(std::string("CREATE DATABASE ") + kDatabase + ";");
}

PgsqlFixture::~PgsqlFixture() {
    try {
        stop();
    } catch (...) {}
}

PgsqlFixture& PgsqlFixture::shared() {
    auto& f = SharedPgsqlEnvironment::instance();
    if (!f) f = std::make_unique<PgsqlFixture>();
    return *f;
}

std::string PgsqlFixture::host() const { return "127.0.0.1:" + std::to_string(port_); }

void PgsqlFixture::start() {
    if (server_.running()) return;
    server_.start({std::string(kBin) + "postgres", "-D", home_ + "/data"}, "postgres", dir_.file("postgres.log"));
    wait_ready();
}

void PgsqlFixture::wait_ready() {
    // The port opens before recovery is over: wait for a login.
    std::string conninfo = "host=" + home_ + " port=" + std::to_string(port_) + " user=postgres dbname=postgres";
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (std::chrono::steady_clock::now() < deadline) {
        if (!server_.running())
            throw std::runtime_error("pgsql fixture: postgres exited:\n" + read_file(dir_.file("postgres.log")));
        if (PQping(conninfo.c_str()) == PQPING_OK) return;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    throw std::runtime_error("pgsql fixture: postgres did not start:\n" + read_file(dir_.file("postgres.log")));
}

void PgsqlFixture::stop() { server_.stop(SIGINT, std::chrono::seconds(30)); }

void PgsqlFixture::kill() {
    server_.kill_all();
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (loopback_port_open(port_) && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
}

void PgsqlFixture::pause() { server_.pause(); }

void PgsqlFixture::resume() { server_.resume(); }

void PgsqlFixture::exec(const std::string& sql) {
    std::string db = sql.rfind("CREATE DATABASE", 0) == 0 || sql.rfind("CREATE ROLE", 0) == 0 ? "postgres" : kDatabase;
    std::string conninfo = "host=" + home_ + " port=" + std::to_string(port_) + " user=postgres dbname=" + db;
    PGconn* c = PQconnectdb(conninfo.c_str());
    if (PQstatus(c) != CONNECTION_OK) {
        std::string e = PQerrorMessage(c);
        PQfinish(c);
        throw std::runtime_error("pgsql fixture: connect: " + e);
    }
    PGresult* r = PQexec(c, sql.c_str());
    ExecStatusType st = PQresultStatus(r);
    std::string e = PQresultErrorMessage(r);
    PQclear(r);
    PQfinish(c);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) throw std::runtime_error("pgsql fixture: " + sql + ": " + e);
}

std::vector<std::string> PgsqlFixture::column(const std::string& sql) {
    std::string conninfo = "host=" + home_ + " port=" + std::to_string(port_) + " user=postgres dbname=" + kDatabase;
    PGconn* c = PQconnectdb(conninfo.c_str());
    if (PQstatus(c) != CONNECTION_OK) {
        std::string e = PQerrorMessage(c);
        PQfinish(c);
        throw std::runtime_error("pgsql fixture: connect: " + e);
    }
    PGresult* r = PQexec(c, sql.c_str());
    std::vector<std::string> out;
    bool ok = PQresultStatus(r) == PGRES_TUPLES_OK;
    std::string e = PQresultErrorMessage(r);
    if (ok)
        for (int i = 0; i < PQntuples(r); ++i) out.emplace_back(PQgetvalue(r, i, 0));
    PQclear(r);
    PQfinish(c);
    if (!ok) throw std::runtime_error("pgsql fixture: " + sql + ": " + e);
    return out;
}

std::string PgsqlFixture::new_table(const std::vector<std::string>& rows) {
    std::string name = "t" + std::to_string(++next_table_);
    std::string sql = "CREATE TABLE " + name + " (address text NOT NULL);";
    for (const auto& r : rows) sql += "INSERT INTO " + name + " VALUES (" + sql_quote(r) + ");";
    sql += "GRANT SELECT ON " + name + " TO " + kUser + ";";
    exec(sql);
    return name;
}

}  // namespace rcptguard::testing
