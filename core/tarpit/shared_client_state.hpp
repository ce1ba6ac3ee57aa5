// shared_client_state: the harvest defence's memory shared by several MX
// hosts through a SharedStore (Redis, shared_state = redis), so that a
// harvester spreading its guesses over all MX hosts meets the thresholds of
// one host, and a ban made on one host refuses the client on all of them.
//
// - While the store answers, it decides: counts and bans come from it (the
//   local table counts along, but bans nothing, so it is ready as a
//   fallback).
// - connection_status() (once per SMTP connection) asks the store unless the
//   client's standing was fetched less than cache_time ago; known_status()
//   (every further recipient) only reads that cache; add_bad() (each bad
//   recipient) is one round trip. A valid recipient costs no round trip.
// - Circuit breaker: the first failed call (down, hung, refusing the login,
//   answering garbage - each bounded by the store's timeout) logs one warning,
//   counts an outage in the metrics, and from then on every call is answered
//   from the local table at once, with no wait. maintain() retries the store
//   every retry_after; when it answers again a notice is logged and the shared
//   counts are used again. Nothing here ever refuses a recipient because the
//   store failed.
// - When the store says a client is not banned but the local table banned it
//   (during an outage, on local counts), the local ban is lifted: an unban made
//   anywhere counts here too.
// Thread-safety: every member from any thread at once; maintain() from one
// thread.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>

#include "core/tarpit/client_state.hpp"
#include "core/tarpit/local_client_state.hpp"
#include "core/tarpit/shared_store.hpp"
#include "util/metrics.hpp"

namespace rcptguard {

struct SharedStateOptions {
    std::string host_name;      // this host, as the store records who counted
    Millis retry_after{10000};  // how long the store is left alone after a failure
    Millis cache_time{2000};    // a client's standing is reused this long
    std::size_t cache_size = 100000;
};

class StandingCache;

class SharedClientState final : public ClientState {
public:
    SharedClientState(SharedStore& store, LocalClientState& local, const Clock& clock, Metrics* metrics,
                      SharedStateOptions options);
    ~SharedClientState() override;

    // One probe at start, so the log tells at once whether the store answers.
    void start();

    ClientStatus connection_status(const std::string& key, const BanSettings& s) override;
    ClientStatus known_status(const std::string& key, const BanSettings& s) override;
    ClientStatus add_bad(const std::string& key, unsigned count, const BanSettings& s) override;
    std::vector<ClientRecord> list(const BanSettings& s, std::size_t max, std::string* note) override;
    bool forget(const Network& net, std::size_t* lifted, std::string* error) override;
    void forget_cached(const Network* net) override;
    std::string describe() override;
    bool healthy() override { return !down_.load(std::memory_order_acquire); }
    bool shared() const override { return true; }
    void maintain(const BanSettings& s) override;
    void save(const BanSettings& s) override { local_.save(s); }
    ClientTable& local_table() override { return local_.local_table(); }

private:
    void failed(const std::string& error);
    ClientStatus from_store(const SharedStanding& st) const;

    SharedStore& store_;
    LocalClientState& local_;
    const Clock& clock_;
    Metrics* metrics_;
    SharedStateOptions options_;
    std::unique_ptr<StandingCache> cache_;
    std::atomic<bool> down_{false};
    std::mutex mutex_;  // guards what follows
    std::string last_error_;
    Millis down_since_{0};
    Millis retry_at_{0};
};

}  // namespace rcptguard
