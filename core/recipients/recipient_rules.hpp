// recipient_rules: decides what happens to one RCPT TO address. The single
// place a verdict is computed, whichever front end asked (milter, -q, ctl).
//
// check(): normalise the address (address.hpp), then
//   - is the domain ours? A name in "domains" says yes; otherwise, with
//     "backend:NAME" entries, the domain lookup (the backends' domain_query,
//     usually cached) answers: found -> ours, not found -> NotOurs, TempFail
//     -> TempFail (451 for this recipient: never a verdict, never "not ours")
//   - not one of our domains (or no domain) -> NotOurs (no opinion)
//   - postmaster of our domains              -> Valid (RFC 5321 4.5.1)
//   - syntax error in one of our domains     -> BadSyntax
//   - keys full, without +detail, @domain through the KeyLookup (each
//     backend in order is asked for all of them): Found -> Valid, NotFound
//     everywhere -> Unknown, the first TempFail -> TempFail.
// A "[domain NAME]" section (DomainSettings) changes, for recipients of that
// domain once it is ours, the mode, the reject message and the backends
// asked (its own chain and cache).
// check_at_once(): the same check when it needs no other server (the answers
// are cached, or every store asked is on this host); otherwise nullopt, and
// nothing was asked.
// decide(): turns a check into an action under the mode of the recipient's
// domain (enforce/monitor) and on_backend_error (tempfail/accept). TempFail
// is never turned into a 5xx reply.
// Thread-safety: immutable after construction; check()/decide() are const and
// may run on many threads at once.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/recipients/backend_chain.hpp"
#include "core/recipients/domain_set.hpp"
#include "core/reply.hpp"
#include "util/address.hpp"
#include "util/clock.hpp"

namespace rcptguard {

enum class Verdict { Valid, Unknown, TempFail, NotOurs, BadSyntax };
const char* to_string(Verdict v);

struct RecipientCheck {
    Verdict verdict = Verdict::NotOurs;
    Address address;
    std::string key;             // the key that was found (Valid)
    std::string backend;         // backend that answered (Valid, TempFail)
    std::string reason;          // TempFail cause, syntax problem, "postmaster", or why stale
    bool stale = false;          // Valid from the cache while the backend could not answer
    std::string domain_backend;  // the backend whose domain_query made the domain ours ("" = "domains" names it)
    int domain_index = -1;       // the [domain NAME] section that applies (RecipientSettings::per_domain), or -1
};

enum class RcptAction { Continue, Reject, TempFail };

struct RcptDecision {
    RcptAction action = RcptAction::Continue;
    Reply reply;                     // for Reject / TempFail
    bool monitored = false;          // monitor mode let through what enforce would refuse
    Reply would_reply;               // what enforce mode would have sent
    bool accepted_on_error = false;  // on_backend_error = accept let a TempFail through
    Millis delay{0};                 // tarpit: wait this long before replying (see session.hpp)
};

// One "[domain NAME]" section, with the global values filled in for the keys
// it does not set.
struct DomainSettings {
    std::string domain;  // canonical
    bool monitor = false;
    std::string reject_message;
    std::vector<std::string> backend_names;  // empty: the global "backends"
};

struct RecipientSettings {
    DomainSet domains;                         // the names in "domains"
    std::vector<std::string> domain_backends;  // its "backend:NAME" entries
    std::vector<DomainSettings> per_domain;    // [domain NAME] sections
    AddressOptions address;
    bool monitor = false;                  // mode = monitor
    bool accept_on_backend_error = false;  // on_backend_error = accept
    // rcptguard's own phrases; the client reads "<address>: Recipient address
    // rejected: " before them, whichever door answered (core/reply.hpp).
    std::string reject_message = "User unknown";
    std::string tempfail_message = "Temporary lookup failure";
};

// What the rules ask: the global chain (with its cache), the domain lookup
// for "backend:NAME" entries (null without any), and one chain per [domain]
// section with its own backends (parallel to RecipientSettings::per_domain;
// null = the global one).
struct RecipientLookups {
    std::shared_ptr<const KeyLookup> recipients;
    std::shared_ptr<const KeyLookup> domains;
    std::vector<std::shared_ptr<const KeyLookup>> per_domain;
};

class RecipientRules {
public:
    RecipientRules(RecipientSettings settings, std::shared_ptr<const KeyLookup> lookup);
    RecipientRules(RecipientSettings settings, RecipientLookups lookups);

    RecipientCheck check(std::string_view raw_address) const;
    std::optional<RecipientCheck> check_at_once(std::string_view raw_address) const;
    RcptDecision decide(const RecipientCheck& check) const;
    // What enforce mode would answer, ignoring monitor and on_backend_error.
    Reply enforce_reply(const RecipientCheck& check) const;
    // mode = monitor for this recipient (its domain's section, else global).
    bool monitor_for(const RecipientCheck& check) const;

    const RecipientSettings& settings() const { return settings_; }
    const KeyLookup& lookup() const { return *lookups_.recipients; }

private:
    std::optional<RecipientCheck> evaluate(std::string_view raw_address, bool may_wait) const;
    int domain_index(std::string_view domain) const;

    RecipientSettings settings_;
    RecipientLookups lookups_;
    std::unordered_map<std::string, int> per_domain_index_;
};

}  // namespace rcptguard
