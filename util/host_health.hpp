// ldap_server_health: which directory servers (URIs) failed recently.
//
// After a server fails - no connection, a failed StartTLS or bind, or a
// search on a fresh connection that timed out or was cut off - new
// connections skip it for retry_after. A hung or unreachable directory then
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

class LdapServerHealth {
public:
    using Clock = std::chrono::steady_clock;

    explicit LdapServerHealth(std::chrono::milliseconds retry_after) : retry_after_(retry_after) {}

    // True: try uri now (if it had failed, this caller makes the one retry).
    // False: *why_not says when and how it failed and when it is tried next.
    bool may_try(const std::string& uri, Clock::time_point now, std::string* why_not);
    void failed(const std::string& uri, const std::string& error, Clock::time_point now);
    void succeeded(const std::string& uri);

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
