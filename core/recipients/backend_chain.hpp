// key_lookup: answers "is any of these keys listed?" for the recipient policy.
// The keys are one recipient's lookup keys, most specific first: the full
// address, the address without +detail, the @domain catch-all. BackendChain
// asks the configured backends in order; a cache (lookup_cache.hpp) can sit in
// front of it behind the same interface.
//
// Chain rule: each backend is asked for all keys (one round trip where the
// backend can); the first backend that finds one wins, NotFound moves on to the
// next backend, and the first TempFail stops the search - a later backend must
// not turn an outage into a verdict.
// Scopes: a backend with its own "domains" is asked only about keys of those
// domains (the domain of the first key). When every backend's scope leaves a
// recipient's domain out, the answer is TempFail (a configuration gap must
// never become a 550), with the reason.
// domain_query_view(b) is b seen through its domain_query: lookup(domain) is
// b->lookup_domain(domain), so a chain (and a cache) of such views answers
// "is this domain ours?" for "domains = backend:NAME".
// lookup_at_once() answers only when that needs no other server: from the
// cache, or when every backend is on this host (answers_locally()); otherwise
// it returns nothing and has asked nothing. The policy service answers such
// requests on its I/O thread instead of handing them to a worker.
// Thread-safety: lookup() and lookup_at_once() may be called from many threads
// at once.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "backends/backend.hpp"
#include "core/recipients/domain_set.hpp"
#include "util/metrics.hpp"

namespace rcptguard {

struct KeyAnswer {
    LookupStatus status = LookupStatus::TempFail;
    std::string key;      // the key that was found (Found)
    std::string backend;  // which backend answered Found or TempFail
    std::string reason;   // TempFail reason, or why a stale answer was served
    bool stale = false;   // Found served from cache while the backend failed
};

class KeyLookup {
public:
    virtual ~KeyLookup() = default;
    virtual KeyAnswer lookup(const std::vector<std::string>& keys) const = 0;
    virtual std::optional<KeyAnswer> lookup_at_once(const std::vector<std::string>& keys) const = 0;
};

// How one backend has been doing, for rcptguard-ctl status: its record
// (BackendCounters::Failure, the one the status page shows too) and its
// temporary failures since this chain was built.
struct BackendHealth {
    std::string name;
    std::string type;
    std::uint64_t failures = 0;  // TempFail answers since this configuration was loaded
    BackendCounters::Failure last_failure;
};

// metrics (optional) receives per-backend counts, lookup times and each
// backend's failure record; without it the chain keeps its own. A chain of
// domain_query views counts under the backends' own names: a domain_query
// that fails marks its backend failing (rcptguard-ctl status).
class BackendChain final : public KeyLookup {
public:
    explicit BackendChain(std::vector<BackendPtr> backends, Metrics* metrics = nullptr);
    // scopes: parallel to backends; an empty DomainSet means every domain.
    BackendChain(std::vector<BackendPtr> backends, std::vector<DomainSet> scopes, Metrics* metrics = nullptr);
    KeyAnswer lookup(const std::vector<std::string>& keys) const override;
    std::optional<KeyAnswer> lookup_at_once(const std::vector<std::string>& keys) const override;
    const std::vector<BackendPtr>& backends() const { return backends_; }
    // Every backend is on this host (answers_locally()).
    bool local() const { return local_; }
    std::vector<BackendHealth> health() const;

private:
    std::vector<BackendPtr> backends_;
    std::vector<DomainSet> scopes_;                        // parallel to backends_, or empty
    std::vector<std::unique_ptr<BackendCounters>> owned_;  // without metrics: the counters_ point here
    std::vector<BackendCounters*> counters_;               // parallel to backends_
    std::vector<std::uint64_t> tempfails_at_start_;        // parallel to backends_: counters_[i]->tempfail then
    bool local_ = true;
};

BackendPtr domain_query_view(BackendPtr backend);

}  // namespace rcptguard
