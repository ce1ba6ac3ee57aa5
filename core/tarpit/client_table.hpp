// client_table: per-client memory across connections for the harvest defence.
// Counts each client's bad recipients over a sliding window and bans a client
// that goes over the threshold for ban_time. Keys come from client_key()
// (IPv6 aggregated to a prefix).
//
// Bounded: at most max_clients entries, least recently seen evicted first, so
// a flood of distinct clients costs a fixed amount of memory. Sharded, with a
// short lock per shard and no lock held across anything slow.
// This is the local memory of one host; core/tarpit/client_state.hpp says who
// uses it (alone, or behind the state shared through Redis).
// Thread-safety: every member may be called from many threads at once.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "util/clock.hpp"

namespace rcptguard {

struct BanSettings {
    unsigned ban_threshold = 30;  // bad recipients within window; 0 = never ban
    Millis window{10 * 60 * 1000};
    Millis ban_time{60 * 60 * 1000};
};

struct ClientStatus {
    unsigned bad_in_window = 0;
    bool banned = false;
    bool newly_banned = false;  // this call crossed the threshold
    Millis ban_left{0};
    bool shared = false;  // counted on every host that shares the state (Redis)
};

// One client as "rcptguard-ctl bans" and the status page list it.
struct ClientRecord {
    std::string key;  // client_key(): an address or an IPv6 prefix
    unsigned bad_in_window = 0;
    Millis ban_left{0};  // 0 = not banned
    std::string host;    // the host that counted it last ("" = not known)

    bool banned() const { return ban_left.count() > 0; }
};

// The order of every client list: banned clients first, then by bad
// recipients (most first), then by key.
bool listed_before(const ClientRecord& x, const ClientRecord& y);

// What a listing found in all, beyond the records it returns.
struct ClientCounts {
    std::size_t total = 0;   // clients counted or banned
    std::size_t banned = 0;  // of them banned
};

class ClientTable {
public:
    ClientTable(std::size_t max_clients, const Clock& clock);

    ClientStatus add_bad(const std::string& key, unsigned count, const BanSettings& s);
    ClientStatus status(const std::string& key, const BanSettings& s);
    std::size_t size() const;
    std::size_t capacity() const { return max_clients_; }
    std::size_t banned_now();
    // The clients counted now (bad recipients within the window) or banned,
    // in listed_before() order, at most max of them; host is left empty.
    // *counts (optional) receives how many there are in all. Walks every
    // shard under its lock, one at a time: for a page view or rcptguard-ctl,
    // not per recipient.
    std::vector<ClientRecord> list(const BanSettings& s, std::size_t max, ClientCounts* counts = nullptr);
    void clear();

    // Forgets every client for which matches(key) is true (its count and its
    // ban); returns how many.
    std::size_t forget_if(const std::function<bool(const std::string&)>& matches);
    // Bans key for ban_left from now (restoring a saved ban), keeping the
    // longer ban if it already has one; bad is its count at the time.
    void restore_ban(const std::string& key, Millis ban_left, unsigned bad, const BanSettings& s);
    // Moves whenever a ban was made, restored or lifted (the state file is
    // written when it moved).
    std::uint64_t ban_changes() const { return ban_changes_.load(std::memory_order_relaxed); }

private:
    static constexpr std::size_t kShards = 16;
    static constexpr int kBuckets = 8;

    struct Entry {
        std::array<std::int64_t, kBuckets> bucket_id{};
        std::array<std::uint32_t, kBuckets> count{};
        Millis banned_until{0};
        std::list<std::string>::iterator lru;
    };
    struct Shard {
        mutable std::mutex mutex;
        std::unordered_map<std::string, Entry> map;
        std::list<std::string> lru;  // front = most recently seen
    };

    Shard& shard_for(const std::string& key);
    Entry& touch(Shard& sh, const std::string& key);  // find or create, most recently seen; sh locked
    static unsigned window_sum(const Entry& e, std::int64_t current_bucket);
    static ClientStatus describe(const Entry& e, std::int64_t bucket, Millis now);

    std::size_t max_clients_;
    std::size_t per_shard_;
    const Clock& clock_;
    std::vector<std::unique_ptr<Shard>> shards_;
    std::atomic<std::uint64_t> ban_changes_{0};
};

}  // namespace rcptguard
