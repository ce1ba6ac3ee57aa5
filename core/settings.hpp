// settings: the global keys of rcptguard.conf, read and validated into one
// immutable struct (see rcptguard.conf(5) for every key and its default).
// read_settings() throws ConfigError naming file, line and key.
// Thread-safety: immutable once built; shared through Runtime snapshots.
#pragma once

#include <string>
#include <vector>

#include "batv/batv_settings.hpp"
#include "bounce/bounce_settings.hpp"
#include "cache/lookup_cache.hpp"
#include "config_file.hpp"
#include "log.hpp"
#include "policy/recipient_policy.hpp"
#include "tarpit/tarpit.hpp"

namespace rcptguard {

// SYSCONFDIR/rcptguard/rcptguard.conf, SYSCONFDIR as the build was made
// (/etc by default; see paths.cpp).
extern const char* const kDefaultConfigPath;

struct Settings {
    std::string config_path;

    // Listener and process (changing these needs a restart).
    std::string socket = "inet:8894@127.0.0.1";
    unsigned socket_mode = 0660;
    std::string socket_group;  // "" = the primary group of "user"
    std::string user;          // "" = keep the identity rcptguard was started with
    std::string group;         // "" = the primary group of "user"
    std::string pid_file = "/run/rcptguard/rcptguard.pid";
    LogSettings log;

    // Recipient policy.
    std::vector<std::string> backend_names;
    PolicySettings policy;

    // Harvest defence (tarpit.hpp).
    TarpitSettings tarpit;

    // BATV (batv_settings.hpp).
    BatvSettings batv;

    // Bounce stripping (bounce_settings.hpp).
    BounceSettings bounces;

    // Lookup cache (lookup_cache.hpp) and statistics.
    CacheSettings cache;
    std::string metrics_listen;  // "" = off, else "HOST:PORT" (restart)

    // Front ends.
    bool milter_recipient_checks = true;  // judge RCPT in the milter (off when the policy service does)
    std::string policy_socket;            // "" = off; inet:HOST:PORT or unix:PATH (restart)
    unsigned policy_workers = 4;          // (restart)

    // Not errors, but worth telling the admin ("file:line: ..."); logged at
    // start and reload, printed by -n.
    std::vector<std::string> warnings;
};

Settings read_settings(const ConfigFile& file);

// Checks a milter socket specification (unix:PATH, local:PATH, inet:PORT@HOST,
// inet6:PORT@HOST); returns "" or the problem.
std::string check_socket_spec(const std::string& spec);

}  // namespace rcptguard
