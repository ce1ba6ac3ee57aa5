// recipient_rules: see recipient_rules.hpp.
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
    : RecipientRules(std::move(settings), RecipientLookups{std::move(lookup), nullptr, {}}) {}

RecipientRules::RecipientRules(RecipientSettings settings, RecipientLookups lookups)
    : settings_(std::move(settings)), lookups_(std::move(lookups)) {
    for (std::size_t i = 0; i < settings_.per_domain.size(); ++i)
        per_domain_index_.emplace(settings_.per_domain[i].domain, static_cast<int>(i));
}

int RecipientRules::domain_index(std::string_view domain) const {
    if (per_domain_index_.empty()) return -1;
    auto it = per_domain_index_.find(std::string(domain));
    return it == per_domain_index_.end() ? -1 : it->second;
}

bool RecipientRules::monitor_for(const RecipientCheck& c) const {
    if (c.domain_index >= 0 && static_cast<std::size_t>(c.domain_index) < settings_.per_domain.size())
        return settings_.per_domain[static_cast<std::size_t>(c.domain_index)].monitor;
    return settings_.monitor;
}

RecipientCheck RecipientRules::check(std::string_view raw) const { return *evaluate(raw, true); }

std::optional<RecipientCheck> RecipientRules::check_at_once(std::string_view raw) const { return evaluate(raw, false); }

std::optional<RecipientCheck> RecipientRules::evaluate(std::string_view raw, bool may_wait) const {
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
    bool ours = settings_.domains.contains(a.domain);
    if (!ours && lookups_.domains && !a.domain.empty() && a.domain.front() != '[') {
        // "domains = backend:NAME": the database says which domains are ours,
        // holding an internationalised domain in either form.
        std::vector<std::string> forms{a.domain};
        if (std::string u = unicode_domain(a.domain); u != a.domain) forms.push_back(std::move(u));
        std::optional<KeyAnswer> asked =
            may_wait ? lookups_.domains->lookup(forms) : lookups_.domains->lookup_at_once(forms);
        if (!asked) return std::nullopt;
        KeyAnswer& d = *asked;
        if (d.status == LookupStatus::TempFail) {
            // Unknown whether the domain is ours: never a verdict, never "not ours".
            c.verdict = Verdict::TempFail;
            c.backend = std::move(d.backend);
            c.reason = std::move(d.reason);
            c.domain_index = domain_index(a.domain);
            return c;
        }
        if (d.status == LookupStatus::Found) {
            ours = true;
            c.domain_backend = std::move(d.backend);
        }
    }
    if (!ours) {
        c.verdict = Verdict::NotOurs;
        return c;
    }
    c.domain_index = domain_index(a.domain);
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
    const KeyLookup* lookup = lookups_.recipients.get();
    if (c.domain_index >= 0 && static_cast<std::size_t>(c.domain_index) < lookups_.per_domain.size() &&
        lookups_.per_domain[static_cast<std::size_t>(c.domain_index)])
        lookup = lookups_.per_domain[static_cast<std::size_t>(c.domain_index)].get();
    std::vector<std::string> keys = lookup_keys(a, settings_.address);
    std::optional<KeyAnswer> asked = may_wait ? lookup->lookup(keys) : lookup->lookup_at_once(keys);
    if (!asked) return std::nullopt;
    KeyAnswer& ans = *asked;
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
        case Verdict::Unknown:
            return unknown_user_reply(
                c.address.original,
                c.domain_index >= 0 && static_cast<std::size_t>(c.domain_index) < settings_.per_domain.size()
                    ? settings_.per_domain[static_cast<std::size_t>(c.domain_index)].reject_message
                    : settings_.reject_message);
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
    if (monitor_for(c)) {
        d.monitored = true;
        d.would_reply = std::move(r);
        return d;
    }
    d.action = r.is_permanent() ? RcptAction::Reject : RcptAction::TempFail;
    d.reply = std::move(r);
    return d;
}

}  // namespace rcptguard
