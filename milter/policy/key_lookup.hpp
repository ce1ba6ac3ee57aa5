// key_lookup: answers "is this one key (user@domain or @domain) listed?" for
// the recipient policy. BackendChain asks the configured backends in order; a
// cache (cache.hpp) can sit in front of it behind the same interface.
//
// Chain rule (as Postfix's maps_find): the first Found wins, NotFound moves on
// to the next backend, and the first TempFail stops the search - a later
// backend must not turn an outage into a verdict.
// Thread-safety: lookup() may be called from many threads at once.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "../../backends/backend.hpp"
#include "../metrics.hpp"

namespace rcptguard {

struct KeyAnswer {
    LookupStatus status = LookupStatus::TempFail;
    std::string backend;  // which backend answered Found or TempFail
    std::string reason;   // TempFail reason, or why a stale answer was served
    bool stale = false;   // Found served from cache while the backend failed
};

class KeyLookup {
public:
    virtual ~KeyLookup() = default;
    virtual KeyAnswer lookup(std::string_view key) const = 0;
};

// metrics (optional) receives per-backend counts and lookup times.
class BackendChain final : public KeyLookup {
public:
    explicit BackendChain(std::vector<BackendPtr> backends, Metrics* metrics = nullptr);
    KeyAnswer lookup(std::string_view key) const override;
    const std::vector<BackendPtr>& backends() const { return backends_; }

private:
    std::vector<BackendPtr> backends_;
    std::vector<BackendCounters*> counters_;  // parallel to backends_, or empty
};

}  // namespace rcptguard
