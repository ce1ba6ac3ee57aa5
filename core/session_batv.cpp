// session_batv: the BATV (signed bounce address) part of a Connection:
// verifying prvs tags at RCPT time and signing our senders at end of message.
// See session.hpp and batv/prvs.hpp.
#include "core/batv/batv_recipient.hpp"
#include "core/reply.hpp"
#include "core/session.hpp"
#include "util/log.hpp"
#include "util/text.hpp"

namespace rcptguard {

Connection::BatvOutcome Connection::batv_rcpt(std::string_view raw) {
    BatvOutcome out;
    out.check_address = std::string(raw);
    const BatvSettings& b = runtime_->settings->batv;
    if (!b.enabled) return out;
    const AddressOptions& ao = runtime_->rules->settings().address;
    Address a = parse_address(raw, ao);
    char delim = ao.recipient_delimiters.empty() ? '\0' : ao.recipient_delimiters[0];
    BatvRecipient br = classify_batv_recipient(b, a, delim, batv_day(services_.unix_time()));
    if (br.kind == BatvRecipient::Kind::NotChecked) return out;
    bool monitor = !b.enforce || runtime_->rules->settings().monitor;
    Metrics& m = services_.metrics;
    std::string who = display_address(a.original);
    auto refuse_unless_monitor = [&]() {
        Reply r = batv_refusal(br, a.original);
        if (monitor) {
            bump(m.batv_monitored);
            log_info(log_prefix("batv") + who + ": would reject (BATV monitor mode): " + r.to_string() +
                     "; client=" + client_text() + " from=" + sender_text_);
            return false;
        }
        // Logged by on_rcpt() once the tarpit has had its say: the line names
        // the reply the client really gets (a 421 at the cut-off).
        out.refused = true;
        out.decision.action = RcptAction::Reject;
        out.decision.reply = std::move(r);
        return true;
    };
    if (br.kind == BatvRecipient::Kind::Untagged) {
        if (null_sender_) bump(m.batv_untagged_bounces);
    } else {
        bump(br.check == TagCheck::Valid ? m.batv_valid : m.batv_invalid);
    }
    BatvStep step = batv_step(br, null_sender_, b.verify_all_senders);
    if (step == BatvStep::Refuse && refuse_unless_monitor()) return out;
    // Not refused (monitor mode, or not asked to): a tagged recipient is
    // delivered to the address the tag stands for.
    if (br.kind != BatvRecipient::Kind::Tagged) return out;
    rcpt_rewrites_.emplace_back(std::string(raw), "<" + br.rewrite + ">");
    out.check_address = br.rewrite;
    return out;
}

std::string Connection::batv_check_address(std::string_view raw) const {
    // What batv_rcpt() leaves the recipient policy to check, unless it
    // refuses the recipient (then nothing is checked).
    const BatvSettings& b = runtime_->settings->batv;
    if (!b.enabled) return std::string(raw);
    const AddressOptions& ao = runtime_->rules->settings().address;
    char delim = ao.recipient_delimiters.empty() ? '\0' : ao.recipient_delimiters[0];
    BatvRecipient br = classify_batv_recipient(b, parse_address(raw, ao), delim, batv_day(services_.unix_time()));
    return br.kind == BatvRecipient::Kind::Tagged ? br.rewrite : std::string(raw);
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
    const std::string& delims = runtime_->rules->settings().address.recipient_delimiters;
    // The tagged address keeps the sender's own spelling of the local part
    // (case, UTF-8) and the form of the domain (U-labels or ASCII); the tag
    // is over the canonical address, so any spelling verifies.
    std::string local = s.original.substr(0, s.original.rfind('@'));
    if (local.find(':') != std::string::npos) local = s.local;  // had a source route
    auto tagged = tagged_sender(local, domain_as_written(s), tag, b.form, delims.empty() ? '\0' : delims[0]);
    if (tagged) {
        edits.new_sender = "<" + *tagged + ">";
        bump(services_.metrics.batv_signed);
        log_info(log_prefix("batv") + display_address(s.original) + ": sender signed as " +
                 printable(edits.new_sender, 300));
    } else {
        log_info(log_prefix("batv") + display_address(s.original) +
                 ": not signed (quoted, already tagged or "
                 "too long for a tag)");
    }
}

}  // namespace rcptguard
