// mysql_fixture: see tests/fakes/mysql_fixture.hpp.
#include "tests/fakes/mysql_fixture.hpp"

#include <mysql.h>
#include <signal.h>

#include <chrono>
#include <memory>
#include <stdexcept>
#include <thread>

#include "backends/mysql/mysql_connection.hpp"

namespace rcptguard::testing {

namespace {

// A root session over the socket, closed at scope exit.
struct AdminConn {
    explicit AdminConn(const std::string& socket, const char* db) {
        m = mysql_init(nullptr);
        unsigned int protocol = MYSQL_PROTOCOL_SOCKET;
        mysql_optionsv(m, MYSQL_OPT_PROTOCOL, &protocol);
        if (!mysql_real_connect(m, "localhost", "root", nullptr, db, 0, socket.c_str(), CLIENT_MULTI_STATEMENTS)) {
            std::string e = mysql_error(m);
            mysql_close(m);
            m = nullptr;
            throw std::runtime_error("mysql fixture: connect: " + e);
        }
    }
    ~AdminConn() {
        if (m) mysql_close(m);
    }
    MYSQL* m = nullptr;
};

}  // namespace

MysqlFixture::MysqlFixture() : SqlServerFixture("mariadb", "mysql") {
    mysql_global_init();
    std::string data = home() + "/data";
    ServerProcess::run(
        {"mariadb-install-db", "--no-defaults", "--datadir=" + data, "--auth-root-authentication-method=normal",
         "--skip-test-db", "--innodb-log-file-size=8M", "--innodb-buffer-pool-size=32M"},
        "mysql", dir().file("install.log"));
    command_ = {"mariadbd",
                "--no-defaults",
                "--datadir=" + data,
                "--socket=" + home() + "/mysqld.sock",
                "--port=" + std::to_string(port()),
                "--bind-address=127.0.0.1",
                "--skip-name-resolve",
                "--pid-file=" + home() + "/mariadbd.pid",
                "--innodb-log-file-size=8M",
                "--innodb-buffer-pool-size=32M",
                "--innodb-flush-log-at-trx-commit=2",
                "--innodb-doublewrite=0",
                "--skip-log-bin",
                "--max-connections=200"};
    log_name_ = "mariadbd.log";
    stop_signal_ = SIGTERM;
    stop_grace_ = std::chrono::seconds(60);
    start();
    exec(std::string("CREATE DATABASE ") + kDatabase + "; CREATE USER '" + kUser + "'@'127.0.0.1' IDENTIFIED BY " +
         sql_quote(kPassword) + ";");
}

MysqlFixture& MysqlFixture::shared() { return keep_shared<MysqlFixture>(); }

void MysqlFixture::wait_ready() {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (std::chrono::steady_clock::now() < deadline) {
        if (!server_running()) throw std::runtime_error("mysql fixture: mariadbd exited:\n" + server_log());
        if (loopback_port_open(port())) {
            try {
                AdminConn c(home() + "/mysqld.sock", nullptr);
                return;
            } catch (const std::exception&) {}
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    throw std::runtime_error("mysql fixture: mariadbd did not start:\n" + server_log());
}

void MysqlFixture::exec(const std::string& sql) {
    bool create_db = sql.rfind("CREATE DATABASE", 0) == 0;
    AdminConn c(home() + "/mysqld.sock", create_db ? nullptr : kDatabase);
    if (mysql_query(c.m, sql.c_str()) != 0)
        throw std::runtime_error("mysql fixture: " + sql.substr(0, 200) + ": " + mysql_error(c.m));
    // Every statement's result must be read before the next.
    do {
        MYSQL_RES* r = mysql_store_result(c.m);
        if (r) mysql_free_result(r);
        if (mysql_errno(c.m) != 0) throw std::runtime_error(std::string("mysql fixture: ") + mysql_error(c.m));
    } while (mysql_next_result(c.m) == 0);
    if (mysql_errno(c.m) != 0) throw std::runtime_error(std::string("mysql fixture: ") + mysql_error(c.m));
}

std::vector<std::string> MysqlFixture::column(const std::string& sql) {
    AdminConn c(home() + "/mysqld.sock", kDatabase);
    if (mysql_query(c.m, sql.c_str()) != 0)
        throw std::runtime_error("mysql fixture: " + sql.substr(0, 200) + ": " + mysql_error(c.m));
    MYSQL_RES* r = mysql_store_result(c.m);
    if (!r) throw std::runtime_error("mysql fixture: " + sql.substr(0, 200) + ": no result");
    std::vector<std::string> out;
    while (MYSQL_ROW row = mysql_fetch_row(r)) out.emplace_back(row[0] ? row[0] : "");
    mysql_free_result(r);
    return out;
}

std::string MysqlFixture::literal(const std::string& text) const {
    // MariaDB also reads backslash escapes inside quotes.
    std::string escaped;
    for (char ch : sql_quote(text)) {
        if (ch == '\\') escaped += '\\';
        escaped += ch;
    }
    return escaped;
}

void MysqlFixture::grant(const std::string& table) {
    exec(std::string("GRANT SELECT ON ") + kDatabase + "." + table + " TO '" + kUser + "'@'127.0.0.1'");
}

}  // namespace rcptguard::testing
