// local_client_state: the harvest defence's memory on this host alone
// (shared_state = local): the bounded ClientTable, and optionally a state
// file (state_file.hpp) so that bans survive a restart.
//
// The state file is read once by load() at start (a missing file is normal;
// a damaged one is refused as a whole, logged by the caller, and nobody is
// banned by it) and written atomically (util/atomic_file) by maintain() when
// a ban was made, restored or lifted since the last write - at most every
// kSaveInterval - and by save() at an orderly stop. A failed write is logged
// once until the next success.
// Thread-safety: every member from any thread; maintain() and save() from one
// thread at a time.
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <string>

#include "core/tarpit/client_state.hpp"

namespace rcptguard {

struct LocalStateOptions {
    std::size_t max_clients = 100000;
    std::string host_name;   // shown as the host that counted a client
    std::string state_file;  // "" = bans are not kept across restarts
    // Wall-clock seconds since 1970 (the file outlives the monotonic clock).
    std::function<std::int64_t()> unix_time;
};

class LocalClientState final : public ClientState {
public:
    static constexpr Millis kSaveInterval{10000};

    LocalClientState(LocalStateOptions options, const Clock& clock);

    // Reads the state file. Returns "" (also when there is none yet) or the
    // problem, for a warning: "state file PATH: line 3: ...".
    std::string load(const BanSettings& s);

    ClientStatus connection_status(const std::string& key, const BanSettings& s) override;
    ClientStatus known_status(const std::string& key, const BanSettings& s) override;
    ClientStatus add_bad(const std::string& key, unsigned count, const BanSettings& s) override;
    std::vector<ClientRecord> list(const BanSettings& s, std::size_t max, std::string* note) override;
    bool forget(const Network& net, std::size_t* lifted, std::string* error) override;
    void forget_cached(const Network*) override {}
    std::string describe() override;
    bool healthy() override { return true; }
    void maintain(const BanSettings& s) override;
    void save(const BanSettings& s) override;
    ClientTable& local_table() override { return table_; }

private:
    // Writes the state file (save_mutex_ held); returns "" or the problem.
    std::string write_state_file(const BanSettings& s);

    LocalStateOptions options_;
    const Clock& clock_;
    ClientTable table_;
    std::mutex save_mutex_;
    std::uint64_t saved_changes_ = 0;  // ban_changes() at the last write
    Millis last_save_{0};
    std::string save_problem_;  // the last write's problem, logged once
};

}  // namespace rcptguard
