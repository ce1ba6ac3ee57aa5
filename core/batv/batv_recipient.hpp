// batv_recipient: what BATV says about one recipient address, apart from any
// session - shared by the RCPT path (session_batv.cpp) and "rcptguard -q", so
// both judge a tag the same way and word the refusal the same way.
// Thread-safety: pure function over immutable settings.
#pragma once

#include <cstdint>
#include <string>

#include "core/batv/batv_settings.hpp"
#include "core/reply.hpp"
#include "util/address.hpp"

namespace rcptguard {

struct BatvRecipient {
    enum class Kind {
        NotChecked,  // BATV off, not one of batv_domains, postmaster, exempt, not a mailbox
        Untagged,    // in batv_domains without a tag: a bounce to it is refused
        Tagged,      // carries a prvs tag (or something that looks like one)
    };
    Kind kind = Kind::NotChecked;
    TagCheck check = TagCheck::Valid;  // Tagged only
    std::string plain;                 // Tagged only: canonical address the tag stands for (signed over)
    // Tagged only: what the recipient is rewritten to - plain, with the domain
    // in the form the client wrote it (U-labels stay U-labels, see
    // util/address.hpp domain_as_written), so the MTA routes it as before.
    std::string rewrite;
};

// today: batv_day() of the current time; delimiter: first recipient_delimiter
// character, '\0' if none.
BatvRecipient classify_batv_recipient(const BatvSettings& b, const Address& a, char delimiter, std::int64_t today);

// What BATV asks of the RCPT of a message from a null (bounce) or another
// sender, before monitor mode is applied: refuse it (batv_refusal), deliver
// it to r.plain, or leave it alone. The RCPT path and "rcptguard -q -S" both
// decide with this.
enum class BatvStep { Pass, Refuse, Rewrite };
BatvStep batv_step(const BatvRecipient& r, bool null_sender, bool verify_all_senders);

// The 550 5.7.1 a bounce to this recipient gets (kind Untagged, or Tagged
// with an invalid tag); who: the address as the client wrote it, for the text.
Reply batv_refusal(const BatvRecipient& r, std::string_view original);

}  // namespace rcptguard
