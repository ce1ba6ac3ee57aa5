// redis_fixture: see tests/fakes/redis_fixture.hpp.
#include "tests/fakes/redis_fixture.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <thread>

namespace rcptguard::testing {

namespace {

constexpr char kRedisServer[] = "/usr/bin/redis-server";

int find_free_port() {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
        if (fd >= 0) close(fd);
        throw std::runtime_error("redis fixture: no free port");
    }
    close(fd);
    return ntohs(a.sin_port);
}

class SharedRedisEnvironment : public ::testing::Environment {
public:
    void TearDown() override { instance().reset(); }
    static std::unique_ptr<RedisFixture>& instance() {
        static std::unique_ptr<RedisFixture> fixture;
        return fixture;
    }
};

[[maybe_unused]] ::testing::Environment* const g_environment =
    ::testing::AddGlobalTestEnvironment(new SharedRedisEnvironment);

}  // namespace

RedisFixture::RedisFixture() {
    // As in the daemon: a write to a connection the server closed must be an
    // error code, not a SIGPIPE that kills the test binary.
    signal(SIGPIPE, SIG_IGN);
    port_ = find_free_port();
    std::string conf = "port " + std::to_string(port_) +
                       "\nbind 127.0.0.1\nprotected-mode yes\ndaemonize no\nsave \"\"\nappendonly no\n"
                       "dir " +
                       dir_.path() + "\nlogfile " + dir_.file("redis.log") + "\nunixsocket " + dir_.file("redis.sock") +
                       "\nunixsocketperm 700" +
                       "\nuser default on nopass ~* &* +@all\n"
                       "user " +
                       kUser + " on >" + kPassword + " ~* +@all\n";
    write_file(dir_.file("redis.conf"), conf);
    start();
}

RedisFixture::~RedisFixture() {
    try {
        stop();
    } catch (...) {}
}

RedisFixture& RedisFixture::shared() {
    auto& f = SharedRedisEnvironment::instance();
    if (!f) f = std::make_unique<RedisFixture>();
    return *f;
}

void RedisFixture::start() {
    if (pid_ > 0) return;
    std::string conf = dir_.file("redis.conf");
    std::vector<std::string> args = {kRedisServer, conf};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) throw std::runtime_error("redis fixture: fork failed");
    if (pid == 0) {
        // Only async-signal-safe calls between fork and exec.
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent) _exit(127);
        int null = open("/dev/null", O_WRONLY);
        if (null >= 0) {
            dup2(null, 1);
            dup2(null, 2);
        }
        signal(SIGPIPE, SIG_DFL);
        execv(kRedisServer, argv.data());
        _exit(127);
    }
    pid_ = pid;
    paused_ = false;
    wait_ready();
}

void RedisFixture::wait_ready() {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (std::chrono::steady_clock::now() < deadline) {
        try {
            if (cli({"PING"}) == "PONG\n") return;
        } catch (const std::exception&) {}
        int status = 0;
        if (waitpid(pid_, &status, WNOHANG) == pid_) {
            pid_ = -1;
            std::string log;
            try {
                log = read_file(dir_.file("redis.log"));
            } catch (...) {}
            throw std::runtime_error("redis fixture: redis-server exited at start:\n" + log);
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    throw std::runtime_error("redis fixture: redis-server did not answer on port " + std::to_string(port_));
}

void RedisFixture::stop() {
    if (pid_ <= 0) return;
    if (paused_) resume();
    kill(pid_, SIGKILL);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
}

void RedisFixture::pause() {
    if (pid_ <= 0 || kill(pid_, SIGSTOP) != 0) return;
    paused_ = true;
    // kill() only queues the stop: wait until every thread is stopped.
    auto all_stopped = [this] {
        std::error_code ec;
        std::string task_dir = "/proc/" + std::to_string(pid_) + "/task";
        for (const auto& t : std::filesystem::directory_iterator(task_dir, ec)) {
            std::string stat = read_file(t.path().string() + "/stat");
            std::size_t paren = stat.rfind(')');
            if (paren == std::string::npos || paren + 2 >= stat.size() || stat[paren + 2] != 'T') return false;
        }
        return !ec;
    };
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!all_stopped()) {
        if (std::chrono::steady_clock::now() > deadline) throw std::runtime_error("redis fixture: did not stop");
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
}

void RedisFixture::resume() {
    if (pid_ > 0 && kill(pid_, SIGCONT) == 0) paused_ = false;
}

std::string RedisFixture::cli(const std::vector<std::string>& args) const {
    if (args.empty()) throw std::runtime_error("redis fixture: cli needs a command");
    std::vector<std::string> argv_s = {"redis-cli", "--raw", "-h", "127.0.0.1", "-p", std::to_string(port_)};
    std::string input = dir_.file("cli-input");
    if (args.size() > 1) {
        // -x: the last argument is read from standard input, never a shell.
        argv_s.push_back("-x");
        argv_s.insert(argv_s.end(), args.begin(), args.end() - 1);
        write_file(input, args.back());
    } else {
        argv_s.push_back(args[0]);
        write_file(input, "");
    }
    int out_pipe[2];
    if (pipe(out_pipe) != 0) throw std::runtime_error("redis fixture: pipe");
    std::vector<char*> argv;
    for (auto& a : argv_s) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_t pid = fork();
    if (pid < 0) throw std::runtime_error("redis fixture: fork");
    if (pid == 0) {
        int in = open(input.c_str(), O_RDONLY);
        if (in >= 0) dup2(in, 0);
        dup2(out_pipe[1], 1);
        dup2(out_pipe[1], 2);
        close(out_pipe[0]);
        execvp("redis-cli", argv.data());
        _exit(127);
    }
    close(out_pipe[1]);
    std::string out;
    char buf[4096];
    ssize_t n;
    while ((n = read(out_pipe[0], buf, sizeof buf)) > 0) out.append(buf, static_cast<std::size_t>(n));
    close(out_pipe[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) throw std::runtime_error("redis fixture: redis-cli: " + out);
    return out;
}

CannedServer::CannedServer(std::string answer) : answer_(std::move(answer)) {
    signal(SIGPIPE, SIG_IGN);
    listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (listen_fd_ < 0 || bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0 || listen(listen_fd_, 16) != 0 ||
        pipe(stop_pipe_) != 0)
        throw std::runtime_error("canned server: cannot listen");
    port_ = ntohs(a.sin_port);
    thread_ = std::make_unique<std::thread>([this] {
        for (;;) {
            pollfd p[2] = {{listen_fd_, POLLIN, 0}, {stop_pipe_[0], POLLIN, 0}};
            if (poll(p, 2, -1) < 0) continue;
            if (p[1].revents) return;
            int fd = accept(listen_fd_, nullptr, nullptr);
            if (fd < 0) continue;
            char buf[4096];
            pollfd r{fd, POLLIN, 0};
            if (poll(&r, 1, 2000) > 0) (void)!recv(fd, buf, sizeof buf, 0);
            std::size_t sent = 0;
            while (sent < answer_.size()) {
                ssize_t n = send(fd, answer_.data() + sent, answer_.size() - sent, MSG_NOSIGNAL);
                if (n <= 0) break;
                sent += static_cast<std::size_t>(n);
            }
            // Keep the connection open until the client gives up, as a
            // server that said its piece and waits would, reading (and
            // dropping) whatever else it sends.
            auto until = std::chrono::steady_clock::now() + std::chrono::seconds(3);
            for (;;) {
                auto left =
                    std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
                pollfd w{fd, POLLIN, 0};
                if (left.count() <= 0 || poll(&w, 1, static_cast<int>(left.count())) <= 0) break;
                if (recv(fd, buf, sizeof buf, 0) <= 0) break;
            }
            close(fd);
        }
    });
}

CannedServer::~CannedServer() {
    if (thread_) {
        (void)!write(stop_pipe_[1], "x", 1);
        thread_->join();
    }
    close(listen_fd_);
    close(stop_pipe_[0]);
    close(stop_pipe_[1]);
}

}  // namespace rcptguard::testing
