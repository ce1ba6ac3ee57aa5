// redis_client: a small client for Redis (and Valkey, which speaks the same
// protocol) over hiredis, for callers that must never wait longer than they
// said: every call has one deadline, now + timeout, that covers checking out a
// connection, connecting (non-blocking connect), logging in, sending and
// reading the answer. Past it the call fails; it never blocks longer.
//
// A mechanism with no opinion about mail: the harvest defence keeps its shared
// counters here (core/tarpit/redis_store), and a recipient store could use it
// the same way. That is why it lives in util/ and not in backends/, which holds
// recipient stores only.
//
// - Servers ("IP:PORT", "[IPv6]:PORT", "unix:/path") are tried in order; one
//   that failed (no connection, refused login, a timeout, READONLY/LOADING
//   answers) is skipped for retry_after (util/host_health), so a dead first
//   server costs one timeout per retry_after, not one per call.
// - Connections are pooled (util/connection_pool), each used by one thread at
//   a time. A pooled connection that turns out dead (the server restarted) is
//   replaced once within the same deadline.
// - Logging in: AUTH with the ACL user and password (or the password alone),
//   then SELECT db. The password never appears in any message.
// - Answers are bounded: at most kMaxReplyValues values and kMaxReplyBytes
//   bytes of strings per call, nesting as hiredis allows; anything else - a
//   server answering garbage, an endless answer - is a failed call, never a
//   crash or unbounded memory.
// - Error replies (-ERR ...) are answers, not failures: the caller decides.
//
// Thread-safety: every member may be called from any thread at once.
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "util/clock.hpp"
#include "util/connection_pool.hpp"
#include "util/host_health.hpp"

namespace rcptguard {

struct RedisValue {
    enum class Type { Nil, Integer, String, Status, Error, Array };
    Type type = Type::Nil;
    long long integer = 0;
    std::string str;  // String, Status, Error
    std::vector<RedisValue> elements;

    bool is(Type t) const { return type == t; }
    bool is_error() const { return type == Type::Error; }
};

struct RedisServer {
    std::string host;  // an IP address (no DNS on the mail path)
    int port = 0;
    std::string unix_path;  // set for unix:/path
    std::string text;       // as configured, for messages
};

// "192.0.2.5:6379", "[2001:db8::5]:6379" or "unix:/run/redis/redis.sock";
// returns "" or the problem (for "file:line: key: problem").
std::string parse_redis_server(const std::string& spec, RedisServer* out);

struct RedisOptions {
    std::vector<RedisServer> servers;  // tried in order
    std::string user;                  // ACL user; "" = the default user
    std::string password;              // "" = no AUTH
    int db = 0;
    Millis timeout{100};          // one call, connecting and logging in included
    Millis retry_after{10000};    // a failed server is skipped this long
    int pool_size = 8;            // connections kept open
    Millis idle_timeout{300000};  // idle connections closed after this
};

class RedisConnection;

class RedisClient {
public:
    static constexpr std::size_t kMaxReplyValues = 200000;
    static constexpr std::size_t kMaxReplyBytes = 8 << 20;

    explicit RedisClient(RedisOptions options);
    ~RedisClient();
    RedisClient(const RedisClient&) = delete;
    RedisClient& operator=(const RedisClient&) = delete;

    // Sends the commands in one round trip (pipelined) and puts their answers
    // in *replies, in order. False and *error (naming the server, never a
    // secret) when no server answered completely before the deadline.
    // timeout 0 = the configured one.
    bool call(const std::vector<std::vector<std::string>>& commands, std::vector<RedisValue>* replies,
              std::string* error, Millis timeout = Millis(0)) noexcept;
    bool call(const std::vector<std::string>& command, RedisValue* reply, std::string* error,
              Millis timeout = Millis(0)) noexcept;

    // Runs a Lua script: EVALSHA once its digest is known, else SCRIPT LOAD
    // and EVAL in the same round trip (also after the server forgot it:
    // NOSCRIPT). One round trip in the steady state.
    bool eval(const std::string& script, const std::vector<std::string>& keys, const std::vector<std::string>& args,
              RedisValue* reply, std::string* error) noexcept;

    // Closes every connection (after a failure: they share its fate).
    void reset() noexcept;
    // Closes connections idle for longer than idle_timeout (maintenance).
    void close_idle() noexcept;

    // "127.0.0.1:6379" or "10.0.0.5:6379, 10.0.0.6:6379" (db N if not 0).
    std::string describe() const;
    const RedisOptions& options() const { return options_; }

private:
    using Pool = ConnectionPool<RedisConnection>;
    std::unique_ptr<RedisConnection> open(std::chrono::steady_clock::time_point deadline, std::string* error);

    RedisOptions options_;
    HostHealth health_;
    std::unique_ptr<Pool> pool_;
    mutable std::mutex sha_mutex_;
    std::string script_source_;  // the script whose digest is known
    std::string script_sha_;
};

}  // namespace rcptguard
