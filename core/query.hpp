// query: "rcptguard -q ADDRESS" (and "rcptguard-ctl check"): runs the exact
// production lookup path for one address and prints the verdict, like
// Postfix's "postmap -q".
// With BATV on and no sender given, a tagged address is judged as a bounce to
// it would be (the tag checked, then the plain address; an invalid tag is exit
// 1 when BATV enforces), and an untagged one in batv_domains as ordinary mail,
// with a note that a bounce to it would be refused. Given the envelope sender
// ("rcptguard -q ADDRESS -S SENDER"; "<>" or "" for a bounce) it is judged
// exactly as the RCPT of a message from that sender.
// Exit codes: 0 valid recipient, 1 unknown or bad syntax (would get 5xx),
// 2 temporary failure (would get 451), 3 not one of our domains (no opinion).
// Thread-safety: uses only the (thread-safe) policy.
#pragma once

#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>

#include "core/runtime.hpp"

namespace rcptguard {

enum QueryExit { kQueryValid = 0, kQueryUnknown = 1, kQueryTempFail = 2, kQueryNotOurs = 3 };

// unix_now: the current time (for BATV tag expiry); sender: the envelope
// sender as in MAIL FROM, or nullopt when not given.
int run_query(const Runtime& rt, std::string_view address, std::ostream& out, std::int64_t unix_now,
              const std::optional<std::string>& sender = std::nullopt);

}  // namespace rcptguard
