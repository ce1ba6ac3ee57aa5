// settings: the global keys of rcptguard.conf, read and validated into one
// immutable struct (see rcptguard.conf(5) for every key and its default).
// Problems are reported as "file:line: key: problem" (see config_file.hpp).
// Thread-safety: immutable once built; shared through Runtime snapshots.
#pragma once

#include <string>
#include <vector>

#include "core/batv/batv_settings.hpp"
#include "core/bounce/bounce_settings.hpp"
#include "core/cache/lookup_cache.hpp"
#include "core/recipients/recipient_rules.hpp"
#include "core/tarpit/shared_state.hpp"
#include "core/tarpit/tarpit.hpp"
#include "util/config_file.hpp"
#include "util/log.hpp"

namespace rcptguard {

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

    // Recipient rules (core/recipients).
    std::vector<std::string> backend_names;
    RecipientSettings recipients;

    // Harvest defence (tarpit.hpp) and where it keeps its memory (shared_state.hpp; restart).
    TarpitSettings tarpit;
    SharedStateSettings shared;

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
    std::string control_socket;           // "" = off; rcptguard-ctl's unix socket (restart)

    // Not errors, but worth telling the admin ("file:line: ..."); logged at
    // start and reload, printed by -n.
    std::vector<std::string> warnings;
};

// "domains = backend:NAME": the domains come from NAME's domain_query.
constexpr const char* kBackendDomainsPrefix = "backend:";

// Reads the global section and the [domain NAME] sections; every problem is recorded in file.problems (the
// caller throws them, with the backend sections' problems, when done).
Settings read_global_settings(const ConfigFile& file);
// The same, throwing ConfigErrors at once if the global section has problems
// (for tools that need no backends).
Settings read_settings(const ConfigFile& file);

}  // namespace rcptguard
