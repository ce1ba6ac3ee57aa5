// tarpit: see tarpit.hpp.
#include "core/tarpit/tarpit.hpp"

#include <algorithm>

namespace rcptguard {

TarpitSettings read_tarpit_settings(SectionReader& r) {
    using std::chrono::milliseconds;
    TarpitSettings s;
    s.enabled = r.boolean("tarpit", s.enabled);
    s.tarpit_after = static_cast<unsigned>(r.integer("tarpit_after", s.tarpit_after, 0, 10000));
    s.mta_timeout = r.duration("mta_timeout", s.mta_timeout, milliseconds(1000), milliseconds(3600 * 1000));
    s.tarpit_delay = r.duration("tarpit_delay", s.tarpit_delay, milliseconds(0), milliseconds(3600 * 1000));
    s.tarpit_max_delay = r.duration("tarpit_max_delay", s.tarpit_max_delay, milliseconds(0), milliseconds(3600 * 1000));
    // A wait near the MTA's milter timeout makes the MTA give up on the milter
    // (Postfix then applies milter_default_action to the whole session).
    if (s.tarpit_max_delay > s.max_single_wait())
        r.error("tarpit_max_delay", format_duration(s.tarpit_max_delay) + " is too close to mta_timeout " +
                                        format_duration(s.mta_timeout) + ": at most half of it (" +
                                        format_duration(s.max_single_wait()) + ") leaves room for the lookup itself");
    if (s.tarpit_delay > s.tarpit_max_delay)
        r.error("tarpit_delay", "is larger than tarpit_max_delay (" + format_duration(s.tarpit_max_delay) + ")");
    s.tarpit_budget = r.duration("tarpit_budget", s.tarpit_budget, milliseconds(0), milliseconds(3600 * 1000));
    s.max_bad_recipients = static_cast<unsigned>(r.integer("max_bad_recipients", s.max_bad_recipients, 0, 100000));
    s.uniform_deferral = r.boolean("uniform_deferral", s.uniform_deferral);
    s.uniform_deferral_after =
        static_cast<unsigned>(r.integer("uniform_deferral_after", s.uniform_deferral_after, 1, 100000));
    s.max_sleepers = static_cast<unsigned>(r.integer("tarpit_max_sleepers", s.max_sleepers, 0, 100000));
    s.ban.ban_threshold = static_cast<unsigned>(r.integer("ban_threshold", s.ban.ban_threshold, 0, 1000000));
    s.ban.window = r.duration("ban_window", s.ban.window, milliseconds(8000), milliseconds(7 * 86400 * 1000LL));
    s.ban.ban_time = r.duration("ban_time", s.ban.ban_time, milliseconds(0), milliseconds(30 * 86400 * 1000LL));
    s.ipv4_prefix = static_cast<unsigned>(r.integer("ban_ipv4_prefix", s.ipv4_prefix, 8, 32));
    s.ipv6_prefix = static_cast<unsigned>(r.integer("ban_ipv6_prefix", s.ipv6_prefix, 16, 128));
    s.max_clients =
        static_cast<std::size_t>(r.integer("ban_table_size", static_cast<std::int64_t>(s.max_clients), 16, 100000000));
    std::vector<std::string> nets = r.list("trusted_networks", {"127.0.0.0/8", "[::1]/128"});
    std::string bad = s.trusted_networks.add_all(nets);
    if (!bad.empty()) r.error("trusted_networks", "'" + bad + "' is not an address or network (e.g. 192.0.2.0/24)");
    s.exempt_authenticated = r.boolean("exempt_authenticated", s.exempt_authenticated);
    return s;
}

Millis tarpit_delay_for(const TarpitSettings& s, unsigned bad_before, Millis slept, Millis lookup_elapsed) {
    if (!s.enabled || bad_before < s.tarpit_after || s.tarpit_delay.count() == 0) return Millis(0);
    unsigned doublings = std::min(bad_before - s.tarpit_after, 20u);
    Millis d = std::min(Millis(s.tarpit_delay.count() << doublings), s.tarpit_max_delay);
    d = std::min(d, s.max_single_wait() - lookup_elapsed);
    d = std::min(d, s.tarpit_budget - slept);
    return std::max(d, Millis(0));
}

namespace {

// max_bad_recipients counts bad recipients and uniform deferrals alike.
bool reached_max_bad(const TarpitSession& t, const TarpitSettings& s) {
    return s.enabled && s.max_bad_recipients > 0 && t.bad + t.deferred >= s.max_bad_recipients;
}

}  // namespace

TarpitGate Tarpit::before_lookup(TarpitSession& t, const TarpitSettings& s, ClientStatus* status) {
    if (t.exempt) return TarpitGate::Proceed;
    // One question per connection; after that, what this host already knows
    // (no round trip to a shared state for a valid recipient).
    ClientStatus st = t.standing_checked ? clients_.known_status(t.client_key, s.ban)
                                         : clients_.connection_status(t.client_key, s.ban);
    t.standing_checked = true;
    if (status) *status = st;
    if (st.banned) return TarpitGate::Banned;
    if (reached_max_bad(t, s)) return TarpitGate::CutOff;
    if (s.enabled && s.uniform_deferral && t.bad + t.deferred >= s.uniform_deferral_after)
        return TarpitGate::UniformDefer;
    return TarpitGate::Proceed;
}

TarpitOutcome Tarpit::after_verdict(TarpitSession& t, const TarpitSettings& s, bool bad, Millis lookup_elapsed) {
    TarpitOutcome out;
    if (t.exempt) return out;
    unsigned bad_before = t.bad + t.deferred;
    if (bad) {
        ++t.bad;
        Millis t0 = clock_.now();
        out.client = clients_.add_bad(t.client_key, 1, s.ban);
        // Time spent asking a shared state counts against the wait like the lookup's own.
        lookup_elapsed += clock_.now() - t0;
    }
    if (reached_max_bad(t, s)) {
        out.disconnect = true;
        return out;
    }
    out.delay = tarpit_delay_for(s, bad_before, t.slept, lookup_elapsed);
    return out;
}

Millis Tarpit::wait(Millis d, const TarpitSettings& s) {
    if (d.count() <= 0) return Millis(0);
    if (sleepers_.fetch_add(1) >= s.max_sleepers) {
        sleepers_.fetch_sub(1);
        return Millis(0);
    }
    Millis start = clock_.now();
    sleeper_.sleep_for(d);
    sleepers_.fetch_sub(1);
    Millis waited = clock_.now() - start;
    return waited < Millis(0) ? Millis(0) : waited;
}

Reply too_many_recipients_reply(std::string_view original) {
    return Reply{"421", "4.7.0", std::string(original), "Too many invalid recipients, closing connection"};
}

Reply banned_client_reply(std::string_view original) {
    return Reply{"421", "4.7.0", std::string(original),
                 "Too many invalid recipients from your address, try again later"};
}

Reply uniform_deferral_reply(std::string_view original) {
    // The same text whatever the recipient: valid and invalid ones must look alike.
    return Reply{"450", "4.7.1", std::string(original), "too many invalid recipients, try again later"};
}

}  // namespace rcptguard
