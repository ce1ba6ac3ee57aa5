// services: daemon-wide shared state that outlives configuration reloads -
// the clock, the tarpit with its per-client table, and the statistics. Built
// once in main (or by a test with fakes) and handed to every Connection.
// Thread-safety: each member is thread-safe.
#pragma once

#include "metrics.hpp"
#include "tarpit/clock.hpp"
#include "tarpit/tarpit.hpp"

namespace rcptguard {

struct Services {
    const Clock& clock;
    Tarpit& tarpit;
    Metrics& metrics;
};

}  // namespace rcptguard
