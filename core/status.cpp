// status: see status.hpp.
#include "core/status.hpp"

#include <algorithm>
#include <functional>
#include <numeric>

#include "util/version.hpp"

namespace rcptguard {

namespace {

std::uint64_t load(const Counter& c) { return c.load(std::memory_order_relaxed); }

struct ChartSpec {
    const char* id;
    const char* title;
    const char* help;
    std::uint64_t (*total)(const Metrics&);
};

// The charts, in page order. The last two series of the global history are
// the cache's hits and requests (for the hit ratio), not charts.
const ChartSpec kCharts[] = {
    {"accepted", "Accepted recipients", "found in a backend, or postmaster",
     [](const Metrics& m) { return load(m.rcpt_valid); }},
    {"rejected", "Rejected recipients", "550 and 501 replies: unknown users, broken addresses, BATV refusals",
     [](const Metrics& m) { return load(m.reply_550) + load(m.reply_501); }},
    {"deferred", "Deferred: backend failure", "451 4.3.0 replies: a backend could not answer",
     [](const Metrics& m) { return load(m.reply_451); }},
    {"tarpitted", "Tarpitted recipients",
     "replies delayed, connections cut off with 421, banned clients refused, uniform deferrals",
     [](const Metrics& m) {
         return load(m.tarpit_delays) + load(m.tarpit_disconnects) + load(m.tarpit_refused_banned) +
                load(m.tarpit_uniform_deferrals);
     }},
    {"bounces", "Stripped bounces", "bounces whose returned message was cut down to its headers",
     [](const Metrics& m) { return load(m.bounces_stripped); }},
    {"monitored", "Only logged (mode = monitor)", "refusals mode = monitor turned into \"would reject\"",
     [](const Metrics& m) { return load(m.rcpt_monitored); }},
};
constexpr std::size_t kChartCount = sizeof kCharts / sizeof kCharts[0];
constexpr std::size_t kCacheHits = kChartCount;
constexpr std::size_t kCacheRequests = kChartCount + 1;
constexpr std::size_t kGlobalSeries = kChartCount + 2;

// Per backend: lookups, failures, microseconds spent.
enum BackendSeries : std::size_t { kLookups, kFailures, kMicros, kBackendSeries };

std::uint64_t cache_requests(const Metrics& m) {
    return load(m.cache_hits) + load(m.cache_misses) + load(m.cache_stale);
}

std::uint64_t sum(const std::vector<std::uint64_t>& v) { return std::accumulate(v.begin(), v.end(), std::uint64_t{0}); }

}  // namespace

StatusRecorder::StatusRecorder(Metrics& metrics, std::size_t minutes)
    : metrics_(metrics), minutes_(minutes), global_(kGlobalSeries, minutes) {}

void StatusRecorder::sample(std::int64_t unix_now, const Runtime& rt) {
    std::vector<std::uint64_t> totals(kGlobalSeries);
    for (std::size_t i = 0; i < kChartCount; ++i) totals[i] = kCharts[i].total(metrics_);
    totals[kCacheHits] = load(metrics_.cache_hits);
    totals[kCacheRequests] = cache_requests(metrics_);
    global_.sample(unix_now, totals);

    std::lock_guard<std::mutex> lock(backends_mutex_);
    std::map<std::string, std::shared_ptr<MinuteHistory>> kept;
    for (const auto& b : rt.backends) {
        auto& h = kept[b->name()];
        auto old = backends_.find(b->name());
        h = old != backends_.end() ? old->second : std::make_shared<MinuteHistory>(kBackendSeries, minutes_);
        BackendCounters& c = metrics_.backend(b->name());
        std::vector<std::uint64_t> t(kBackendSeries);
        t[kLookups] = load(c.found) + load(c.not_found) + load(c.tempfail);
        t[kFailures] = load(c.tempfail);
        t[kMicros] = load(c.lookup_micros);
        h->sample(unix_now, t);
    }
    backends_ = std::move(kept);  // backends no longer configured are forgotten
}

StatusSnapshot StatusRecorder::snapshot(std::int64_t unix_now, const Runtime& rt, ClientTable& clients) const {
    StatusSnapshot s;
    s.version = RCPTGUARD_VERSION;
    s.now = unix_now;
    s.start_time = metrics_.start_time.load();
    s.minutes = minutes_;

    MinuteHistory::View g = global_.view(unix_now);
    s.newest_minute = g.newest_minute;
    bool monitor = rt.settings && rt.settings->recipients.monitor;
    for (std::size_t i = 0; i < kChartCount; ++i) {
        StatusChart c{kCharts[i].id, kCharts[i].title, kCharts[i].help,
                      g.counts[i],   sum(g.counts[i]), kCharts[i].total(metrics_)};
        // The monitor-mode chart only while it says something.
        if (c.id == "monitored" && !monitor && c.last_hour == 0) continue;
        s.charts.push_back(std::move(c));
    }
    s.cache_enabled = rt.cache != nullptr;
    s.cache_entries = rt.cache ? rt.cache->size() : 0;
    s.cache_hits_last_hour = sum(g.counts[kCacheHits]);
    s.cache_requests_last_hour = sum(g.counts[kCacheRequests]);
    s.cache_hits_since_start = load(metrics_.cache_hits);
    s.cache_requests_since_start = cache_requests(metrics_);

    {
        std::lock_guard<std::mutex> lock(backends_mutex_);
        for (const auto& b : rt.backends) {
            BackendStatus bs;
            bs.name = b->name();
            bs.type = b->type();
            BackendCounters& c = metrics_.backend(b->name());
            bs.lookups_since_start = load(c.found) + load(c.not_found) + load(c.tempfail);
            bs.failures_since_start = load(c.tempfail);
            bs.last_failure = c.last_failure();
            auto h = backends_.find(b->name());
            if (h != backends_.end()) {
                MinuteHistory::View v = h->second->view(unix_now);
                bs.lookups_per_minute = v.counts[kLookups];
                bs.failures_per_minute = v.counts[kFailures];
                bs.lookups_last_hour = sum(v.counts[kLookups]);
                bs.failures_last_hour = sum(v.counts[kFailures]);
                std::uint64_t micros = sum(v.counts[kMicros]);
                if (bs.lookups_last_hour > 0)
                    bs.average_millis_last_hour =
                        static_cast<double>(micros) / 1000.0 / static_cast<double>(bs.lookups_last_hour);
            } else {
                bs.lookups_per_minute.assign(minutes_, 0);
                bs.failures_per_minute.assign(minutes_, 0);
            }
            s.backends.push_back(std::move(bs));
        }
    }

    if (rt.settings) {
        const BanSettings& ban = rt.settings->tarpit.ban;
        ClientCounts counts;
        s.clients = clients.list(ban, kStatusClients, &counts);
        s.clients_total = counts.total;
        s.clients_banned = counts.banned;
        s.ban_threshold = ban.ban_threshold;
        s.ban_window = ban.window;
        s.ban_time = ban.ban_time;
        s.config_path = rt.settings->config_path;
    }
    s.clients_remembered = clients.size();
    s.monitor = monitor;
    s.generation = rt.serial;
    s.config_loaded = metrics_.config_load_time.load();
    s.last_reload = metrics_.last_reload_time.load();
    s.last_reload_ok = metrics_.last_reload_success.load() != 0;
    s.connections = static_cast<std::size_t>(std::max<std::int64_t>(metrics_.connections_current.load(), 0));
    return s;
}

StatusSnapshot StatusRecorder::snapshot(std::int64_t unix_now, const Runtime& rt, ClientState& clients) const {
    StatusSnapshot s = snapshot(unix_now, rt, clients.local_table());
    if (!clients.shared() || !rt.settings) return s;
    std::string note;  // the list says itself when it is this host's only
    s.clients = clients.list(rt.settings->tarpit.ban, kStatusClients, &note);
    s.clients_total = s.clients.size();
    s.clients_banned =
        static_cast<std::size_t>(std::count_if(s.clients.begin(), s.clients.end(), std::mem_fn(&ClientRecord::banned)));
    return s;
}

}  // namespace rcptguard
