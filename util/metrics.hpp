// metrics: the daemon's counters (lookups by backend and result, cache,
// replies by code, tarpit, bounces, connections, reloads), kept across
// reloads and rendered in the Prometheus text format for the optional HTTP
// listener (metrics_listen) and "rcptguard -s".
// Counters are relaxed atomics: exact totals, no ordering promises between them.
// Thread-safety: everything may be used from any thread; backend() hands out
// references that stay valid for the life of the Metrics object.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

namespace rcptguard {

using Counter = std::atomic<std::uint64_t>;

inline void bump(Counter& c, std::uint64_t n = 1) { c.fetch_add(n, std::memory_order_relaxed); }

struct BackendCounters {
    Counter found{0}, not_found{0}, tempfail{0};
    Counter lookup_micros{0};  // total time spent in lookups
};

class Metrics {
public:
    BackendCounters& backend(const std::string& name);

    // Recipients by verdict.
    Counter rcpt_valid{0}, rcpt_unknown{0}, rcpt_tempfail{0}, rcpt_not_ours{0}, rcpt_bad_syntax{0};
    Counter rcpt_rejected_by_mta{0}, rcpt_monitored{0}, rcpt_accepted_on_error{0};
    // Replies sent, by code.
    Counter reply_550{0}, reply_501{0}, reply_451{0}, reply_450{0}, reply_421{0};
    // Lookup cache.
    Counter cache_hits{0}, cache_misses{0}, cache_stale{0};
    // Tarpit.
    Counter tarpit_delays{0}, tarpit_delay_millis{0}, tarpit_skipped{0}, tarpit_disconnects{0};
    Counter tarpit_bans{0}, tarpit_refused_banned{0}, tarpit_uniform_deferrals{0};
    // Bounce stripping.
    Counter bounces_stripped{0}, bounces_unchanged{0}, bounce_bytes_removed{0};
    // BATV.
    Counter batv_signed{0}, batv_valid{0}, batv_invalid{0}, batv_untagged_bounces{0}, batv_monitored{0};
    // Policy service.
    Counter policy_requests{0}, policy_connections_total{0}, policy_protocol_errors{0};
    std::atomic<std::int64_t> policy_connections{0};
    // Connections and reloads.
    Counter connections_total{0}, reloads{0}, reload_failures{0};
    std::atomic<std::int64_t> connections_current{0};

    // Extra gauges computed when rendering (cache size, clients remembered...).
    void set_gauge_source(std::function<std::string()> source);
    std::string prometheus_text() const;

private:
    mutable std::mutex mutex_;
    std::map<std::string, std::unique_ptr<BackendCounters>> backends_;
    std::function<std::string()> gauges_;
};

}  // namespace rcptguard
