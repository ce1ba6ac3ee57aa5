// host_health: see host_health.hpp.
#include "util/host_health.hpp"

#include "util/duration.hpp"

namespace rcptguard {

bool HostHealth::may_try(const std::string& host, Clock::time_point now, std::string* why_not) {
    if (retry_after_.count() <= 0) return true;
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = failed_.find(host);
    if (it == failed_.end()) return true;
    Failure& f = it->second;
    if (now >= f.next_try) {
        f.next_try = now + retry_after_;  // this caller's retry; the others keep skipping
        return true;
    }
    *why_not = "not tried: it failed " + format_duration(now - f.at) + " ago (" + f.error + "); next try in " +
               format_duration(f.next_try - now) + " (retry_after)";
    return false;
}

void HostHealth::failed(const std::string& host, const std::string& error, Clock::time_point now) {
    if (retry_after_.count() <= 0) return;
    std::lock_guard<std::mutex> lock(mutex_);
    failed_[host] = Failure{error, now, now + retry_after_};
}

void HostHealth::succeeded(const std::string& host) {
    if (retry_after_.count() <= 0) return;
    std::lock_guard<std::mutex> lock(mutex_);
    failed_.erase(host);
}

}  // namespace rcptguard
