// client_table: see client_table.hpp. The window is kept as eight buckets of
// window/8 each: memory per client stays fixed however many bad recipients
// it sends, at the price of a window edge that moves in eighths.
#include "core/tarpit/client_table.hpp"

#include <algorithm>
#include <functional>

namespace rcptguard {

ClientTable::ClientTable(std::size_t max_clients, const Clock& clock)
    : max_clients_(max_clients < kShards ? kShards : max_clients), per_shard_(max_clients_ / kShards), clock_(clock) {
    for (std::size_t i = 0; i < kShards; ++i) shards_.push_back(std::make_unique<Shard>());
}

ClientTable::Shard& ClientTable::shard_for(const std::string& key) {
    return *shards_[std::hash<std::string>{}(key) % kShards];
}

unsigned ClientTable::window_sum(const Entry& e, std::int64_t current) {
    unsigned sum = 0;
    for (int i = 0; i < kBuckets; ++i)
        if (e.bucket_id[i] > current - kBuckets && e.bucket_id[i] <= current) sum += e.count[i];
    return sum;
}

ClientStatus ClientTable::describe(const Entry& e, std::int64_t bucket, Millis now) {
    ClientStatus st;
    st.bad_in_window = window_sum(e, bucket);
    if (e.banned_until > now) {
        st.banned = true;
        st.ban_left = e.banned_until - now;
    }
    return st;
}

static std::int64_t bucket_of(Millis now, const BanSettings& s) {
    std::int64_t width = s.window.count() / 8;
    if (width <= 0) width = 1;
    return now.count() / width;
}

ClientTable::Entry& ClientTable::touch(Shard& sh, const std::string& key) {
    auto it = sh.map.find(key);
    if (it == sh.map.end()) {
        if (sh.map.size() >= per_shard_) {
            sh.map.erase(sh.lru.back());
            sh.lru.pop_back();
        }
        sh.lru.push_front(key);
        it = sh.map.emplace(key, Entry{}).first;
        it->second.lru = sh.lru.begin();
    } else {
        sh.lru.splice(sh.lru.begin(), sh.lru, it->second.lru);
    }
    return it->second;
}

ClientStatus ClientTable::add_bad(const std::string& key, unsigned count, const BanSettings& s) {
    if (key.empty()) return {};
    Millis now = clock_.now();
    std::int64_t b = bucket_of(now, s);
    Shard& sh = shard_for(key);
    std::lock_guard<std::mutex> lock(sh.mutex);
    Entry& e = touch(sh, key);
    int slot = static_cast<int>(((b % kBuckets) + kBuckets) % kBuckets);
    if (e.bucket_id[slot] != b) {
        e.bucket_id[slot] = b;
        e.count[slot] = 0;
    }
    e.count[slot] += count;
    ClientStatus st = describe(e, b, now);
    if (!st.banned && s.ban_threshold > 0 && st.bad_in_window >= s.ban_threshold) {
        e.banned_until = now + s.ban_time;
        st.banned = true;
        st.newly_banned = true;
        st.ban_left = s.ban_time;
        ban_changes_.fetch_add(1, std::memory_order_relaxed);
    }
    return st;
}

ClientStatus ClientTable::status(const std::string& key, const BanSettings& s) {
    if (key.empty()) return {};
    Millis now = clock_.now();
    Shard& sh = shard_for(key);
    std::lock_guard<std::mutex> lock(sh.mutex);
    auto it = sh.map.find(key);
    if (it == sh.map.end()) return {};
    return describe(it->second, bucket_of(now, s), now);
}

std::size_t ClientTable::size() const {
    std::size_t n = 0;
    for (const auto& sh : shards_) {
        std::lock_guard<std::mutex> lock(sh->mutex);
        n += sh->map.size();
    }
    return n;
}

std::size_t ClientTable::banned_now() {
    Millis now = clock_.now();
    std::size_t n = 0;
    for (const auto& sh : shards_) {
        std::lock_guard<std::mutex> lock(sh->mutex);
        for (const auto& kv : sh->map)
            if (kv.second.banned_until > now) ++n;
    }
    return n;
}

bool listed_before(const ClientRecord& x, const ClientRecord& y) {
    if (x.banned() != y.banned()) return x.banned();
    if (x.bad_in_window != y.bad_in_window) return x.bad_in_window > y.bad_in_window;
    return x.key < y.key;
}

std::vector<ClientRecord> ClientTable::list(const BanSettings& s, std::size_t max, ClientCounts* counts) {
    Millis now = clock_.now();
    std::int64_t b = bucket_of(now, s);
    std::vector<ClientRecord> all;
    for (const auto& sh : shards_) {
        std::lock_guard<std::mutex> lock(sh->mutex);
        for (const auto& [key, e] : sh->map) {
            ClientStatus st = describe(e, b, now);
            if (st.banned || st.bad_in_window > 0)
                all.push_back(ClientRecord{key, st.bad_in_window, st.banned ? st.ban_left : Millis(0), ""});
        }
    }
    if (counts) {
        counts->total = all.size();
        counts->banned =
            static_cast<std::size_t>(std::count_if(all.begin(), all.end(), std::mem_fn(&ClientRecord::banned)));
    }
    std::size_t n = std::min(max, all.size());
    std::partial_sort(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(n), all.end(), listed_before);
    all.resize(n);
    return all;
}

void ClientTable::clear() {
    for (auto& sh : shards_) {
        std::lock_guard<std::mutex> lock(sh->mutex);
        sh->map.clear();
        sh->lru.clear();
    }
    ban_changes_.fetch_add(1, std::memory_order_relaxed);
}

std::size_t ClientTable::forget_if(const std::function<bool(const std::string&)>& matches) {
    std::size_t n = 0;
    for (auto& sh : shards_) {
        std::lock_guard<std::mutex> lock(sh->mutex);
        for (auto it = sh->map.begin(); it != sh->map.end();) {
            if (matches(it->first)) {
                sh->lru.erase(it->second.lru);
                it = sh->map.erase(it);
                ++n;
            } else {
                ++it;
            }
        }
    }
    if (n > 0) ban_changes_.fetch_add(1, std::memory_order_relaxed);
    return n;
}

void ClientTable::restore_ban(const std::string& key, Millis ban_left, unsigned bad, const BanSettings& s) {
    if (key.empty() || ban_left.count() <= 0) return;
    Millis now = clock_.now();
    std::int64_t b = bucket_of(now, s);
    Shard& sh = shard_for(key);
    std::lock_guard<std::mutex> lock(sh.mutex);
    Entry& e = touch(sh, key);
    e.banned_until = std::max(e.banned_until, now + ban_left);
    int slot = static_cast<int>(((b % kBuckets) + kBuckets) % kBuckets);
    if (window_sum(e, b) == 0 && bad > 0) {
        e.bucket_id[slot] = b;
        e.count[slot] = bad;
    }
    ban_changes_.fetch_add(1, std::memory_order_relaxed);
}

}  // namespace rcptguard
