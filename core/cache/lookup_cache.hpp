// lookup_cache: answers for recipients, remembered in front of the backend
// chain (KeyLookup in, KeyLookup out). An entry is keyed by the first (full
// address) key; the other keys follow from it under one configuration.
//
// - Found is kept for positive_ttl, NotFound for negative_ttl; TempFail is
//   never cached.
// - Serve-stale: when the chain answers TempFail (directory down) and the key
//   was found within stale_ttl, Found is answered instead (and marked stale
//   for the log). A stale NotFound is never served: during an outage a user
//   added since would otherwise get a wrong 550.
// - Any change of a backend's data (generation() moves: file reloaded,
//   database changed or replaced) empties the cache at the next lookup; a
//   reload builds a new, empty cache. Each entry carries the generation seen
//   before its backend was asked, and counts only while that is current: an
//   answer read while the data changed is never served after the change.
// - The catch-all key (@domain) is also remembered on its own, shared by all
//   addresses of the domain, so unknown addresses cost one query, not two.
//   An internationalised domain's two catch-all keys (both forms, see
//   util/address.hpp lookup_keys) are remembered as one.
// - Bounded: at most max_entries keys, least recently used evicted first;
//   sharded so threads do not queue on one lock, and the lock is never held
//   across a backend lookup.
// Thread-safety: lookup() from any number of threads.
#pragma once

#include <atomic>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/recipients/backend_chain.hpp"
#include "util/clock.hpp"
#include "util/config_file.hpp"
#include "util/metrics.hpp"

namespace rcptguard {

struct CacheSettings {
    bool enabled = true;                  // cache
    Millis positive_ttl{10 * 60 * 1000};  // cache_positive_ttl
    Millis negative_ttl{60 * 1000};       // cache_negative_ttl
    Millis stale_ttl{24 * 3600 * 1000};   // cache_stale_ttl (0 = never serve stale)
    std::size_t max_entries = 100000;     // cache_size
};

CacheSettings read_cache_settings(SectionReader& r);

class CachedLookup final : public KeyLookup {
public:
    CachedLookup(std::shared_ptr<const BackendChain> chain, CacheSettings settings, const Clock& clock,
                 Metrics* metrics);

    KeyAnswer lookup(const std::vector<std::string>& keys) const override;
    std::optional<KeyAnswer> lookup_at_once(const std::vector<std::string>& keys) const override;
    std::size_t size() const;
    void clear() const;
    // Forgets what is remembered under these keys (rcptguard-ctl flush-cache
    // ADDRESS); returns how many entries went.
    std::size_t forget(const std::vector<std::string>& keys) const;

private:
    struct Entry {
        LookupStatus status;
        std::string key;  // the key that was found
        std::string backend;
        Millis confirmed;          // when a backend last gave this answer
        unsigned long generation;  // chain_generation() before the backend was asked
        std::list<std::string>::iterator lru;
    };
    struct Shard {
        std::mutex mutex;
        std::unordered_map<std::string, Entry> map;
        std::list<std::string> lru;
    };

    std::optional<KeyAnswer> answer(const std::vector<std::string>& keys, bool may_wait) const;
    Shard& shard_for(std::string_view key) const;
    // A fresh entry for key; otherwise nullopt, and *stale (if given) receives
    // a Found entry still inside stale_ttl.
    std::optional<KeyAnswer> cached(const std::string& key, Millis now, unsigned long generation,
                                    KeyAnswer* stale) const;
    unsigned long chain_generation() const;
    void store(std::string_view key, const KeyAnswer& a, Millis now, unsigned long generation) const;

    std::shared_ptr<const BackendChain> chain_;
    CacheSettings settings_;
    const Clock& clock_;
    Metrics* metrics_;
    std::size_t per_shard_;
    mutable std::vector<std::unique_ptr<Shard>> shards_;
    mutable std::atomic<unsigned long> generation_;
};

}  // namespace rcptguard
