// mysql_fixture: see tests/fakes/mysql_fixture.hpp.
#include "tests/fakes/mysql_fixture.hpp"

#include <gtest/gtest.h>
#include <mysql.h>
#include <signal.h>
#include <sys/stat.h>

#include <chrono>
#include <memory>
#include <stdexcept>
#include <thread>

#include "backends/mysql/mysql_connection.hpp"
#include "tests/fakes/pgsql_fixture.hpp"

namespace rcptguard::testing {

namespace {

class SharedMysqlEnvironment : public ::testing::Environment {
public:
    void TearDown() override { instance().reset(); }
    static std::unique_ptr<MysqlFixture>& instance() {
        static std::unique_ptr<MysqlFixture> fixture;
        return fixture;
    }
};

[[maybe_unused]] ::testing::Environment* const g_environment =
    ::testing::AddGlobalTestEnvironment(new SharedMysqlEnvironment);

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

MysqlFixture::MysqlFixture() {
    mysql_global_init();
    signal(SIGPIPE, SIG_IGN);
    chmod(dir_.path().c_str(), 0755);
    home_ = dir_.file("mariadb");
    mkdir(home_.c_str(), 0700);
    hand_to_user(home_, "mysql", 0700);
    port_ = free_loopback_port();
    std::string data = home_ + "/data";
    ServerProcess::run(
        {"mariadb-install-db", "--no-defaults", "--datadir=" + data, "--auth-root-authentication-method=normal",
         "--skip-test-db", "--innodb-log-file-size=8M", "--innodb-buffer-pool-size=32M"},
        "mysql", dir_.file("install.log"));
    args_ = {"mariadbd",
             "--no-defaults",
             "--datadir=" + data,
             "--socket=" + home_ + "/mysqld.sock",
             "--port=" + std::to_string(port_),
             "--bind-address=127.0.0.1",
             "--skip-name-resolve",
             "--pid-file=" + home_ + "/mariadbd.pid",
             "--innodb-log-file-size=8M",
             "--innodb-buffer-pool-size=32M",
             "--innodb-flush-log-at-trx-commit=2",
             "--innodb-doublewrite=0",
             "--skip-log-bin",
             "--max-connections=200"};
    start();
    exec(std::string("CREATE DATABASE ") + kDatabase + "; CREATE USER '" + kUser + "'@'127.0.0.1' IDENTIFIED BY " +
         sql_quote(kPassword) + ";");
}

MysqlFixture::~MysqlFixture() {
    try {
        stop();
    } catch (...) {}
}

MysqlFixture& MysqlFixture::shared() {
    auto& f = SharedMysqlEnvironment::instance();
    if (!f) f = std::make_unique<MysqlFixture>();
    return *f;
}

std::string MysqlFixture::host() const { return "127.0.0.1:" + std::to_string(port_); }

void MysqlFixture::start() {
    if (server_.running()) return;
    server_.start(args_, "mysql", dir_.file("mariadbd.log"));
    wait_ready();
}

void MysqlFixture::wait_ready() {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (std::chrono::steady_clock::now() < deadline) {
        if (!server_.running())
            throw std::runtime_error("mysql fixture: mariadbd exited:\n" + read_file(dir_.file("mariadbd.log")));
        if (loopback_port_open(port_)) {
            try {
                AdminConn c(home_ + "/mysqld.sock", nullptr);
                return;
            } catch (const std::exception&) {}
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    throw std::runtime_error("mysql fixture: mariadbd did not start:\n" + read_file(dir_.file("mariadbd.log")));
}

void MysqlFixture::stop() { server_.stop(SIGTERM, std::chrono::seconds(60)); }

void MysqlFixture::kill() {
    server_.kill_all();
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (loopback_port_open(port_) && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
}

void MysqlFixture::pause() { server_.pause(); }

void MysqlFixture::resume() { server_.resume(); }

void MysqlFixture::exec(const std::string& sql) {
    bool create_db = sql.rfind("CREATE DATABASE", 0) == 0;
    AdminConn c(home_ + "/mysqld.sock", create_db ? nullptr : kDatabase);
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
    AdminConn c(home_ + "/mysqld.sock", kDatabase);
    if (mysql_query(c.m, sql.c_str()) != 0)
        throw std::runtime_error("mysql fixture: " + sql.substr(0, 200) + ": " + mysql_error(c.m));
    MYSQL_RES* r = mysql_store_result(c.m);
    if (!r) throw std::runtime_error("mysql fixture: " + sql.substr(0, 200) + ": no result");
    std::vector<std::string> out;
    while (MYSQL_ROW row = mysql_fetch_row(r)) out.emplace_back(row[0] ? row[0] : "");
    mysql_free_result(r);
    return out;
}

std::string MysqlFixture::new_table(const std::vector<std::string>& rows) {
    std::string name = "t" + std::to_string(++next_table_);
    std::string sql = "CREATE TABLE " + name + " (address varchar(1100) NOT NULL) DEFAULT CHARSET utf8mb4;";
    for (const auto& r : rows) {
        std::string q = sql_quote(r);
        // MariaDB also reads backslash escapes inside quotes.
        std::string escaped;
        for (char ch : q) {
            if (ch == '\\') escaped += '\\';
            escaped += ch;
        }
        sql += "INSERT INTO " + name + " VALUES (" + escaped + ");";
    }
    sql += std::string("GRANT SELECT ON ") + kDatabase + "." + name + " TO '" + kUser + "'@'127.0.0.1';";
    exec(sql);
    return name;
}

}  // namespace rcptguard::testing
