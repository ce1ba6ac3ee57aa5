// tarpit: the harvest defence. Slows down clients that send bad recipients,
// cuts them off after too many, optionally answers every further recipient
// with the same 4xx (so valid and invalid addresses look alike), and bans a
// client across connections when it goes over a threshold in a sliding window.
//
// Timing rules (see doc/platform.md §4): a wait happens inside the
// MTA's RCPT command timeout (Postfix milter_command_timeout 30s, Sendmail
// T=R: 10s by default), so no single wait may exceed half of mta_timeout, less
// what the lookup itself took; the configuration refuses a tarpit_max_delay
// above that. Waits are interruptible (shutdown) and at most max_sleepers
// connections sleep at once (past that: reply at once, still count).
//
// Memory across connections (counts in the ban window, bans) is a ClientState
// (client_state.hpp): this host's table, or the state shared by all MX hosts
// through Redis. The tarpit asks it once per connection (at the first
// recipient), then only what it already knows, and counts each bad recipient;
// a wait for the shared state is taken out of the tarpit's own delay.
//
// Pure decisions (tarpit_delay_for, the Tarpit methods) take the clock and the
// sleeper by interface so they are unit-tested without sleeping.
// Thread-safety: Tarpit is shared by all connections and thread-safe;
// TarpitSession belongs to one connection.
#pragma once

#include <atomic>
#include <string>

#include "core/reply.hpp"
#include "core/tarpit/client_state.hpp"
#include "util/clock.hpp"
#include "util/config_file.hpp"
#include "util/network.hpp"

namespace rcptguard {

struct TarpitSettings {
    bool enabled = true;               // tarpit
    unsigned tarpit_after = 3;         // bad recipients before replies are delayed
    Millis tarpit_delay{1000};         // first delay; doubles per further bad recipient
    Millis tarpit_max_delay{4000};     // cap on one delay
    Millis tarpit_budget{60000};       // total delay per connection
    unsigned max_bad_recipients = 10;  // 421 and disconnect at this many; 0 = never
    Millis mta_timeout{10000};         // the MTA's per-command milter timeout
    bool uniform_deferral = false;
    unsigned uniform_deferral_after = 5;
    unsigned max_sleepers = 100;  // connections asleep at once
    BanSettings ban;              // cross-connection memory
    unsigned ipv4_prefix = 32;
    unsigned ipv6_prefix = 64;
    std::size_t max_clients = 100000;  // restart
    NetworkList trusted_networks;
    bool exempt_authenticated = true;

    Millis max_single_wait() const { return mta_timeout / 2; }
};

// Reads the tarpit keys of the global section; throws ConfigError.
TarpitSettings read_tarpit_settings(SectionReader& r);

// The delay before answering a recipient, given the bad recipients seen on
// this connection before it, the delay already spent and the lookup's time.
Millis tarpit_delay_for(const TarpitSettings& s, unsigned bad_before, Millis slept, Millis lookup_elapsed);

struct TarpitSession {
    std::string client_key;  // "" = no IP (not tracked across connections)
    bool exempt = false;     // trusted network or authenticated
    unsigned bad = 0;        // bad recipients on this connection (ours and the MTA's)
    unsigned deferred = 0;   // recipients answered with the uniform deferral
    Millis slept{0};
    bool standing_checked = false;  // the client's standing was asked at this connection's start
};

// Before a recipient is looked up: go on, refuse a banned client, cut off a
// connection that already reached max_bad_recipients (through recipients the
// MTA rejected itself, whose replies it ignores), or answer with the uniform
// deferral.
enum class TarpitGate { Proceed, Banned, CutOff, UniformDefer };

struct TarpitOutcome {
    Millis delay{0};          // to wait before replying (0 = none)
    bool disconnect = false;  // reply 421 instead
    ClientStatus client;      // after counting this recipient
};

class Tarpit {
public:
    Tarpit(ClientState& clients, Sleeper& sleeper, const Clock& clock)
        : clients_(clients), sleeper_(sleeper), clock_(clock) {}

    // Before the lookup: is the client banned, past max_bad_recipients, or
    // past the uniform deferral point?
    TarpitGate before_lookup(TarpitSession& t, const TarpitSettings& s, ClientStatus* status);
    // After the verdict (bad = unknown, bad syntax, rejected by the MTA).
    TarpitOutcome after_verdict(TarpitSession& t, const TarpitSettings& s, bool bad, Millis lookup_elapsed);
    // Waits d unless max_sleepers connections already sleep; returns the time
    // actually waited (0 if skipped or interrupted at once).
    Millis wait(Millis d, const TarpitSettings& s);

    const Clock& clock() const { return clock_; }
    ClientState& clients() { return clients_; }
    unsigned sleepers() const { return sleepers_.load(); }

private:
    ClientState& clients_;
    Sleeper& sleeper_;
    const Clock& clock_;
    std::atomic<unsigned> sleepers_{0};
};

// The tarpit's replies, about the recipient being refused.
Reply too_many_recipients_reply(std::string_view original);
Reply banned_client_reply(std::string_view original);
Reply uniform_deferral_reply(std::string_view original);

}  // namespace rcptguard
