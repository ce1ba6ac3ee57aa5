// blind_mx: see blind_mx.hpp.
#include "backends/smtp/blind_mx.hpp"

#include <sys/random.h>

#include <cstdint>
#include <cstdio>

namespace rcptguard {

BlindMxDetector::Plan BlindMxDetector::plan(const std::string& domain, Clock::time_point now) {
    if (interval_.count() <= 0) return {};
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = domains_.find(domain);
    if (it == domains_.end()) {
        make_room(now);
        it = domains_.emplace(domain, Entry{State::Unchecked, now, now, false}).first;
    }
    Entry& e = it->second;
    e.touched = now;
    Plan p;
    p.blind = e.state == State::Blind;
    if (!e.checking && now >= e.next_check) {
        e.checking = true;
        p.check = true;
    }
    return p;
}

BlindMxDetector::Change BlindMxDetector::check_done(const std::string& domain, Finding finding, Clock::time_point now) {
    Change c;
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = domains_.find(domain);
    if (it == domains_.end()) return c;  // forgotten meanwhile (make_room)
    Entry& e = it->second;
    e.checking = false;
    bool was_blind = e.state == State::Blind;
    switch (finding) {
        case Finding::Accepted: e.state = State::Blind; break;
        case Finding::Unknown:
        case Finding::Inconclusive: e.state = State::Filtered; break;
        case Finding::NoAnswer:
            // Given back: the next lookup checks again.
            c.blind = was_blind;
            return c;
    }
    e.next_check = now + interval_;
    c.blind = e.state == State::Blind;
    c.became_blind = c.blind && !was_blind;
    c.stopped_blind = was_blind && !c.blind;
    return c;
}

void BlindMxDetector::make_room(Clock::time_point now) {
    if (domains_.size() < max_domains_) return;
    // Due entries first: they would be checked again anyway.
    for (auto it = domains_.begin(); it != domains_.end();) {
        if (!it->second.checking && now >= it->second.next_check)
            it = domains_.erase(it);
        else
            ++it;
    }
    while (domains_.size() >= max_domains_) {
        auto oldest = domains_.end();
        for (auto it = domains_.begin(); it != domains_.end(); ++it)
            if (!it->second.checking && (oldest == domains_.end() || it->second.touched < oldest->second.touched))
                oldest = it;
        if (oldest == domains_.end()) return;  // every one is being checked: let the map grow for now
        domains_.erase(oldest);
    }
}

std::size_t BlindMxDetector::size() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return domains_.size();
}

std::string blind_probe_address(const std::string& domain) {
    std::uint64_t r = 0;
    if (getrandom(&r, sizeof r, 0) != static_cast<ssize_t>(sizeof r)) {
        // Practically never (getrandom blocks only before the kernel's pool is
        // seeded); the address must merely be one nobody has.
        r = static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count()) *
            0x9E3779B97F4A7C15ull;
    }
    char hex[17];
    std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(r));
    return std::string("rcptguard-nx-") + hex + "@" + domain;
}

}  // namespace rcptguard
