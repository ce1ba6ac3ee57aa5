// services: daemon-wide shared state that outlives configuration reloads -
// the clock, the tarpit with its per-client table, and the statistics. Built
// once in main (or by a test with fakes) and handed to every Connection.
// Thread-safety: each member is thread-safe.
#pragma once

#include <ctime>
#include <functional>

#include "core/tarpit/tarpit.hpp"
#include "util/clock.hpp"
#include "util/metrics.hpp"

namespace rcptguard {

struct Services {
    const Clock& clock;
    Tarpit& tarpit;
    Metrics& metrics;
    // Wall-clock seconds since 1970 (BATV day numbers); tests inject their own.
    std::function<std::int64_t()> unix_time = [] { return static_cast<std::int64_t>(::time(nullptr)); };
};

}  // namespace rcptguard
