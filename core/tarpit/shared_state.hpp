// shared_state: the keys that say where the harvest defence keeps its memory
// (shared_state, redis_*, state_file, host_name; rcptguard.conf(5), "SHARED
// STATE") and the one place that builds it: this host's LocalClientState,
// and for shared_state = redis a RedisStore with a SharedClientState in front.
// All of these keys need a restart to change (the memory outlives reloads).
// Thread-safety: reading is single-threaded (configuration); the built
// objects are thread-safe.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/tarpit/local_client_state.hpp"
#include "core/tarpit/redis_store.hpp"
#include "core/tarpit/shared_client_state.hpp"
#include "util/config_file.hpp"
#include "util/metrics.hpp"
#include "util/redis_client.hpp"

namespace rcptguard {

struct SharedStateSettings {
    bool redis = false;                     // shared_state = redis
    std::vector<std::string> server_specs;  // redis_servers, as written
    std::vector<RedisServer> servers;
    std::string password_file;  // redis_password_file
    std::string password;       // its first line
    std::string user;           // redis_user
    int db = 0;                 // redis_db
    std::string key_prefix = "rcptguard:";
    Millis timeout{100};        // redis_timeout
    Millis retry_after{10000};  // redis_retry_after
    std::string host_name;      // host_name ("" = the system's host name)
    std::string state_file;     // state_file
};

// Reads the keys from the global section; problems go to r.error(), advice to
// *warnings.
SharedStateSettings read_shared_state_settings(SectionReader& r, std::vector<std::string>* warnings);

RedisOptions redis_options(const SharedStateSettings& s);

// The memory the tarpit uses, built once at start.
struct ClientMemory {
    std::unique_ptr<LocalClientState> local;
    std::unique_ptr<RedisStore> store;          // shared_state = redis only
    std::unique_ptr<SharedClientState> shared;  // shared_state = redis only
    ClientState& state() { return shared ? static_cast<ClientState&>(*shared) : *local; }
};

struct ClientMemoryContext {
    std::size_t max_clients = 100000;  // ban_table_size
    const Clock* clock = nullptr;
    Metrics* metrics = nullptr;
    std::function<std::int64_t()> unix_time;  // for the state file; default time()
};

ClientMemory build_client_memory(const SharedStateSettings& s, const ClientMemoryContext& ctx);

}  // namespace rcptguard
