// shared_client_state: see shared_client_state.hpp.
#include "core/tarpit/shared_client_state.hpp"

#include <list>
#include <optional>
#include <unordered_map>
#include <vector>

#include "util/duration.hpp"
#include "util/log.hpp"

namespace rcptguard {

// Each client's standing as the store last gave it, and when. Bounded (least
// recently used first out) and sharded like the client table.
class StandingCache {
public:
    struct Item {
        ClientStatus status;
        Millis fetched{0};
    };

    explicit StandingCache(std::size_t max) : per_shard_(std::max<std::size_t>(1, max / kShards)) {}

    void put(const std::string& key, const ClientStatus& st, Millis now) {
        Shard& sh = shard_for(key);
        std::lock_guard<std::mutex> lock(sh.mutex);
        auto it = sh.map.find(key);
        if (it == sh.map.end()) {
            if (sh.map.size() >= per_shard_) {
                sh.map.erase(sh.lru.back());
                sh.lru.pop_back();
            }
            sh.lru.push_front(key);
            it = sh.map.emplace(key, Slot{}).first;
            it->second.lru = sh.lru.begin();
        } else {
            sh.lru.splice(sh.lru.begin(), sh.lru, it->second.lru);
        }
        it->second.item = Item{st, now};
    }

    std::optional<Item> get(const std::string& key) {
        Shard& sh = shard_for(key);
        std::lock_guard<std::mutex> lock(sh.mutex);
        auto it = sh.map.find(key);
        if (it == sh.map.end()) return std::nullopt;
        return it->second.item;
    }

    void erase_if(const std::function<bool(const std::string&)>& matches) {
        for (auto& sh : shards_) {
            std::lock_guard<std::mutex> lock(sh.mutex);
            for (auto it = sh.map.begin(); it != sh.map.end();) {
                if (matches(it->first)) {
                    sh.lru.erase(it->second.lru);
                    it = sh.map.erase(it);
                } else {
                    ++it;
                }
            }
        }
    }

private:
    static constexpr std::size_t kShards = 16;
    struct Slot {
        Item item;
        std::list<std::string>::iterator lru;
    };
    struct Shard {
        std::mutex mutex;
        std::unordered_map<std::string, Slot> map;
        std::list<std::string> lru;
    };
    Shard& shard_for(const std::string& key) { return shards_[std::hash<std::string>{}(key) % kShards]; }

    std::size_t per_shard_;
    Shard shards_[kShards];
};

namespace {

// The cached standing as it is now: a ban runs out while it sits in the cache.
ClientStatus aged(const StandingCache::Item& c, Millis now) {
    ClientStatus st = c.status;
    st.newly_banned = false;
    if (st.banned) {
        st.ban_left -= now - c.fetched;
        if (st.ban_left.count() <= 0) {
            st.banned = false;
            st.ban_left = Millis(0);
        }
    }
    return st;
}

// While the store decides, the local table counts without banning.
BanSettings counting_only(const BanSettings& s) {
    BanSettings c = s;
    c.ban_threshold = 0;
    return c;
}

}  // namespace

SharedClientState::SharedClientState(SharedStore& store, LocalClientState& local, const Clock& clock, Metrics* metrics,
                                     SharedStateOptions options)
    : store_(store),
      local_(local),
      clock_(clock),
      metrics_(metrics),
      options_(std::move(options)),
      cache_(std::make_unique<StandingCache>(options_.cache_size)) {}

SharedClientState::~SharedClientState() = default;

void SharedClientState::start() {
    std::string error;
    if (store_.ping(&error)) {
        log_notice("shared state: " + store_.describe() + ": answers; harvest counts and bans are shared");
        if (metrics_) bump(metrics_->shared_state_ok);
    } else {
        failed(error);
    }
}

ClientStatus SharedClientState::from_store(const SharedStanding& st) const {
    ClientStatus out;
    out.bad_in_window = st.bad_in_window;
    out.banned = st.ban_left.count() > 0;
    out.ban_left = st.ban_left;
    out.newly_banned = st.newly_banned;
    out.shared = true;
    return out;
}

void SharedClientState::failed(const std::string& error) {
    if (metrics_) bump(metrics_->shared_state_failed);
    store_.reset();
    Millis now = clock_.now();
    bool was_down = false;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        last_error_ = error;
        retry_at_ = now + options_.retry_after;
        was_down = down_.exchange(true, std::memory_order_acq_rel);
        if (!was_down) down_since_ = now;
    }
    if (was_down) return;
    if (metrics_) bump(metrics_->shared_state_outages);
    log_warning("shared state: " + store_.describe() + ": " + error +
                ": going on with this host's own counts and bans; next try in " +
                format_duration(options_.retry_after));
}

ClientStatus SharedClientState::connection_status(const std::string& key, const BanSettings& s) {
    if (key.empty() || !healthy()) {
        if (!key.empty() && metrics_) bump(metrics_->shared_state_skipped);
        return local_.connection_status(key, s);
    }
    Millis now = clock_.now();
    if (auto c = cache_->get(key); c && now - c->fetched < options_.cache_time) {
        if (metrics_) bump(metrics_->shared_state_cached);
        return aged(*c, now);
    }
    SharedStanding st;
    std::string error;
    if (!store_.standing(key, s, &st, &error)) {
        failed(error);
        return local_.connection_status(key, s);
    }
    if (metrics_) bump(metrics_->shared_state_ok);
    ClientStatus out = from_store(st);
    out.newly_banned = false;
    cache_->put(key, out, now);
    if (!out.banned && local_.local_table().status(key, s).banned)
        local_.local_table().forget_if([&](const std::string& k) { return k == key; });
    return out;
}

ClientStatus SharedClientState::known_status(const std::string& key, const BanSettings& s) {
    if (key.empty() || !healthy()) return local_.known_status(key, s);
    if (auto c = cache_->get(key)) return aged(*c, clock_.now());
    return ClientStatus{};
}

ClientStatus SharedClientState::add_bad(const std::string& key, unsigned count, const BanSettings& s) {
    if (key.empty() || !healthy()) {
        if (!key.empty() && metrics_) bump(metrics_->shared_state_skipped);
        return local_.add_bad(key, count, s);
    }
    local_.add_bad(key, count, counting_only(s));
    SharedStanding st;
    std::string error;
    if (!store_.add_bad(key, count, s, options_.host_name, &st, &error)) {
        failed(error);
        // The count is in the local table already; judge by it alone.
        return local_.known_status(key, s);
    }
    if (metrics_) bump(metrics_->shared_state_ok);
    ClientStatus out = from_store(st);
    ClientStatus cached = out;
    cached.newly_banned = false;
    cache_->put(key, cached, clock_.now());
    return out;
}

std::vector<ClientRecord> SharedClientState::list(const BanSettings& s, std::size_t max, std::string* note) {
    std::string error;
    std::vector<ClientRecord> out;
    if (store_.list(s, max, &out, &error)) {
        if (!healthy())
            *note =
                "the shared state answers again; this host still uses its own counts until its next "
                "retry";
        return out;
    }
    failed(error);
    *note = "the shared state does not answer (" + error + "): this host's own counts and bans only";
    return local_.list(s, max, note);
}

bool SharedClientState::forget(const Network& net, std::size_t* lifted, std::string* error) {
    std::size_t here = 0;
    local_.forget(net, &here, error);
    forget_cached(&net);
    std::string problem;
    if (!store_.forget(net, lifted, &problem)) {
        failed(problem);
        *lifted = here;
        *error = "lifted on this host only: the shared state does not answer (" + problem +
                 "); the other hosts keep the ban until it does";
        return false;
    }
    return true;
}

void SharedClientState::forget_cached(const Network* net) {
    cache_->erase_if([&](const std::string& key) { return !net || client_key_overlaps(key, *net); });
}

std::string SharedClientState::describe() {
    std::string out = "redis " + store_.describe();
    std::lock_guard<std::mutex> lock(mutex_);
    if (!down_.load(std::memory_order_acquire)) return out + ": answering (counts and bans shared)";
    Millis now = clock_.now();
    Millis next = retry_at_ - now;
    return out + ": NOT answering for " + format_duration(now - down_since_) + " (" + last_error_ +
           "); this host uses its own counts and bans; next try in " +
           format_duration(next.count() > 0 ? next : Millis(0));
}

void SharedClientState::maintain(const BanSettings& s) {
    local_.maintain(s);
    store_.maintain();
    if (healthy()) return;
    Millis now = clock_.now();
    Millis since;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        if (now < retry_at_) return;
        retry_at_ = now + options_.retry_after;
        since = down_since_;
    }
    std::string error;
    if (!store_.ping(&error)) {
        std::lock_guard<std::mutex> lock(mutex_);
        last_error_ = error;
        return;
    }
    cache_->erase_if([](const std::string&) { return true; });
    down_.store(false, std::memory_order_release);
    log_notice("shared state: " + store_.describe() + ": answers again after " + format_duration(now - since) +
               ": harvest counts and bans are shared again");
}

}  // namespace rcptguard
