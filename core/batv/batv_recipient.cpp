// batv_recipient: see batv_recipient.hpp.
#include "core/batv/batv_recipient.hpp"

namespace rcptguard {

BatvRecipient classify_batv_recipient(const BatvSettings& b, const Address& a, char delimiter, std::int64_t today) {
    BatvRecipient r;
    if (!b.enabled || a.status != AddressStatus::Mailbox || !b.domains.contains(a.domain) || is_postmaster(a)) return r;
    std::string canonical = a.canonical();
    for (const auto& e : b.exempt_recipients)
        if (e == canonical) return r;
    TaggedAddress t = split_prvs(a.local, a.domain, delimiter);
    if (t.tag.empty() && !t.malformed) {
        r.kind = BatvRecipient::Kind::Untagged;
        return r;
    }
    r.kind = BatvRecipient::Kind::Tagged;
    r.plain = t.plain;
    r.rewrite = t.plain.substr(0, t.plain.rfind('@') + 1) + domain_as_written(a);
    r.check = t.malformed ? TagCheck::Malformed : check_prvs(t.tag, t.plain, b.keys, today, b.lifetime_days);
    return r;
}

BatvStep batv_step(const BatvRecipient& r, bool null_sender, bool verify_all_senders) {
    switch (r.kind) {
        case BatvRecipient::Kind::NotChecked: return BatvStep::Pass;
        case BatvRecipient::Kind::Untagged: return null_sender ? BatvStep::Refuse : BatvStep::Pass;
        case BatvRecipient::Kind::Tagged: break;
    }
    // An invalid tag from a non-null sender (an auto-reply to our
    // Return-Path) is only checked on request; it is delivered to the plain
    // address like a valid one.
    if (r.check != TagCheck::Valid && (null_sender || verify_all_senders)) return BatvStep::Refuse;
    return BatvStep::Rewrite;
}

Reply batv_refusal(const BatvRecipient& r, std::string_view original) {
    std::string why = r.kind == BatvRecipient::Kind::Tagged
                          ? std::string("Invalid bounce address tag (BATV): ") + to_string(r.check)
                          : std::string("Bounce to an address we never used as a sender (BATV)");
    return Reply{"550", "5.7.1", std::string(original), why};
}

}  // namespace rcptguard
