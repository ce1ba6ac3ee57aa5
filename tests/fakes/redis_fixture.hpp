// redis_fixture: a real, throwaway redis-server for the unit tests of the
// Redis client and the tarpit's Redis store (the recipe of doc/testing.md,
// "A throwaway slapd", applied to Redis).
//
// Each instance has its own redis.conf and directory (a TempDir), listens on
// a free port on 127.0.0.1 only and on a unix socket in its directory, saves
// nothing, and runs in the foreground as our child with a parent-death
// signal, so a crashed test binary leaves no server behind. An ACL user kUser with kPassword exists besides the default
// user (no password).
//
// shared() is one instance for the whole test binary, started on first use
// and stopped when the tests end; tests that stop or freeze a server make
// their own. cli() runs redis-cli against it (the way an administrator or
// another tool would write hostile values).
// Thread-safety: drive a fixture from the test's main thread. Errors throw
// std::runtime_error.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "tests/test_support.hpp"

namespace rcptguard::testing {

class RedisFixture {
public:
    static constexpr const char* kUser = "rcptguard";
    static constexpr const char* kPassword = "fixture-redis-secret";

    RedisFixture();
    ~RedisFixture();
    RedisFixture(const RedisFixture&) = delete;
    RedisFixture& operator=(const RedisFixture&) = delete;

    static RedisFixture& shared();

    int port() const { return port_; }
    std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
    // The same server through its unix socket ("unix:/tmp/.../redis.sock").
    std::string unix_address() const { return "unix:" + dir_.file("redis.sock"); }

    void start();   // again after stop(): same port, empty
    void stop();    // SIGKILL: the server dies, the data is gone
    void pause();   // SIGSTOP: a hung server (the kernel still accepts connections)
    void resume();  // SIGCONT

    // redis-cli -p PORT ARGS...; returns its output (--raw); throws on
    // failure. The last argument goes through redis-cli's standard input, so
    // it may hold any bytes.
    std::string cli(const std::vector<std::string>& args) const;

private:
    void wait_ready();

    TempDir dir_;
    int port_ = 0;
    pid_t pid_ = -1;
    bool paused_ = false;
};

// A TCP server on 127.0.0.1 that answers every connection with fixed bytes
// (a broken or hostile "Redis"), on its own thread until destroyed.
class CannedServer {
public:
    explicit CannedServer(std::string answer);
    ~CannedServer();
    CannedServer(const CannedServer&) = delete;
    CannedServer& operator=(const CannedServer&) = delete;
    int port() const { return port_; }
    std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

private:
    int listen_fd_ = -1;
    int port_ = 0;
    int stop_pipe_[2] = {-1, -1};
    std::string answer_;
    std::unique_ptr<std::thread> thread_;
};

}  // namespace rcptguard::testing
