// recipient_policy: see recipient_policy.hpp.
#include "core/recipients/recipient_rules.hpp"

namespace rcptguard {

const char* to_string(Verdict v) {
    switch (v) {
        case Verdict::Valid: return "valid";
        case Verdict::Unknown: return "unknown";
        case Verdict::TempFail: return "temporary failure";
        case Verdict::NotOurs: return "not ours";
        case Verdict::BadSyntax: return "bad syntax";
    }
    return "temporary failure";
}

RecipientRules::RecipientRules(RecipientSettings settings, std::shared_ptr<const KeyLookup> lookup)
    : settings_(std::move(settings)), lookup_(std::move(lookup)) {}

RecipientCheck RecipientRules::check(std::string_view raw) const {
    RecipientCheck c;
    c.address = parse_address(raw, settings_.address);
    const Address& a = c.address;
    if (a.status == AddressStatus::Null) {
        // "RCPT TO:<>" is a syntax error everywhere; the MTA normally refuses it first.
        c.verdict = Verdict::BadSyntax;
        c.reason = "empty recipient address";
        return c;
    }
    if (a.status == AddressStatus::LocalOnly) {
        // Bare "postmaster" must be accepted (RFC 5321 4.5.1); other bare names
        // belong to the MTA's own local domain handling.
        c.verdict = is_postmaster(a) ? Verdict::Valid : Verdict::NotOurs;
        c.reason = is_postmaster(a) ? "postmaster" : "no domain";
        return c;
    }
    if (!settings_.domains.contains(a.domain)) {
        c.verdict = Verdict::NotOurs;
        return c;
    }
    if (a.status == AddressStatus::Invalid) {
        c.verdict = Verdict::BadSyntax;
        c.reason = a.error;
        return c;
    }
    if (is_postmaster(a)) {
        c.verdict = Verdict::Valid;
        c.reason = "postmaster";
        return c;
    }
    KeyAnswer ans = lookup_->lookup(lookup_keys(a, settings_.address));
    if (ans.status == LookupStatus::Found) {
        c.verdict = Verdict::Valid;
        c.key = std::move(ans.key);
        c.backend = std::move(ans.backend);
        c.reason = std::move(ans.reason);
        c.stale = ans.stale;
        return c;
    }
    if (ans.status == LookupStatus::TempFail) {
        c.verdict = Verdict::TempFail;
        c.backend = std::move(ans.backend);
        c.reason = std::move(ans.reason);
        return c;
    }
    c.verdict = Verdict::Unknown;
    return c;
}

Reply RecipientRules::enforce_reply(const RecipientCheck& c) const {
    switch (c.verdict) {
        case Verdict::Unknown: return unknown_user_reply(c.address.original, settings_.reject_message);
        case Verdict::TempFail: return lookup_tempfail_reply(c.address.original, settings_.tempfail_message);
        case Verdict::BadSyntax: return bad_syntax_reply(c.address.original);
        case Verdict::Valid:
        case Verdict::NotOurs: break;
    }
    return {};
}

RcptDecision RecipientRules::decide(const RecipientCheck& c) const {
    RcptDecision d;
    Reply r = enforce_reply(c);
    if (r.empty()) return d;
    if (c.verdict == Verdict::TempFail && settings_.accept_on_backend_error) {
        d.accepted_on_error = true;
        d.would_reply = std::move(r);
        return d;
    }
    if (settings_.monitor) {
        d.monitored = true;
        d.would_reply = std::move(r);
        return d;
    }
    d.action = r.is_permanent() ? RcptAction::Reject : RcptAction::TempFail;
    d.reply = std::move(r);
    return d;
}

}  // namespace rcptguard
