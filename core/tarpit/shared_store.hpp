// shared_store: what a store shared by several MX hosts (Redis,
// redis_store.hpp) must do for the harvest defence. SharedClientState
// (shared_client_state.hpp) puts its circuit breaker, cache and local fallback
// in front of it; unit tests put a fake behind it.
//
// Every call is one round trip at most, bounded by the store's own timeout,
// and answers true (with the result) or false (with an error for the log,
// never a secret). Counting and banning happen atomically in the store, so
// hosts counting the same client at the same moment never lose a count and
// never ban twice. Whatever the store holds is untrusted: a count that is not
// a number or is absurdly large, a ban without an end, a key of the wrong
// type, is ignored (and repaired when counting), never a crash and never a
// ban.
// Thread-safety: every member from any thread at once.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "core/tarpit/client_table.hpp"
#include "util/network.hpp"

namespace rcptguard {

// What the store says about one client.
struct SharedStanding {
    unsigned bad_in_window = 0;
    Millis ban_left{0};         // 0 = not banned
    bool newly_banned = false;  // this call made the ban
    std::string ban_host;       // the host that banned it
    std::string last_host;      // the host that counted it last
};

class SharedStore {
public:
    virtual ~SharedStore() = default;

    // Counts count bad recipients for key in the window and bans it when the
    // total reaches s.ban_threshold (for s.ban_time); host is this host's name.
    virtual bool add_bad(const std::string& key, unsigned count, const BanSettings& s, const std::string& host,
                         SharedStanding* out, std::string* error) noexcept = 0;
    virtual bool standing(const std::string& key, const BanSettings& s, SharedStanding* out,
                          std::string* error) noexcept = 0;
    // Every client counted or banned (at most max), for rcptguard-ctl bans.
    virtual bool list(const BanSettings& s, std::size_t max, std::vector<ClientRecord>* out,
                      std::string* error) noexcept = 0;
    // Forgets the count and lifts the ban of every client overlapping net.
    virtual bool forget(const Network& net, std::size_t* lifted, std::string* error) noexcept = 0;
    // Can the store be used? (the circuit breaker's retry)
    virtual bool ping(std::string* error) noexcept = 0;
    // Drops connections after a failure; closes idle ones (maintenance).
    virtual void reset() noexcept {}
    virtual void maintain() noexcept {}
    // "redis 10.0.0.5:6379, keys rcptguard:*" for status lines.
    virtual std::string describe() const = 0;
};

}  // namespace rcptguard
