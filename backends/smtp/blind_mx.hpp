// blind_mx: remembers, per recipient domain, whether the downstream server
// accepts every recipient - a "blind MX", such as the Windows SMTP service or
// an Exchange without Recipient Filtering. Probing such a server proves
// nothing: it says 250 to any address and bounces the unknown ones later.
//
// The call-ahead backend finds out by adding, at most once per interval per
// domain, a RCPT TO for a local part that cannot exist
// (blind_probe_address()) to a real probe:
// - accepted: the domain is blind until the next check; its recipients are
//   answered Found without probing (as they would be accepted without
//   rcptguard), and the backend warns (once per check, so once per interval);
// - refused as unknown (5.1.x): the domain is filtered; probes decide;
// - any other answer (4xx, a policy refusal): inconclusive; treated as
//   filtered (probes decide, the safe default) until the next check;
// - no answer (connection lost, server down): the check is given back, and
//   the next lookup of the domain checks again.
// One lookup at a time checks a domain (the one plan() hands the check to);
// the others go on with what is known. check_done() must follow every plan()
// that handed out a check (the backend makes sure of it, also when a lookup
// ends early).
// At most max_domains domains are remembered: "domains = .example.com"
// admits any subdomain, and a client could make up many; the oldest entries
// are forgotten first (they are checked again when they come back).
// interval 0: no checks, nothing is ever blind.
//
// Thread-safety: every member from any thread (one mutex, never held during a
// probe).
#pragma once

#include <chrono>
#include <cstddef>
#include <map>
#include <mutex>
#include <string>

namespace rcptguard {

class BlindMxDetector {
public:
    using Clock = std::chrono::steady_clock;

    explicit BlindMxDetector(std::chrono::milliseconds interval, std::size_t max_domains = 1000)
        : interval_(interval), max_domains_(max_domains) {}

    struct Plan {
        bool blind = false;  // known to accept everything: answer Found without probing
        bool check = false;  // this caller checks the domain now (and must call check_done)
    };
    Plan plan(const std::string& domain, Clock::time_point now);

    enum class Finding { Accepted, Unknown, Inconclusive, NoAnswer };
    struct Change {
        bool blind = false;          // the domain is blind now
        bool became_blind = false;   // it was not known as blind before this check
        bool stopped_blind = false;  // it was blind and no longer is
    };
    Change check_done(const std::string& domain, Finding finding, Clock::time_point now);

    std::chrono::milliseconds interval() const { return interval_; }
    std::size_t size() const;

private:
    enum class State { Unchecked, Blind, Filtered };
    struct Entry {
        State state = State::Unchecked;
        Clock::time_point next_check;
        Clock::time_point touched;
        bool checking = false;
    };
    void make_room(Clock::time_point now);

    const std::chrono::milliseconds interval_;
    const std::size_t max_domains_;
    mutable std::mutex mutex_;
    std::map<std::string, Entry> domains_;
};

// A recipient in domain whose local part cannot exist: "rcptguard-nx-" and 16
// random hex digits.
std::string blind_probe_address(const std::string& domain);

}  // namespace rcptguard
