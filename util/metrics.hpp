// metrics: the daemon's counters and gauges (lookups by backend and result,
// cache, replies by code, tarpit, bounces, BATV, connections, reloads), kept
// across reloads and rendered in the Prometheus text format for the optional
// HTTP listener (metrics_listen) and "rcptguard -s".
//
// Every series is declared once, in RCPTGUARD_METRICS below: its member name,
// its family (the Prometheus name), its labels, a divisor for the rendered
// value (milliseconds counted, seconds shown) and the family's help text. The
// members, the rendering and declared_series() are all generated from that
// one list, so adding a counter is one line and it cannot be left out of
// /metrics. Per-backend series are declared the same way in
// RCPTGUARD_BACKEND_METRICS.
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
#include <vector>

#include "util/version.hpp"

namespace rcptguard {

using Counter = std::atomic<std::uint64_t>;
using Gauge = std::atomic<std::int64_t>;

inline void bump(Counter& c, std::uint64_t n = 1) { c.fetch_add(n, std::memory_order_relaxed); }

// C(member, family, labels, divisor, help) declares a counter,
// G(member, family, labels, divisor, help) a gauge. Series of one family are
// consecutive; the family's help is taken from its first series.
#define RCPTGUARD_METRICS(C, G)                                                                                       \
    C(rcpt_valid, "rcptguard_recipients_total", "verdict=\"valid\"", 1, "Recipients by verdict.")                     \
    C(rcpt_unknown, "rcptguard_recipients_total", "verdict=\"unknown\"", 1, "")                                       \
    C(rcpt_tempfail, "rcptguard_recipients_total", "verdict=\"tempfail\"", 1, "")                                     \
    C(rcpt_not_ours, "rcptguard_recipients_total", "verdict=\"not_ours\"", 1, "")                                     \
    C(rcpt_bad_syntax, "rcptguard_recipients_total", "verdict=\"bad_syntax\"", 1, "")                                 \
    C(rcpt_rejected_by_mta, "rcptguard_recipients_total", "verdict=\"rejected_by_mta\"", 1, "")                       \
    C(rcpt_monitored, "rcptguard_monitor_would_refuse_total", "", 1, "Refusals not made because mode = monitor.")     \
    C(rcpt_accepted_on_error, "rcptguard_accepted_on_backend_error_total", "", 1,                                     \
      "Recipients accepted unchecked because on_backend_error = accept.")                                             \
    C(reply_550, "rcptguard_replies_total", "code=\"550\"", 1, "Refusing replies sent, by SMTP code.")                \
    C(reply_501, "rcptguard_replies_total", "code=\"501\"", 1, "")                                                    \
    C(reply_451, "rcptguard_replies_total", "code=\"451\"", 1, "")                                                    \
    C(reply_450, "rcptguard_replies_total", "code=\"450\"", 1, "")                                                    \
    C(reply_421, "rcptguard_replies_total", "code=\"421\"", 1, "")                                                    \
    C(cache_hits, "rcptguard_cache_requests_total", "outcome=\"hit\"", 1, "Lookup cache requests by outcome.")        \
    C(cache_misses, "rcptguard_cache_requests_total", "outcome=\"miss\"", 1, "")                                      \
    C(cache_stale, "rcptguard_cache_requests_total", "outcome=\"stale\"", 1, "")                                      \
    G(cache_entries, "rcptguard_cache_entries", "", 1, "Keys in the lookup cache.")                                   \
    C(tarpit_delays, "rcptguard_tarpit_delays_total", "", 1, "Replies delayed by the tarpit.")                        \
    C(tarpit_delay_millis, "rcptguard_tarpit_delay_seconds_total", "", 1000, "Time spent delaying replies.")          \
    C(tarpit_skipped, "rcptguard_tarpit_skipped_total", "", 1,                                                        \
      "Delays skipped because tarpit_max_sleepers were waiting.")                                                     \
    C(tarpit_disconnects, "rcptguard_tarpit_disconnects_total", "", 1,                                                \
      "Connections cut off after max_bad_recipients.")                                                                \
    C(tarpit_bans, "rcptguard_tarpit_bans_total", "", 1, "Clients banned after ban_threshold.")                       \
    C(tarpit_refused_banned, "rcptguard_tarpit_refused_banned_total", "", 1,                                          \
      "Recipients refused because the client is banned.")                                                             \
    C(tarpit_uniform_deferrals, "rcptguard_tarpit_uniform_deferrals_total", "", 1,                                    \
      "Recipients answered by uniform deferral.")                                                                     \
    G(tarpit_clients, "rcptguard_tarpit_clients", "", 1, "Clients remembered by the harvest defence.")                \
    G(tarpit_banned_clients, "rcptguard_tarpit_banned_clients", "", 1, "Clients banned now.")                         \
    G(tarpit_waiting, "rcptguard_tarpit_waiting", "", 1, "Connections waiting in the tarpit now.")                    \
    G(shared_state_up, "rcptguard_shared_state_up", "", 1,                                                            \
      "1 while the shared state (Redis) answers, 0 while this host uses its own (or shared_state = local).")          \
    C(shared_state_ok, "rcptguard_shared_state_requests_total", "result=\"ok\"", 1,                                   \
      "Questions to the shared state by result: answered, failed, skipped while it was down, cached.")                \
    C(shared_state_failed, "rcptguard_shared_state_requests_total", "result=\"failed\"", 1, "")                       \
    C(shared_state_skipped, "rcptguard_shared_state_requests_total", "result=\"skipped\"", 1, "")                     \
    C(shared_state_cached, "rcptguard_shared_state_requests_total", "result=\"cached\"", 1, "")                       \
    C(shared_state_outages, "rcptguard_shared_state_outages_total", "", 1,                                            \
      "Times the shared state stopped answering and this host went on with its own counts.")                          \
    C(bounces_stripped, "rcptguard_bounces_total", "outcome=\"stripped\"", 1,                                         \
      "Null-sender messages examined by the bounce stripper.")                                                        \
    C(bounces_unchanged, "rcptguard_bounces_total", "outcome=\"unchanged\"", 1, "")                                   \
    C(bounce_bytes_removed, "rcptguard_bounce_bytes_removed_total", "", 1,                                            \
      "Bytes of returned originals removed from bounces.")                                                            \
    C(batv_signed, "rcptguard_batv_total", "event=\"signed\"", 1,                                                     \
      "BATV: senders signed, recipient tags checked, untagged bounces.")                                              \
    C(batv_valid, "rcptguard_batv_total", "event=\"valid_tag\"", 1, "")                                               \
    C(batv_invalid, "rcptguard_batv_total", "event=\"invalid_tag\"", 1, "")                                           \
    C(batv_untagged_bounces, "rcptguard_batv_total", "event=\"untagged_bounce\"", 1, "")                              \
    C(batv_monitored, "rcptguard_batv_total", "event=\"monitored\"", 1, "")                                           \
    G(connections_current, "rcptguard_connections", "", 1, "MTA connections open now.")                               \
    C(connections_total, "rcptguard_connections_total", "", 1, "MTA connections since start.")                        \
    C(policy_requests, "rcptguard_policy_requests_total", "", 1, "Policy delegation requests answered.")              \
    G(policy_connections, "rcptguard_policy_connections", "", 1, "Policy delegation connections open now.")           \
    C(policy_connections_total, "rcptguard_policy_connections_total", "", 1,                                          \
      "Policy delegation connections since start.")                                                                   \
    C(policy_protocol_errors, "rcptguard_policy_protocol_errors_total", "", 1,                                        \
      "Policy connections closed for a protocol error.")                                                              \
    C(policy_accept_failures, "rcptguard_policy_accept_failures_total", "", 1,                                        \
      "Policy connections that could not be accepted (e.g. out of file descriptors).")                                \
    C(reloads, "rcptguard_reloads_total", "result=\"ok\"", 1, "Configuration reloads by result.")                     \
    C(reload_failures, "rcptguard_reloads_total", "result=\"failed\"", 1, "")                                         \
    G(config_generation, "rcptguard_config_generation", "", 1, "Configuration generation (1 + successful reloads).")  \
    G(last_reload_time, "rcptguard_last_reload_timestamp_seconds", "", 1,                                             \
      "When the configuration was last loaded or reloaded (Unix time), successfully or not.")                         \
    G(last_reload_success, "rcptguard_last_reload_success", "", 1, "1 if the last load or reload succeeded, else 0.") \
    G(config_load_time, "rcptguard_config_load_timestamp_seconds", "", 1,                                             \
      "When the running configuration was loaded (Unix time).")                                                       \
    G(start_time, "rcptguard_start_time_seconds", "", 1, "When the daemon started (Unix time).")                      \
    G(build_info, "rcptguard_build_info", "version=\"" RCPTGUARD_VERSION "\"", 1,                                     \
      "Always 1; the labels name the build.")

// X(member, family, labels, divisor, help) for each per-backend series; the
// backend="NAME" label comes first.
#define RCPTGUARD_BACKEND_METRICS(X)                                                                             \
    X(found, "rcptguard_backend_lookups_total", "result=\"found\"", 1, "Backend lookups by backend and result.") \
    X(not_found, "rcptguard_backend_lookups_total", "result=\"not_found\"", 1, "")                               \
    X(tempfail, "rcptguard_backend_lookups_total", "result=\"tempfail\"", 1, "")                                 \
    X(lookup_micros, "rcptguard_backend_lookup_seconds_total", "", 1000000, "Time spent in backend lookups.")    \
    X(unverified, "rcptguard_backend_unverified_total", "", 1,                                                   \
      "Recipients a backend answered found without being able to check them (a call-ahead downstream that "      \
      "accepts every address).")

struct BackendCounters {
#define RCPTGUARD_DECLARE_MEMBER(member, family, labels, divisor, help) Counter member{0};
    RCPTGUARD_BACKEND_METRICS(RCPTGUARD_DECLARE_MEMBER)
#undef RCPTGUARD_DECLARE_MEMBER

    // The one record of how this backend has been failing - "failed at T
    // because R; recovered at T2" - that rcptguard-ctl status and the status
    // page both read (BackendChain writes it after every answer). Kept by
    // name, so it outlives reloads like the counters. Not a Prometheus
    // series: text does not belong there.
    struct Failure {
        bool failing = false;             // the last answer was a temporary failure
        std::string reason;               // the last temporary failure's (at most kMaxFailureReasonBytes)
        std::int64_t unix_time = 0;       // when (Unix seconds); 0: none since start
        std::int64_t recovered_time = 0;  // the first other answer after it; 0: none since
    };
    static constexpr std::size_t kMaxFailureReasonBytes = 300;
    void note_failure(const std::string& reason, std::int64_t unix_time);
    // Cheap while the backend is not failing (one relaxed load): call it
    // after every answer that was not a temporary failure.
    bool failing() const { return failing_.load(std::memory_order_relaxed); }
    void note_recovery(std::int64_t unix_time);
    Failure last_failure() const;

private:
    std::atomic<bool> failing_{false};
    mutable std::mutex failure_mutex_;
    Failure last_failure_;
};

class Metrics {
public:
    BackendCounters& backend(const std::string& name);

#define RCPTGUARD_DECLARE_COUNTER(member, family, labels, divisor, help) Counter member{0};
#define RCPTGUARD_DECLARE_GAUGE(member, family, labels, divisor, help) Gauge member{0};
    RCPTGUARD_METRICS(RCPTGUARD_DECLARE_COUNTER, RCPTGUARD_DECLARE_GAUGE)
#undef RCPTGUARD_DECLARE_COUNTER
#undef RCPTGUARD_DECLARE_GAUGE

    // Called just before rendering, to set gauges that are computed (cache
    // size, clients remembered...).
    void set_refresh(std::function<void(Metrics&)> refresh);
    std::string prometheus_text();

private:
    std::mutex mutex_;
    std::map<std::string, std::unique_ptr<BackendCounters>> backends_;
    std::function<void(Metrics&)> refresh_;
};

// Every declared series as rendered: "family" or "family{labels}" (per-backend
// series with the label backend="*"), for the tests.
std::vector<std::string> declared_series();

}  // namespace rcptguard
