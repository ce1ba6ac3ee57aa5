// client_state: what the harvest defence remembers about clients across
// connections - each client's bad recipients in the sliding ban_window and
// its ban - behind one interface, so the tarpit's rules (tarpit.hpp) do not
// care where that memory lives:
//
// - LocalClientState (local_client_state.hpp): this host's own bounded table,
//   optionally saved to a state file so bans survive a restart
//   (shared_state = local, the default).
// - SharedClientState (shared_client_state.hpp): the same counters kept in a
//   store shared by every MX host (Redis, shared_state = redis), with the
//   local table as the fallback while the store cannot answer.
//
// Cost contract, which the tarpit relies on:
// - connection_status() is asked once per SMTP connection, at its first
//   recipient; it may ask a shared store once (bounded by its timeout) or
//   answer from a short local cache.
// - known_status() is asked for every further recipient and never waits.
// - add_bad() is asked once per bad recipient; at most one round trip.
// Nothing here ever turns a failure of the shared store into a refusal: it
// falls back to the local state at once.
//
// The administration side (rcptguard-ctl bans, unban, flush-cache, status)
// uses list(), forget(), forget_cached() and describe().
// Thread-safety: every member may be called from any thread at once.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "core/tarpit/client_table.hpp"
#include "util/network.hpp"

namespace rcptguard {

class ClientState {
public:
    virtual ~ClientState() = default;

    virtual ClientStatus connection_status(const std::string& key, const BanSettings& s) = 0;
    virtual ClientStatus known_status(const std::string& key, const BanSettings& s) = 0;
    virtual ClientStatus add_bad(const std::string& key, unsigned count, const BanSettings& s) = 0;

    // Clients banned or being counted, at most max. *note says where the list
    // comes from when that matters ("redis unreachable: this host only...").
    virtual std::vector<ClientRecord> list(const BanSettings& s, std::size_t max, std::string* note) = 0;
    // Lifts the ban of, and forgets the count of, every client whose key
    // overlaps net - everywhere the state is shared. *lifted = how many keys;
    // false and *error when only part of it could be done (e.g. the shared
    // store is down: lifted here only).
    virtual bool forget(const Network& net, std::size_t* lifted, std::string* error) = 0;
    // Drops what a local cache remembers of the shared state (all clients,
    // or those overlapping net).
    virtual void forget_cached(const Network* net) = 0;

    // One line for "rcptguard-ctl status": mode and health.
    virtual std::string describe() = 0;
    // True while the configured state is fully in use (for shared state: the
    // store answers); false while falling back to local state.
    virtual bool healthy() = 0;
    // True when counts and bans are shared with other hosts.
    virtual bool shared() const { return false; }

    // About once a second from the maintenance thread: retries, state file.
    virtual void maintain(const BanSettings& s) = 0;
    // At an orderly stop: write what must survive a restart.
    virtual void save(const BanSettings& s) = 0;

    // This host's table (the local memory in every mode), for the metrics.
    virtual ClientTable& local_table() = 0;
};

// True when a client key ("192.0.2.7", "2001:db8:1:2::/64") overlaps net.
bool client_key_overlaps(const std::string& key, const Network& net);

}  // namespace rcptguard
