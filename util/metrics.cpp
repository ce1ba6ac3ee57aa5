// metrics: see metrics.hpp. Format: Prometheus text exposition format 0.0.4.
#include "metrics.hpp"

#include <sstream>

namespace rcptguard {

namespace {

std::uint64_t v(const Counter& c) { return c.load(std::memory_order_relaxed); }

void family(std::ostringstream& o, const char* name, const char* type, const char* help) {
    o << "# HELP " << name << " " << help << "\n# TYPE " << name << " " << type << "\n";
}

// Label values are backend names from the config ([A-Za-z0-9_.-]), but escape anyway.
std::string label(const std::string& s) {
    std::string out;
    for (char c : s) {
        if (c == '\\' || c == '"') out.push_back('\\');
        if (c == '\n') {
            out += "\\n";
            continue;
        }
        out.push_back(c);
    }
    return out;
}

}  // namespace

BackendCounters& Metrics::backend(const std::string& name) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto& slot = backends_[name];
    if (!slot) slot = std::make_unique<BackendCounters>();
    return *slot;
}

void Metrics::set_gauge_source(std::function<std::string()> source) {
    std::lock_guard<std::mutex> lock(mutex_);
    gauges_ = std::move(source);
}

std::string Metrics::prometheus_text() const {
    std::ostringstream o;
    family(o, "rcptguard_backend_lookups_total", "counter", "Backend lookups by backend and result.");
    std::function<std::string()> gauges;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        for (const auto& kv : backends_) {
            std::string b = label(kv.first);
            o << "rcptguard_backend_lookups_total{backend=\"" << b << "\",result=\"found\"} " << v(kv.second->found)
              << "\n";
            o << "rcptguard_backend_lookups_total{backend=\"" << b << "\",result=\"not_found\"} "
              << v(kv.second->not_found) << "\n";
            o << "rcptguard_backend_lookups_total{backend=\"" << b << "\",result=\"tempfail\"} "
              << v(kv.second->tempfail) << "\n";
        }
        family(o, "rcptguard_backend_lookup_seconds_total", "counter", "Time spent in backend lookups.");
        for (const auto& kv : backends_)
            o << "rcptguard_backend_lookup_seconds_total{backend=\"" << label(kv.first) << "\"} "
              << static_cast<double>(v(kv.second->lookup_micros)) / 1e6 << "\n";
        gauges = gauges_;
    }
    family(o, "rcptguard_recipients_total", "counter", "Recipients by verdict.");
    struct {
        const char* verdict;
        const Counter& c;
    } verdicts[] = {{"valid", rcpt_valid},           {"unknown", rcpt_unknown},
                    {"tempfail", rcpt_tempfail},     {"not_ours", rcpt_not_ours},
                    {"bad_syntax", rcpt_bad_syntax}, {"rejected_by_mta", rcpt_rejected_by_mta}};
    for (const auto& x : verdicts)
        o << "rcptguard_recipients_total{verdict=\"" << x.verdict << "\"} " << v(x.c) << "\n";
    family(o, "rcptguard_monitor_would_refuse_total", "counter", "Refusals not made because mode = monitor.");
    o << "rcptguard_monitor_would_refuse_total " << v(rcpt_monitored) << "\n";
    family(o, "rcptguard_accepted_on_backend_error_total", "counter",
           "Recipients accepted unchecked because on_backend_error = accept.");
    o << "rcptguard_accepted_on_backend_error_total " << v(rcpt_accepted_on_error) << "\n";
    family(o, "rcptguard_replies_total", "counter", "Refusing replies sent, by SMTP code.");
    struct {
        const char* code;
        const Counter& c;
    } replies[] = {{"550", reply_550}, {"501", reply_501}, {"451", reply_451}, {"450", reply_450}, {"421", reply_421}};
    for (const auto& x : replies) o << "rcptguard_replies_total{code=\"" << x.code << "\"} " << v(x.c) << "\n";
    family(o, "rcptguard_cache_requests_total", "counter", "Lookup cache requests by outcome.");
    o << "rcptguard_cache_requests_total{outcome=\"hit\"} " << v(cache_hits) << "\n";
    o << "rcptguard_cache_requests_total{outcome=\"miss\"} " << v(cache_misses) << "\n";
    o << "rcptguard_cache_requests_total{outcome=\"stale\"} " << v(cache_stale) << "\n";
    family(o, "rcptguard_tarpit_delays_total", "counter", "Replies delayed by the tarpit.");
    o << "rcptguard_tarpit_delays_total " << v(tarpit_delays) << "\n";
    family(o, "rcptguard_tarpit_delay_seconds_total", "counter", "Time spent delaying replies.");
    o << "rcptguard_tarpit_delay_seconds_total " << static_cast<double>(v(tarpit_delay_millis)) / 1e3 << "\n";
    family(o, "rcptguard_tarpit_skipped_total", "counter", "Delays skipped because tarpit_max_sleepers were waiting.");
    o << "rcptguard_tarpit_skipped_total " << v(tarpit_skipped) << "\n";
    family(o, "rcptguard_tarpit_disconnects_total", "counter", "Connections cut off after max_bad_recipients.");
    o << "rcptguard_tarpit_disconnects_total " << v(tarpit_disconnects) << "\n";
    family(o, "rcptguard_tarpit_bans_total", "counter", "Clients banned after ban_threshold.");
    o << "rcptguard_tarpit_bans_total " << v(tarpit_bans) << "\n";
    family(o, "rcptguard_tarpit_refused_banned_total", "counter", "Recipients refused because the client is banned.");
    o << "rcptguard_tarpit_refused_banned_total " << v(tarpit_refused_banned) << "\n";
    family(o, "rcptguard_tarpit_uniform_deferrals_total", "counter", "Recipients answered by uniform deferral.");
    o << "rcptguard_tarpit_uniform_deferrals_total " << v(tarpit_uniform_deferrals) << "\n";
    family(o, "rcptguard_bounces_total", "counter", "Null-sender messages examined by the bounce stripper.");
    o << "rcptguard_bounces_total{outcome=\"stripped\"} " << v(bounces_stripped) << "\n";
    o << "rcptguard_bounces_total{outcome=\"unchanged\"} " << v(bounces_unchanged) << "\n";
    family(o, "rcptguard_bounce_bytes_removed_total", "counter", "Bytes of returned originals removed from bounces.");
    o << "rcptguard_bounce_bytes_removed_total " << v(bounce_bytes_removed) << "\n";
    family(o, "rcptguard_connections", "gauge", "MTA connections open now.");
    o << "rcptguard_connections " << connections_current.load(std::memory_order_relaxed) << "\n";
    family(o, "rcptguard_connections_total", "counter", "MTA connections since start.");
    o << "rcptguard_connections_total " << v(connections_total) << "\n";
    family(o, "rcptguard_batv_total", "counter", "BATV: senders signed, recipient tags checked, untagged bounces.");
    o << "rcptguard_batv_total{event=\"signed\"} " << v(batv_signed) << "\n";
    o << "rcptguard_batv_total{event=\"valid_tag\"} " << v(batv_valid) << "\n";
    o << "rcptguard_batv_total{event=\"invalid_tag\"} " << v(batv_invalid) << "\n";
    o << "rcptguard_batv_total{event=\"untagged_bounce\"} " << v(batv_untagged_bounces) << "\n";
    o << "rcptguard_batv_total{event=\"monitored\"} " << v(batv_monitored) << "\n";
    family(o, "rcptguard_policy_requests_total", "counter", "Policy delegation requests answered.");
    o << "rcptguard_policy_requests_total " << v(policy_requests) << "\n";
    family(o, "rcptguard_policy_connections", "gauge", "Policy delegation connections open now.");
    o << "rcptguard_policy_connections " << policy_connections.load(std::memory_order_relaxed) << "\n";
    family(o, "rcptguard_policy_protocol_errors_total", "counter", "Policy connections closed for a protocol error.");
    o << "rcptguard_policy_protocol_errors_total " << v(policy_protocol_errors) << "\n";
    family(o, "rcptguard_reloads_total", "counter", "Configuration reloads by result.");
    o << "rcptguard_reloads_total{result=\"ok\"} " << v(reloads) << "\n";
    o << "rcptguard_reloads_total{result=\"failed\"} " << v(reload_failures) << "\n";
    if (gauges) o << gauges();
    return o.str();
}

}  // namespace rcptguard
