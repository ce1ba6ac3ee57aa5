// redis_client: see redis_client.hpp.
//
// hiredis's blocking calls wait as long as the socket timeouts allow per
// read or write, so a server that trickles an answer could hold a thread far
// past its timeout (doc/platform.md §14.1). Here hiredis only connects (redisConnectWithTimeout:
// non-blocking connect, bounded wait), formats commands and parses answers;
// the socket is switched to non-blocking and every wait is a poll() bounded by
// the one deadline of the call. Answers are built by our own reader functions,
// which refuse anything beyond the limits before allocating it.
#include "util/redis_client.hpp"

#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "util/duration.hpp"
#include "util/network.hpp"
#include "util/text.hpp"

namespace rcptguard {

namespace {

using SteadyTime = std::chrono::steady_clock::time_point;

// What one call's answers may still use; the reader functions draw on it.
struct ReplyBudget {
    std::size_t values = 0;
    std::size_t bytes = 0;
};

bool take(const redisReadTask* task, std::size_t values, std::size_t bytes) {
    auto* b = static_cast<ReplyBudget*>(task->privdata);
    if (!b || b->values < values || b->bytes < bytes) return false;
    b->values -= values;
    b->bytes -= bytes;
    return true;
}

// The value a task fills in: a new root, or its slot in the parent array.
RedisValue* slot_for(const redisReadTask* task) {
    if (!task->parent) return new RedisValue;
    auto* parent = static_cast<RedisValue*>(task->parent->obj);
    if (!parent || task->idx < 0 || static_cast<std::size_t>(task->idx) >= parent->elements.size()) return nullptr;
    return &parent->elements[static_cast<std::size_t>(task->idx)];
}

void* create_string(const redisReadTask* task, char* str, size_t len) {
    // hiredis 0.14 trusts announced sizes (doc/platform.md §14.1): refuse
    // them here, before anything is allocated.
    if (!take(task, 1, len)) return nullptr;
    RedisValue* v = slot_for(task);
    if (!v) return nullptr;
    v->type = task->type == REDIS_REPLY_ERROR    ? RedisValue::Type::Error
              : task->type == REDIS_REPLY_STATUS ? RedisValue::Type::Status
                                                 : RedisValue::Type::String;
    v->str.assign(str, len);
    return v;
}

void* create_array(const redisReadTask* task, int elements) {
    if (elements < 0 || !take(task, 1 + static_cast<std::size_t>(elements), 0)) return nullptr;
    RedisValue* v = slot_for(task);
    if (!v) return nullptr;
    v->type = RedisValue::Type::Array;
    v->elements.resize(static_cast<std::size_t>(elements));  // never resized again: children point into it
    return v;
}

void* create_integer(const redisReadTask* task, long long value) {
    if (!take(task, 1, 0)) return nullptr;
    RedisValue* v = slot_for(task);
    if (!v) return nullptr;
    v->type = RedisValue::Type::Integer;
    v->integer = value;
    return v;
}

void* create_nil(const redisReadTask* task) {
    if (!take(task, 1, 0)) return nullptr;
    RedisValue* v = slot_for(task);
    if (!v) return nullptr;
    v->type = RedisValue::Type::Nil;
    return v;
}

// Only roots are ever freed by hiredis; children live inside them.
void free_value(void* v) { delete static_cast<RedisValue*>(v); }

redisReplyObjectFunctions kReplyFunctions = {create_string, create_array, create_integer, create_nil, free_value};

int millis_until(SteadyTime deadline) {
    auto left = std::chrono::duration_cast<Millis>(deadline - std::chrono::steady_clock::now()).count();
    return left <= 0 ? 0 : static_cast<int>(std::min<long long>(left, 1 << 30));
}

timeval to_timeval(int millis) {
    timeval tv{};
    tv.tv_sec = millis / 1000;
    tv.tv_usec = (millis % 1000) * 1000;
    return tv;
}

bool starts_with(const std::string& s, std::string_view p) { return s.compare(0, p.size(), p) == 0; }

}  // namespace

// One connection to one server, used by one thread at a time.
class RedisConnection {
public:
    RedisConnection(redisContext* c, std::string server) : c_(c), server_(std::move(server)) {}
    ~RedisConnection() { redisFree(c_); }
    RedisConnection(const RedisConnection&) = delete;
    RedisConnection& operator=(const RedisConnection&) = delete;

    static std::unique_ptr<RedisConnection> connect(const RedisServer& s, SteadyTime deadline, std::string* error) {
        int left = millis_until(deadline);
        if (left <= 0) {
            *error = s.text + ": no time left to connect";
            return nullptr;
        }
        redisContext* c = s.unix_path.empty() ? redisConnectWithTimeout(s.host.c_str(), s.port, to_timeval(left))
                                              : redisConnectUnixWithTimeout(s.unix_path.c_str(), to_timeval(left));
        if (!c) {
            *error = s.text + ": cannot allocate a connection";
            return nullptr;
        }
        if (c->err) {
            *error = s.text + ": cannot connect: " + printable(c->errstr, 120);
            redisFree(c);
            return nullptr;
        }
        auto conn = std::make_unique<RedisConnection>(c, s.text);
        // Our poll() loop does the waiting; hiredis must treat EAGAIN as "later".
        int flags = fcntl(c->fd, F_GETFL);
        if (flags < 0 || fcntl(c->fd, F_SETFL, flags | O_NONBLOCK) < 0) {
            *error = s.text + ": cannot make the socket non-blocking: " + std::strerror(errno);
            return nullptr;
        }
        c->flags &= ~REDIS_BLOCK;
        redisReader* reader = redisReaderCreateWithFunctions(&kReplyFunctions);
        if (!reader) {
            *error = s.text + ": cannot allocate a reader";
            return nullptr;
        }
        redisReaderFree(c->reader);
        c->reader = reader;
        c->reader->privdata = &conn->budget_;
        return conn;
    }

    // Sends the commands and reads one answer per command. *timed_out tells
    // a slow server from a broken connection.
    bool round_trip(const std::vector<std::vector<std::string>>& commands, SteadyTime deadline,
                    std::vector<RedisValue>* replies, std::string* error, bool* timed_out) {
        *timed_out = false;
        replies->clear();
        budget_.values = RedisClient::kMaxReplyValues;
        budget_.bytes = RedisClient::kMaxReplyBytes;
        std::vector<const char*> argv;
        std::vector<size_t> lens;
        for (const auto& cmd : commands) {
            argv.clear();
            lens.clear();
            for (const auto& a : cmd) {
                argv.push_back(a.data());
                lens.push_back(a.size());
            }
            if (redisAppendCommandArgv(c_, static_cast<int>(argv.size()), argv.data(), lens.data()) != REDIS_OK)
                return fail("cannot format a command", error);
        }
        int done = 0;
        for (;;) {
            if (redisBufferWrite(c_, &done) != REDIS_OK) return fail(c_->errstr, error);
            if (done) break;
            if (!wait_for(POLLOUT, deadline, error, timed_out)) return false;
        }
        while (replies->size() < commands.size()) {
            void* reply = nullptr;
            if (redisGetReplyFromReader(c_, &reply) != REDIS_OK)
                return fail(std::string("not a Redis answer: ") + c_->errstr, error);
            if (reply) {
                std::unique_ptr<RedisValue> v(static_cast<RedisValue*>(reply));
                replies->push_back(std::move(*v));
                continue;
            }
            if (c_->reader->len > RedisClient::kMaxReplyBytes + 65536)
                return fail("answer larger than " + std::to_string(RedisClient::kMaxReplyBytes) + " bytes", error);
            if (!wait_for(POLLIN, deadline, error, timed_out)) return false;
            if (redisBufferRead(c_) != REDIS_OK) return fail(c_->errstr, error);
        }
        return true;
    }

    const std::string& server() const { return server_; }

private:
    bool fail(const std::string& what, std::string* error) {
        *error = server_ + ": " + printable(what, 160);
        return false;
    }

    bool wait_for(short events, SteadyTime deadline, std::string* error, bool* timed_out) {
        for (;;) {
            int left = millis_until(deadline);
            if (left <= 0) break;
            pollfd p{c_->fd, events, 0};
            int n = ::poll(&p, 1, left);
            if (n > 0) return true;  // readable, writable, or an error/hang-up the next read reports
            if (n < 0 && errno != EINTR) return fail(std::string("poll: ") + std::strerror(errno), error);
        }
        *timed_out = true;
        return fail("no answer in time", error);
    }

    redisContext* c_;
    std::string server_;
    ReplyBudget budget_;
};

std::string parse_redis_server(const std::string& spec, RedisServer* out) {
    RedisServer s;
    s.text = spec;
    if (spec.rfind("unix:", 0) == 0) {
        s.unix_path = spec.substr(5);
        if (s.unix_path.empty() || s.unix_path.front() != '/') return "unix: needs an absolute path";
        if (s.unix_path.size() >= 108) return "the socket path is too long";
        *out = std::move(s);
        return "";
    }
    std::string problem = parse_host_port(spec, &s.host, &s.port);
    if (!problem.empty())
        return "'" + printable(spec, 80) + "': " + problem + " (or unix:/path; an IP address, not a name)";
    *out = std::move(s);
    return "";
}

RedisClient::RedisClient(RedisOptions options)
    : options_(std::move(options)),
      health_(options_.retry_after),
      pool_(std::make_unique<Pool>(options_.pool_size, options_.idle_timeout)) {}

RedisClient::~RedisClient() = default;

std::string RedisClient::describe() const {
    std::string out;
    for (const auto& s : options_.servers) out += (out.empty() ? "" : ", ") + s.text;
    if (options_.db != 0) out += " db " + std::to_string(options_.db);
    return out;
}

std::unique_ptr<RedisConnection> RedisClient::open(SteadyTime deadline, std::string* error) {
    std::string errors;
    for (const auto& s : options_.servers) {
        std::string why;
        if (!health_.may_try(s.text, std::chrono::steady_clock::now(), &why)) {
            errors += (errors.empty() ? "" : "; ") + s.text + ": " + why;
            continue;
        }
        std::unique_ptr<RedisConnection> c = RedisConnection::connect(s, deadline, &why);
        if (c && (!options_.password.empty() || options_.db != 0)) {
            std::vector<std::vector<std::string>> login;
            if (!options_.password.empty()) {
                if (options_.user.empty())
                    login.push_back({"AUTH", options_.password});
                else
                    login.push_back({"AUTH", options_.user, options_.password});
            }
            if (options_.db != 0) login.push_back({"SELECT", std::to_string(options_.db)});
            std::vector<RedisValue> replies;
            bool timed_out = false;
            if (!c->round_trip(login, deadline, &replies, &why, &timed_out)) {
                c.reset();
            } else {
                for (std::size_t i = 0; i < replies.size() && c; ++i) {
                    if (!replies[i].is_error()) continue;
                    // The server's own words (WRONGPASS, NOAUTH...), never ours: no secret in them.
                    why = s.text + ": " + (login[i][0] == "AUTH" ? "refused the login" : "refused SELECT") + ": " +
                          printable(replies[i].str, 120);
                    c.reset();
                }
            }
        }
        if (c) {
            health_.succeeded(s.text);
            return c;
        }
        health_.failed(s.text, why, std::chrono::steady_clock::now());
        errors += (errors.empty() ? "" : "; ") + why;
        if (millis_until(deadline) <= 0) break;
    }
    *error = errors.empty() ? "no Redis server configured" : errors;
    return nullptr;
}

bool RedisClient::call(const std::vector<std::vector<std::string>>& commands, std::vector<RedisValue>* replies,
                       std::string* error, Millis timeout) noexcept {
    try {
        SteadyTime deadline = std::chrono::steady_clock::now() + (timeout.count() > 0 ? timeout : options_.timeout);
        for (int attempt = 0; attempt < 2; ++attempt) {
            Pool::Lease lease = pool_->checkout(
                deadline, [&](std::string* e) { return open(deadline, e); }, error);
            if (!lease) return false;
            bool timed_out = false;
            if (lease->round_trip(commands, deadline, replies, error, &timed_out)) {
                // A replica (READONLY) or a server still loading its data cannot
                // serve us: treat it like a server that failed, so the next
                // connection goes to the next server.
                for (const auto& r : *replies) {
                    if (r.is_error() && (starts_with(r.str, "READONLY") || starts_with(r.str, "LOADING") ||
                                         starts_with(r.str, "MASTERDOWN"))) {
                        *error = lease->server() + ": " + printable(r.str, 120);
                        health_.failed(lease->server(), *error, std::chrono::steady_clock::now());
                        lease.discard(true);
                        return false;
                    }
                }
                return true;
            }
            std::string server = lease->server();
            bool reused = lease.reused();
            lease.discard(true);
            // A pooled connection may just be stale (the server restarted):
            // one more try on a fresh one, within the same deadline.
            if (reused && !timed_out && attempt == 0 && millis_until(deadline) > 0) continue;
            health_.failed(server, *error, std::chrono::steady_clock::now());
            return false;
        }
        return false;
    } catch (const std::exception& e) {
        *error = std::string("redis: ") + e.what();
        return false;
    }
}

bool RedisClient::call(const std::vector<std::string>& command, RedisValue* reply, std::string* error,
                       Millis timeout) noexcept {
    std::vector<RedisValue> replies;
    if (!call(std::vector<std::vector<std::string>>{command}, &replies, error, timeout)) return false;
    if (replies.size() != 1) {
        *error = "redis: no answer";
        return false;
    }
    *reply = std::move(replies[0]);
    return true;
}

bool RedisClient::eval(const std::string& script, const std::vector<std::string>& keys,
                       const std::vector<std::string>& args, RedisValue* reply, std::string* error) noexcept {
    try {
        std::string sha;
        {
            std::lock_guard<std::mutex> lock(sha_mutex_);
            if (script_source_ == script) sha = script_sha_;
        }
        auto command = [&](std::string verb, std::string first) {
            std::vector<std::string> c{std::move(verb), std::move(first), std::to_string(keys.size())};
            c.insert(c.end(), keys.begin(), keys.end());
            c.insert(c.end(), args.begin(), args.end());
            return c;
        };
        if (!sha.empty()) {
            if (!call(command("EVALSHA", sha), reply, error)) return false;
            if (!reply->is_error() || !starts_with(reply->str, "NOSCRIPT")) return true;
        }
        // Unknown digest, or the server lost its script cache (restart, SCRIPT
        // FLUSH): load it and run it in one round trip.
        std::vector<RedisValue> replies;
        if (!call({{"SCRIPT", "LOAD", script}, command("EVAL", script)}, &replies, error)) return false;
        if (replies.size() != 2) {
            *error = "redis: no answer to EVAL";
            return false;
        }
        if (replies[0].is(RedisValue::Type::String) && replies[0].str.size() == 40) {
            std::lock_guard<std::mutex> lock(sha_mutex_);
            script_source_ = script;
            script_sha_ = replies[0].str;
        }
        *reply = std::move(replies[1]);
        return true;
    } catch (const std::exception& e) {
        *error = std::string("redis: ") + e.what();
        return false;
    }
}

void RedisClient::reset() noexcept { pool_->invalidate(); }

void RedisClient::close_idle() noexcept { pool_->close_idle(std::chrono::steady_clock::now()); }

}  // namespace rcptguard
