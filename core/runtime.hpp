// runtime: one complete, immutable snapshot of what the daemon runs with -
// settings, backends and the recipient policy - built from the configuration
// file in one go. A reload (SIGUSR1) builds a new snapshot off to the side and
// publishes it only if the whole build succeeded; connections keep the
// snapshot they started with until they close.
//
// build_runtime() throws ConfigError ("file:line: key: problem"); transient
// backend problems are not errors but land in warnings.
// Thread-safety: a Runtime is immutable (backends are internally synchronised);
// RuntimeHolder hands out snapshots to any thread.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "backends/backend.hpp"
#include "core/cache/lookup_cache.hpp"
#include "core/recipients/recipient_rules.hpp"
#include "core/settings.hpp"
#include "util/metrics.hpp"
#include "util/published.hpp"

namespace rcptguard {

struct Runtime {
    std::shared_ptr<const Settings> settings;
    std::vector<BackendPtr> backends;  // every backend in use, each once
    bool lookups_local = false;        // every one of them answers_locally()
    std::shared_ptr<const RecipientRules> rules;
    std::shared_ptr<const BackendChain> all_backends;  // every backend in use, for rcptguard-ctl status (never asked)
    std::shared_ptr<const CachedLookup> cache;         // the global backends' cache; null when cache = no
    std::shared_ptr<Metrics> own_metrics;              // the counters when built without the daemon's metrics
    std::vector<std::string> warnings;
    // What the stores said about the configured queries ("backend NAME:
    // query: ..."): "rcptguard -n" fails with them, a reload is refused, and
    // at start they are logged as errors (lookups answer TempFail).
    std::vector<std::string> query_problems;
    unsigned long serial = 0;      // 1 for the first build, +1 per successful reload
    std::int64_t loaded_unix = 0;  // when it was built (seconds since 1970)
    ConfigFile source;             // the file as read, so a reload can say what changed

    // Lets backends notice changed files; called by the maintenance thread.
    void maintain() const;
};

// What a runtime is built with beyond its configuration file: where to count
// (nullptr = nowhere, e.g. for -q) and the clock for cache ages.
struct RuntimeContext {
    Metrics* metrics = nullptr;
    const Clock* clock = nullptr;  // nullptr = a steady clock
};

std::shared_ptr<const Runtime> build_runtime(const std::string& config_path, unsigned long serial,
                                             const RuntimeContext& ctx = {});
// The same from an already parsed file (tests use it with keys_read set).
std::shared_ptr<const Runtime> build_runtime_from(const ConfigFile& file, unsigned long serial,
                                                  const RuntimeContext& ctx = {});

using RuntimeHolder = Published<Runtime>;

// Keys whose change a reload cannot apply (the socket is open, privileges are
// dropped): returns their names, for a warning.
std::vector<std::string> restart_only_changes(const Settings& running, const Settings& loaded);

}  // namespace rcptguard
