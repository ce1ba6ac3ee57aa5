// lookup_cache: see lookup_cache.hpp.
#include "core/cache/lookup_cache.hpp"

#include <functional>

namespace rcptguard {

namespace {
constexpr std::size_t kShards = 16;
}

CacheSettings read_cache_settings(SectionReader& r) {
    using std::chrono::milliseconds;
    CacheSettings s;
    s.enabled = r.boolean("cache", s.enabled);
    s.positive_ttl = r.duration("cache_positive_ttl", s.positive_ttl, milliseconds(0), milliseconds(7 * 86400000LL));
    s.negative_ttl = r.duration("cache_negative_ttl", s.negative_ttl, milliseconds(0), milliseconds(7 * 86400000LL));
    s.stale_ttl = r.duration("cache_stale_ttl", s.stale_ttl, milliseconds(0), milliseconds(30 * 86400000LL));
    s.max_entries =
        static_cast<std::size_t>(r.integer("cache_size", static_cast<std::int64_t>(s.max_entries), 16, 100000000));
    return s;
}

CachedLookup::CachedLookup(std::shared_ptr<const BackendChain> chain, CacheSettings settings, const Clock& clock,
                           Metrics* metrics)
    : chain_(std::move(chain)),
      settings_(settings),
      clock_(clock),
      metrics_(metrics),
      per_shard_(settings.max_entries / kShards ? settings.max_entries / kShards : 1),
      generation_(0) {
    for (std::size_t i = 0; i < kShards; ++i) shards_.push_back(std::make_unique<Shard>());
    generation_.store(chain_generation());
}

CachedLookup::Shard& CachedLookup::shard_for(std::string_view key) const {
    return *shards_[std::hash<std::string_view>{}(key) % kShards];
}

unsigned long CachedLookup::chain_generation() const {
    unsigned long g = 0;
    for (const auto& b : chain_->backends()) g += b->generation();
    return g;
}

std::size_t CachedLookup::size() const {
    std::size_t n = 0;
    for (const auto& sh : shards_) {
        std::lock_guard<std::mutex> lock(sh->mutex);
        n += sh->map.size();
    }
    return n;
}

void CachedLookup::clear() const {
    for (const auto& sh : shards_) {
        std::lock_guard<std::mutex> lock(sh->mutex);
        sh->map.clear();
        sh->lru.clear();
    }
}

std::size_t CachedLookup::forget(const std::vector<std::string>& keys) const {
    std::size_t n = 0;
    for (const auto& key : keys) {
        Shard& sh = shard_for(key);
        std::lock_guard<std::mutex> lock(sh.mutex);
        auto it = sh.map.find(key);
        if (it == sh.map.end()) continue;
        sh.lru.erase(it->second.lru);
        sh.map.erase(it);
        ++n;
    }
    return n;
}

void CachedLookup::store(std::string_view key, const KeyAnswer& a, Millis now, unsigned long generation) const {
    Shard& sh = shard_for(key);
    std::string k(key);
    std::lock_guard<std::mutex> lock(sh.mutex);
    auto it = sh.map.find(k);
    if (it != sh.map.end()) {
        it->second.status = a.status;
        it->second.key = a.key;
        it->second.backend = a.backend;
        it->second.confirmed = now;
        it->second.generation = generation;
        sh.lru.splice(sh.lru.begin(), sh.lru, it->second.lru);
        return;
    }
    if (sh.map.size() >= per_shard_) {
        sh.map.erase(sh.lru.back());
        sh.lru.pop_back();
    }
    sh.lru.push_front(k);
    sh.map.emplace(std::move(k), Entry{a.status, a.key, a.backend, now, generation, sh.lru.begin()});
}

std::optional<KeyAnswer> CachedLookup::cached(const std::string& key, Millis now, unsigned long generation,
                                              KeyAnswer* stale) const {
    Shard& sh = shard_for(key);
    std::lock_guard<std::mutex> lock(sh.mutex);
    auto it = sh.map.find(key);
    if (it == sh.map.end()) return std::nullopt;
    const Entry& e = it->second;
    if (e.generation != generation) return std::nullopt;  // read before the data changed
    Millis ttl = e.status == LookupStatus::Found ? settings_.positive_ttl : settings_.negative_ttl;
    if (now - e.confirmed < ttl) {
        sh.lru.splice(sh.lru.begin(), sh.lru, it->second.lru);
        return KeyAnswer{e.status, e.key, e.backend, {}, false};
    }
    if (stale && e.status == LookupStatus::Found && now - e.confirmed <= settings_.stale_ttl)
        *stale = {LookupStatus::Found, e.key, e.backend, {}, true};
    return std::nullopt;
}

KeyAnswer CachedLookup::lookup(const std::vector<std::string>& keys) const { return *answer(keys, true); }

std::optional<KeyAnswer> CachedLookup::lookup_at_once(const std::vector<std::string>& keys) const {
    return answer(keys, false);
}

// may_wait = false: nothing is asked of a backend that may wait on another
// server; the answer is then nullopt (lookup_at_once()).
std::optional<KeyAnswer> CachedLookup::answer(const std::vector<std::string>& keys, bool may_wait) const {
    if (!settings_.enabled || keys.empty()) return may_wait ? chain_->lookup(keys) : chain_->lookup_at_once(keys);
    const std::string& key = keys.front();
    unsigned long g = chain_generation();
    if (g != generation_.load()) {
        // Data behind a backend changed: nothing cached can be trusted.
        clear();
        generation_.store(g);
    }
    Millis now = clock_.now();
    KeyAnswer stale;
    if (auto hit = cached(key, now, g, &stale)) {
        if (metrics_) bump(metrics_->cache_hits);
        return *hit;
    }
    // The catch-all key is the same for every address of a domain: it is
    // remembered on its own, so a flood of unknown addresses costs one query
    // each instead of two (or three with +detail). An internationalised
    // domain has two catch-all keys (A-label and U-label form, the trailing
    // "@" keys): they count as one, remembered under the first.
    std::size_t first_catch_all = keys.size();
    while (first_catch_all > 1 && !keys[first_catch_all - 1].empty() && keys[first_catch_all - 1].front() == '@')
        --first_catch_all;
    bool catch_all = first_catch_all < keys.size();
    std::size_t asked = keys.size();
    if (catch_all) {
        if (auto c = cached(keys[first_catch_all], now, g, nullptr)) {
            if (c->status == LookupStatus::Found) {
                if (metrics_) bump(metrics_->cache_misses);  // the address itself was not remembered
                store(key, *c, now, g);
                return *c;
            }
            asked = first_catch_all;  // no backend lists the catch-all
        }
    }
    if (!may_wait && !chain_->local()) return std::nullopt;  // the miss is counted when a worker asks
    if (metrics_) bump(metrics_->cache_misses);
    KeyAnswer fresh = asked == keys.size()
                          ? chain_->lookup(keys)
                          : chain_->lookup({keys.begin(), keys.begin() + static_cast<std::ptrdiff_t>(asked)});
    if (fresh.status != LookupStatus::TempFail) {
        // Kept under the generation seen before asking: if the data changed
        // meanwhile the answer may predate the change, and the entry then
        // never counts (even if another lookup emptied the cache already).
        store(key, fresh, now, g);
        bool found_catch_all = false;
        for (std::size_t i = first_catch_all; i < keys.size(); ++i) found_catch_all |= fresh.key == keys[i];
        if (catch_all && asked == keys.size() && (fresh.status == LookupStatus::NotFound || found_catch_all))
            store(keys[first_catch_all], fresh, now, g);
        return fresh;
    }
    if (stale.stale) {
        if (metrics_) bump(metrics_->cache_stale);
        stale.reason = "backend " + fresh.backend + " failed: " + fresh.reason + ": served from cache";
        return stale;
    }
    return fresh;
}

}  // namespace rcptguard
