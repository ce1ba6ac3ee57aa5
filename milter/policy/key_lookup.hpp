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

namespace rcptguard {

struct KeyAnswer {
    LookupStatus status = LookupStatus::TempFail;
    std::string backend;  // which backend answered Found or TempFail
    std::string reason;   // TempFail reason, or a note such as "stale cache entry"
};

class KeyLookup {
public:
    virtual ~KeyLookup() = default;
    virtual KeyAnswer lookup(std::string_view key) const = 0;
};

class BackendChain final : public KeyLookup {
public:
    explicit BackendChain(std::vector<BackendPtr> backends) : backends_(std::move(backends)) {}
    KeyAnswer lookup(std::string_view key) const override;
    const std::vector<BackendPtr>& backends() const { return backends_; }

private:
    std::vector<BackendPtr> backends_;
};

}  // namespace rcptguard
