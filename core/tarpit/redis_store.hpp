// redis_store: the harvest defence's shared counters and bans in Redis (or
// Valkey), for every MX host that points at the same server (shared_state =
// redis). The format is documented in rcptguard.conf(5), "SHARED STATE", so
// other tools can read it; for a client key K (an address, or an IPv6 prefix
// such as 2001:db8:1:2::/64) and the prefix P (redis_key_prefix):
//
//   P bad:K   a hash: "b:N" -> bad recipients counted in slice N of the
//             window (N = server time in ms / (ban_window / 8)); "host" -> the
//             host that counted last. Expires by itself one window after the
//             last bad recipient.
//   P ban:K   a hash: "host" (who banned), "bad" (the count then), "since"
//             (server time in ms). Expires by itself when the ban ends; its
//             time to live is the ban's time left.
//
// All counting and banning runs in one Lua script on the server (atomic: two
// hosts counting the same client at once never lose a count or ban twice),
// on the server's clock (the hosts' clocks need not agree). The script trusts
// nothing it reads: slices that are not integers from 0 to 1,000,000, out of
// the window, or keys of another type are ignored and, when counting, removed;
// a ban key without an expiry or longer than 30 days is not a ban. A count
// never comes out larger than 1,000,000.
// Every host must use the same ban_window, ban_threshold and ban_time.
// Thread-safety: every member from any thread at once.
#pragma once

#include <memory>
#include <string>

#include "core/tarpit/shared_store.hpp"
#include "util/redis_client.hpp"

namespace rcptguard {

class RedisStore final : public SharedStore {
public:
    RedisStore(RedisOptions options, std::string key_prefix);

    bool add_bad(const std::string& key, unsigned count, const BanSettings& s, const std::string& host,
                 SharedStanding* out, std::string* error) noexcept override;
    bool standing(const std::string& key, const BanSettings& s, SharedStanding* out,
                  std::string* error) noexcept override;
    bool list(const BanSettings& s, std::size_t max, std::vector<ClientRecord>* out,
              std::string* error) noexcept override;
    bool forget(const Network& net, std::size_t* lifted, std::string* error) noexcept override;
    bool ping(std::string* error) noexcept override;
    void reset() noexcept override { client_.reset(); }
    void maintain() noexcept override { client_.close_idle(); }
    std::string describe() const override;

    std::string counts_key(const std::string& client) const { return prefix_ + "bad:" + client; }
    std::string ban_key(const std::string& client) const { return prefix_ + "ban:" + client; }

private:
    bool run(const char* mode, const std::string& key, unsigned count, const BanSettings& s, const std::string& host,
             SharedStanding* out, std::string* error) noexcept;
    // Every client key under the prefix (SCAN; bounded).
    bool clients(std::size_t max, std::vector<std::string>* out, std::string* error);

    RedisClient client_;
    std::string prefix_;
};

// The Lua script (for the tests and for readers of the format).
const std::string& redis_tarpit_script();

}  // namespace rcptguard
