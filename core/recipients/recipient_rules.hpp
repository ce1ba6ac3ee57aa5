// recipient_policy: decides what happens to one RCPT TO address. The single
// place a verdict is computed, whichever front end asked (milter, -q, ctl).
//
// check(): normalise the address (address.hpp), then
//   - not one of our domains (or no domain) -> NotOurs (no opinion)
//   - postmaster of our domains              -> Valid (RFC 5321 4.5.1)
//   - syntax error in one of our domains     -> BadSyntax
//   - keys full, without +detail, @domain through the KeyLookup (each
//     backend in order is asked for all of them): Found -> Valid, NotFound
//     everywhere -> Unknown, the first TempFail -> TempFail.
// decide(): turns a check into an action under the configured mode
// (enforce/monitor) and on_backend_error (tempfail/accept). TempFail is never
// turned into a 5xx reply.
// Thread-safety: immutable after construction; check()/decide() are const and
// may run on many threads at once.
#pragma once

#include <memory>
#include <string>
#include <string_view>

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
    std::string key;      // the key that was found (Valid)
    std::string backend;  // backend that answered (Valid, TempFail)
    std::string reason;   // TempFail cause, syntax problem, "postmaster", or why stale
    bool stale = false;   // Valid from the cache while the backend could not answer
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

struct RecipientSettings {
    DomainSet domains;
    AddressOptions address;
    bool monitor = false;                  // mode = monitor
    bool accept_on_backend_error = false;  // on_backend_error = accept
    // rcptguard's own phrases; the client reads "<address>: Recipient address
    // rejected: " before them, whichever door answered (core/reply.hpp).
    std::string reject_message = "User unknown";
    std::string tempfail_message = "Temporary lookup failure";
};

class RecipientRules {
public:
    RecipientRules(RecipientSettings settings, std::shared_ptr<const KeyLookup> lookup);

    RecipientCheck check(std::string_view raw_address) const;
    RcptDecision decide(const RecipientCheck& check) const;
    // What enforce mode would answer, ignoring monitor and on_backend_error.
    Reply enforce_reply(const RecipientCheck& check) const;

    const RecipientSettings& settings() const { return settings_; }
    const KeyLookup& lookup() const { return *lookup_; }

private:
    RecipientSettings settings_;
    std::shared_ptr<const KeyLookup> lookup_;
};

}  // namespace rcptguard
