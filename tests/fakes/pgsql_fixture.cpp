// pgsql_fixture: see tests/fakes/pgsql_fixture.hpp.
#include "tests/fakes/pgsql_fixture.hpp"

#include <signal.h>

#include <chrono>
#include <libpq-fe.h>
#include <memory>
#include <stdexcept>
#include <thread>

#include "backends/pgsql/pgsql_connection.hpp"

namespace rcptguard::testing {

namespace {

constexpr char kBin[] = "/usr/lib/postgresql/15/bin/";

// A superuser session over the socket, closed at scope exit.
struct AdminConn {
    explicit AdminConn(const std::string& conninfo) : c(PQconnectdb(conninfo.c_str())) {
        if (PQstatus(c) != CONNECTION_OK) {
            std::string e = PQerrorMessage(c);
            PQfinish(c);
            throw std::runtime_error("pgsql fixture: connect: " + e);
        }
    }
    ~AdminConn() { PQfinish(c); }
    PGconn* c;
};

}  // namespace

PgsqlFixture::PgsqlFixture() : SqlServerFixture("pg", "postgres") {
    // As in the daemon: no PG* variable may steer libpq.
    pgsql_global_init();
    std::string data = home() + "/data";
    ServerProcess::run({std::string(kBin) + "initdb", "-D", data, "-U", "postgres", "-E", "UTF8", "--locale=C",
                        "--auth-local=trust", "--auth-host=scram-sha-256", "--no-instructions", "--no-sync"},
                       "postgres", dir().file("initdb.log"));
    std::string conf = read_file(data + "/postgresql.conf");
    conf += "listen_addresses = '127.0.0.1'\nport = " + std::to_string(port()) + "\nunix_socket_directories = '" +
            home() + "'\nfsync = off\nsynchronous_commit = on\nfull_page_writes = off\nmax_connections = 100\n";
    write_file(data + "/postgresql.conf", conf);
    command_ = {std::string(kBin) + "postgres", "-D", data};
    log_name_ = "postgres.log";
    stop_signal_ = SIGINT;
    stop_grace_ = std::chrono::seconds(30);
    start();
    exec(std::string("CREATE ROLE ") + kUser + " LOGIN PASSWORD " + sql_quote(kPassword) + ";");
    exec(std::string("CREATE DATABASE ") + kDatabase + ";");
}

PgsqlFixture& PgsqlFixture::shared() { return keep_shared<PgsqlFixture>(); }

void PgsqlFixture::wait_ready() {
    // The port opens before recovery is over: wait for a login.
    std::string conninfo = "host=" + home() + " port=" + std::to_string(port()) + " user=postgres dbname=postgres";
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (std::chrono::steady_clock::now() < deadline) {
        if (!server_running()) throw std::runtime_error("pgsql fixture: postgres exited:\n" + server_log());
        if (PQping(conninfo.c_str()) == PQPING_OK) return;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    throw std::runtime_error("pgsql fixture: postgres did not start:\n" + server_log());
}

void PgsqlFixture::exec(const std::string& sql) {
    std::string db = sql.rfind("CREATE DATABASE", 0) == 0 || sql.rfind("CREATE ROLE", 0) == 0 ? "postgres" : kDatabase;
    AdminConn a("host=" + home() + " port=" + std::to_string(port()) + " user=postgres dbname=" + db);
    PGresult* r = PQexec(a.c, sql.c_str());
    ExecStatusType st = PQresultStatus(r);
    std::string e = PQresultErrorMessage(r);
    PQclear(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) throw std::runtime_error("pgsql fixture: " + sql + ": " + e);
}

std::vector<std::string> PgsqlFixture::column(const std::string& sql) {
    AdminConn a("host=" + home() + " port=" + std::to_string(port()) + " user=postgres dbname=" + kDatabase);
    PGresult* r = PQexec(a.c, sql.c_str());
    std::vector<std::string> out;
    bool ok = PQresultStatus(r) == PGRES_TUPLES_OK;
    std::string e = PQresultErrorMessage(r);
    if (ok)
        for (int i = 0; i < PQntuples(r); ++i) out.emplace_back(PQgetvalue(r, i, 0));
    PQclear(r);
    if (!ok) throw std::runtime_error("pgsql fixture: " + sql + ": " + e);
    return out;
}

void PgsqlFixture::grant(const std::string& table) { exec("GRANT SELECT ON " + table + " TO " + kUser); }

}  // namespace rcptguard::testing
