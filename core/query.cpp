// query: see query.hpp.
#include "core/query.hpp"

#include "core/batv/batv_recipient.hpp"
#include "core/reply.hpp"
#include "util/text.hpp"

namespace rcptguard {

namespace {

// BATV, when on. Without a sender: a tagged address is judged as the bounce
// it normally receives; an untagged one as ordinary mail, with a note on
// bounces to it. With one: as session_batv.cpp judges a RCPT from it.
// Returns an exit code when BATV alone decides, else -1 (check_address is
// then what the recipient policy checks; note is printed after its verdict).
int query_batv(const Runtime& rt, std::string_view address, std::int64_t unix_now,
               const std::optional<std::string>& sender, std::ostream& out, std::string* check_address,
               std::string* note) {
    const BatvSettings& b = rt.settings->batv;
    const RecipientRules& policy = *rt.rules;
    if (!b.enabled) return -1;
    const AddressOptions& ao = policy.settings().address;
    Address a = parse_address(address, ao);
    char delim = ao.recipient_delimiters.empty() ? '\0' : ao.recipient_delimiters[0];
    BatvRecipient br = classify_batv_recipient(b, a, delim, batv_day(unix_now));
    std::string who = display_address(a.original);
    bool enforcing = b.enforce && !policy.settings().monitor;
    std::string monitor_note = enforcing ? "" : " (BATV monitor mode: only logged, mail accepted)";
    std::optional<std::string> from = sender;  // without its <>: "" for a bounce
    if (from && from->size() >= 2 && from->front() == '<' && from->back() == '>')
        *from = from->substr(1, from->size() - 2);
    if (br.kind == BatvRecipient::Kind::Untagged && !from) {
        *note = who + ": BATV: a bounce (MAIL FROM:<>) to this untagged address would get " +
                batv_refusal(br, a.original).to_string() + monitor_note + "\n";
        return -1;
    }
    // Without a sender a tagged address is judged as for the bounce it exists for.
    BatvStep step = batv_step(br, !from || from->empty(), b.verify_all_senders);
    if (step == BatvStep::Pass) return -1;
    bool tagged = br.kind == BatvRecipient::Kind::Tagged;
    if (step == BatvStep::Refuse) {
        out << who
            << (tagged ? ": BATV tag invalid (" + std::string(to_string(br.check)) + "): "
                       : std::string(": BATV: a bounce to an untagged address: "))
            << (from ? "would reply " : "a bounce would get ") << batv_refusal(br, a.original).to_string()
            << monitor_note << "\n";
        if (enforcing) return kQueryUnknown;
        if (!tagged) return -1;
    } else if (br.check == TagCheck::Valid) {
        out << who << ": BATV tag valid: recipient rewritten to " << display_address(br.rewrite) << "\n";
    } else {
        out << who << ": BATV tag invalid (" << to_string(br.check) << "), not checked for mail from "
            << display_address(*from) << " (batv_verify_all_senders = no): recipient rewritten to "
            << display_address(br.rewrite) << "\n";
    }
    *check_address = br.rewrite;
    return -1;
}

// A canonical domain as an administrator recognises it: "bücher.test
// (xn--bcher-kva.test)" for an internationalised one.
std::string describe_domain(const std::string& canonical) {
    std::string unicode = unicode_domain(canonical);
    if (unicode == canonical) return printable(canonical);
    return printable(unicode) + " (" + printable(canonical) + ")";
}

int print_verdict(const RecipientRules& policy, std::string_view address, std::ostream& out) {
    RecipientCheck c = policy.check(address);
    Reply would = policy.enforce_reply(c);
    std::string who = display_address(c.address.original);
    std::string mode_note = policy.settings().monitor ? " (mode = monitor: only logged, mail accepted)" : "";
    switch (c.verdict) {
        case Verdict::Valid:
            out << who
                << ": valid: " << (c.key.empty() ? c.reason : "found " + printable(c.key) + " in backend " + c.backend)
                << "\n";
            return kQueryValid;
        case Verdict::NotOurs:
            out << who << ": not ours: "
                << (c.reason.empty() ? "domain " + describe_domain(c.address.domain) + " is not in 'domains'"
                                     : c.reason)
                << ": no opinion\n";
            return kQueryNotOurs;
        case Verdict::Unknown:
            out << who << ": unknown: would reply " << would.to_string() << mode_note << "\n";
            return kQueryUnknown;
        case Verdict::BadSyntax:
            out << who << ": bad syntax (" << c.reason << "): would reply " << would.to_string() << mode_note << "\n";
            return kQueryUnknown;
        case Verdict::TempFail:
            out << who << ": temporary failure: backend " << c.backend << ": " << printable(c.reason, 300)
                << ": would reply " << would.to_string()
                << (policy.settings().accept_on_backend_error ? " (on_backend_error = accept: mail accepted)"
                                                              : mode_note)
                << "\n";
            return kQueryTempFail;
    }
    return kQueryTempFail;
}

}  // namespace

int run_query(const Runtime& rt, std::string_view address, std::ostream& out, std::int64_t unix_now,
              const std::optional<std::string>& sender) {
    const RecipientRules& policy = *rt.rules;
    std::string check_address(address);
    std::string batv_note;
    int batv_exit = query_batv(rt, address, unix_now, sender, out, &check_address, &batv_note);
    if (batv_exit >= 0) return batv_exit;
    int code = print_verdict(policy, check_address, out);
    out << batv_note;
    return code;
}

}  // namespace rcptguard
