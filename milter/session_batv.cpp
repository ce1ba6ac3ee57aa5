// session_batv: the BATV (signed bounce address) part of a Connection:
// verifying prvs tags at RCPT time and signing our senders at end of message.
// See session.hpp and batv/prvs.hpp.
#include "log.hpp"
#include "reply.hpp"
#include "session.hpp"
#include "text.hpp"

namespace rcptguard {

Connection::BatvOutcome Connection::batv_rcpt(std::string_view raw) {
    BatvOutcome out;
    out.check_address = std::string(raw);
    const BatvSettings& b = runtime_->settings->batv;
    if (!b.enabled) return out;
    const AddressOptions& ao = runtime_->policy->settings().address;
    Address a = parse_address(raw, ao);
    if (a.status != AddressStatus::Mailbox || !b.domains.contains(a.domain) || is_postmaster(a)) return out;
    for (const auto& e : b.exempt_recipients)
        if (e == a.canonical()) return out;
    char delim = ao.recipient_delimiters.empty() ? '\0' : ao.recipient_delimiters[0];
    TaggedAddress t = split_prvs(a.local, a.domain, delim);
    bool verify = null_sender_ || b.verify_all_senders;
    bool monitor = !b.enforce || runtime_->policy->settings().monitor;
    Metrics& m = services_.metrics;
    std::string who = display_address(a.original);
    auto refusal = [&](const std::string& why) {
        Reply r{"550", "5.7.1", who + ": " + why};
        if (monitor) {
            bump(m.batv_monitored);
            log_info(log_prefix("batv") + who + ": would reject (BATV monitor mode): " + r.to_string() +
                     "; client=" + client_text() + " from=" + display_address(sender_));
            return false;
        }
        out.refused = true;
        out.decision.action = RcptAction::Reject;
        out.decision.reply = std::move(r);
        log_info(log_prefix("batv") + who + ": reject: " + out.decision.reply.to_string() + "; client=" +
                 client_text() + " from=" + display_address(sender_));
        return true;
    };
    if (!t.tag.empty() || t.malformed) {
        TagCheck c = t.malformed ? TagCheck::Malformed
                                 : check_prvs(t.tag, t.plain, b.keys, batv_day(services_.unix_time()), b.lifetime_days);
        if (c == TagCheck::Valid) {
            bump(m.batv_valid);
            rcpt_rewrites_.emplace_back(std::string(raw), "<" + t.plain + ">");
            out.check_address = t.plain;
            return out;
        }
        bump(m.batv_invalid);
        if (verify && refusal(std::string("Invalid bounce address tag (BATV): ") + to_string(c))) return out;
        // Not refused (monitor, or a non-null sender such as an auto-reply to
        // our Return-Path): deliver to the address the tag stands for.
        rcpt_rewrites_.emplace_back(std::string(raw), "<" + t.plain + ">");
        out.check_address = t.plain;
        return out;
    }
    if (null_sender_) {
        bump(m.batv_untagged_bounces);
        refusal("Bounce to an address we never used as a sender (BATV)");
    }
    return out;
}

bool Connection::will_sign() const {
    const BatvSettings& b = runtime_->settings->batv;
    if (!b.enabled || !b.sign || null_sender_ || sender_address_.status != AddressStatus::Mailbox) return false;
    if (!b.domains.contains(sender_address_.domain)) return false;
    // Only mail we send for our own users: authenticated, trusted or local.
    if (via_smtp_ && !tarpit_.exempt) return false;
    for (const auto& r : recipients_) {
        auto at = r.rfind('@');
        if (b.exempt_destination_domains.contains(r.substr(at + 1))) return false;
        for (const auto& e : b.exempt_destination_addresses)
            if (e == r) return false;
    }
    return true;
}

void Connection::sign_sender(EomEdits& edits) const {
    const BatvSettings& b = runtime_->settings->batv;
    if (!will_sign() || !b.keys.signing()) return;
    const Address& s = sender_address_;
    std::string tag = prvs_tag(*b.keys.signing(), batv_day(services_.unix_time()), b.lifetime_days, s.canonical());
    const std::string& delims = runtime_->policy->settings().address.recipient_delimiters;
    // The tagged local part keeps the sender's own spelling (case) of it.
    std::string local = s.original.substr(0, s.original.rfind('@'));
    if (local.find(':') != std::string::npos) local = s.local;  // had a source route
    auto tagged = tagged_sender(local, s.domain, tag, b.form, delims.empty() ? '\0' : delims[0]);
    if (tagged) {
        edits.new_sender = "<" + *tagged + ">";
        bump(services_.metrics.batv_signed);
        log_info(log_prefix("batv") + display_address(s.original) + ": sender signed as " + edits.new_sender);
    } else {
        log_info(log_prefix("batv") + display_address(s.original) + ": not signed (quoted, already tagged or "
                                                                    "too long for a tag)");
    }
}

}  // namespace rcptguard
