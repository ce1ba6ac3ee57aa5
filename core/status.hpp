// status: what the status page shows, gathered in one value
// (StatusSnapshot) from the daemon's counters, the running configuration and
// the tarpit's client table, plus the per-minute history the charts are
// drawn from. The page itself is rendered by the door that serves it
// (milter/status_page); nothing here knows HTML, HTTP or sockets.
//
// History: StatusRecorder::sample() is called about once a second (the
// maintenance thread, only while metrics_listen serves the page) and files
// how much each counter grew under the current minute (util/minute_history). Memory is fixed: an hour of minutes for a
// handful of series, and the same per configured backend; backends that left
// the configuration are forgotten.
//
// Chart series (each a sum of Prometheus counters, so the page and /metrics
// agree): accepted = recipients found; rejected = 550 and 501 replies;
// deferred = 451 replies (a backend could not answer); tarpitted = replies
// delayed, cut off with 421, refused to a banned client or uniformly
// deferred; bounces stripped; and, while mode = monitor, the refusals only
// logged.
// Thread-safety: StatusRecorder is thread-safe; a snapshot is a plain value.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/runtime.hpp"
#include "core/tarpit/client_state.hpp"
#include "core/tarpit/client_table.hpp"
#include "util/metrics.hpp"
#include "util/minute_history.hpp"

namespace rcptguard {

struct StatusChart {
    std::string id;                         // "accepted", "rejected", ... (stable: tests and the page's anchors use it)
    std::string title;                      // "Rejected recipients"
    std::string help;                       // what is counted
    std::vector<std::uint64_t> per_minute;  // oldest first; the last one is the current minute
    std::uint64_t last_hour = 0;            // sum of per_minute
    std::uint64_t since_start = 0;
};

struct BackendStatus {
    std::string name;
    std::string type;
    std::vector<std::uint64_t> lookups_per_minute;  // oldest first
    std::vector<std::uint64_t> failures_per_minute;
    std::uint64_t lookups_last_hour = 0;
    std::uint64_t failures_last_hour = 0;
    double average_millis_last_hour = 0;  // per lookup; 0 without lookups
    std::uint64_t lookups_since_start = 0;
    std::uint64_t failures_since_start = 0;
    BackendCounters::Failure last_failure;  // the record rcptguard-ctl status shows too
};

struct StatusSnapshot {
    std::string version;
    std::int64_t now = 0;  // Unix seconds
    std::int64_t start_time = 0;
    std::int64_t newest_minute = 0;  // Unix minute of the charts' last column
    std::size_t minutes = 0;         // columns per chart

    std::vector<StatusChart> charts;
    std::vector<BackendStatus> backends;

    std::vector<ClientRecord> clients;   // counted or banned now, at most kStatusClients
    std::size_t clients_total = 0;       // how many there are in all
    std::size_t clients_banned = 0;      // of them banned (with shared state: among those listed)
    std::size_t clients_remembered = 0;  // entries in the table (also quiet ones)
    unsigned ban_threshold = 0;
    Millis ban_window{0};
    Millis ban_time{0};

    bool cache_enabled = false;
    std::uint64_t cache_entries = 0;
    std::uint64_t cache_hits_last_hour = 0;
    std::uint64_t cache_requests_last_hour = 0;
    std::uint64_t cache_hits_since_start = 0;
    std::uint64_t cache_requests_since_start = 0;

    unsigned long generation = 0;
    std::string config_path;
    std::int64_t config_loaded = 0;  // when the running configuration was loaded
    std::int64_t last_reload = 0;    // last load or reload attempt (0: none)
    bool last_reload_ok = true;
    bool monitor = false;
    std::size_t connections = 0;
};

constexpr std::size_t kStatusClients = 50;

class StatusRecorder {
public:
    explicit StatusRecorder(Metrics& metrics, std::size_t minutes = 60);

    // About once a second: files the counters' growth under this minute.
    void sample(std::int64_t unix_now, const Runtime& rt);
    StatusSnapshot snapshot(std::int64_t unix_now, const Runtime& rt, ClientTable& clients) const;
    // The same for the daemon's client state: with shared_state = redis the
    // clients listed are those of every host sharing it (this host's own
    // table while Redis does not answer).
    StatusSnapshot snapshot(std::int64_t unix_now, const Runtime& rt, ClientState& clients) const;

private:
    Metrics& metrics_;
    const std::size_t minutes_;
    MinuteHistory global_;
    mutable std::mutex backends_mutex_;
    std::map<std::string, std::shared_ptr<MinuteHistory>> backends_;  // by backend name
};

}  // namespace rcptguard
