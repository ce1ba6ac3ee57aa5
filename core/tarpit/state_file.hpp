// state_file: the format of the file in which a host keeps its bans across a
// restart (state_file, shared_state = local). Text, one ban per line, so an
// administrator can read it:
//
//   # comments and blank lines are ignored
//   rcptguard-state 1
//   ban 192.0.2.7 1767225600 12
//   ban 2001:db8:1:2::/64 1767229200 31
//
// "ban CLIENT UNTIL BAD": the client key (an address, or an IPv6 prefix as
// the tarpit aggregates it), when the ban ends in seconds since 1970 (UTC:
// wall-clock time, since the process's monotonic clock does not survive a
// restart) and the bad recipients counted when it was banned.
//
// A file that is not exactly this - a wrong first line, a line that does not
// parse, a client that is not an address or prefix, a ban longer than the
// longest ban_time allows, more bans than the table holds - is refused as a
// whole with the line and the problem: a damaged file never bans anyone.
// Bans already over are skipped silently.
// Thread-safety: pure functions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace rcptguard {

struct SavedBan {
    std::string key;
    std::int64_t until_unix = 0;
    unsigned bad = 0;
};

std::string format_state_file(const std::vector<SavedBan>& bans);

// Returns "" and the bans still in force at now_unix, or "line N: problem".
std::string parse_state_file(std::string_view text, std::int64_t now_unix, std::int64_t longest_ban_seconds,
                             std::size_t max_bans, std::vector<SavedBan>* bans);

}  // namespace rcptguard
