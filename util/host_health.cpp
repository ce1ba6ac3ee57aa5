// ldap_server_health: see ldap_server_health.hpp.
#include "ldap_server_health.hpp"

#include <cstdio>

namespace rcptguard {

namespace {

// "0.4s", "12s": how long ago, how long until; tenths below ten seconds.
std::string span_text(LdapServerHealth::Clock::duration d) {
    double s = std::chrono::duration<double>(d).count();
    if (s < 0) s = 0;
    char buf[32];
    std::snprintf(buf, sizeof buf, s < 10 ? "%.1fs" : "%.0fs", s);
    return buf;
}

}  // namespace

bool LdapServerHealth::may_try(const std::string& uri, Clock::time_point now, std::string* why_not) {
    if (retry_after_.count() <= 0) return true;
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = failed_.find(uri);
    if (it == failed_.end()) return true;
    Failure& f = it->second;
    if (now >= f.next_try) {
        f.next_try = now + retry_after_;  // this caller's retry; the others keep skipping
        return true;
    }
    *why_not = "not tried: it failed " + span_text(now - f.at) + " ago (" + f.error + "); next try in " +
               span_text(f.next_try - now) + " (retry_after)";
    return false;
}

void LdapServerHealth::failed(const std::string& uri, const std::string& error, Clock::time_point now) {
    if (retry_after_.count() <= 0) return;
    std::lock_guard<std::mutex> lock(mutex_);
    failed_[uri] = Failure{error, now, now + retry_after_};
}

void LdapServerHealth::succeeded(const std::string& uri) {
    if (retry_after_.count() <= 0) return;
    std::lock_guard<std::mutex> lock(mutex_);
    failed_.erase(uri);
}

}  // namespace rcptguard
