// host_health: which servers of a backend (LDAP URIs, database or SMTP hosts)
// failed recently.
//
// After a server fails - no connection, a failed TLS handshake or login, or a
// query on a fresh connection that timed out or was cut off - new
// connections skip it for retry_after. A hung or unreachable server then
// costs one round of timeouts per retry_after instead of one per recipient:
// the other lookups answer TempFail at once (451, or a stale cached answer)
// and the MTA's sessions are not held for seconds each. When retry_after is
// up, one connection attempt tries the server again; the others keep skipping
// it until that attempt ends (succeeded() or failed()).
// A failure on a pooled connection does not count: it may merely be stale
// (the server restarted), and the lookup retries on a fresh one.
// retry_after 0 turns this off (every server is always tried).
//
// Thread-safety: every method from any thread.
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <string>

namespace rcptguard {

class HostHealth {
public:
    using Clock = std::chrono::steady_clock;

    explicit HostHealth(std::chrono::milliseconds retry_after) : retry_after_(retry_after) {}

    // True: try host now (if it had failed, this caller makes the one retry).
    // False: *why_not says when and how it failed and when it is tried next.
    bool may_try(const std::string& host, Clock::time_point now, std::string* why_not);
    void failed(const std::string& host, const std::string& error, Clock::time_point now);
    void succeeded(const std::string& host);

    std::chrono::milliseconds retry_after() const { return retry_after_; }

private:
    struct Failure {
        std::string error;
        Clock::time_point at;
        Clock::time_point next_try;
    };
    const std::chrono::milliseconds retry_after_;
    std::mutex mutex_;
    std::map<std::string, Failure> failed_;
};

}  // namespace rcptguard
