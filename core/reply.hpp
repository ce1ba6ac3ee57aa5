// reply: SMTP replies as rcptguard sends them through the milter or policy
// protocol, built in one place so every text is checked the same way.
//
// Rules enforced here (see ../shared/notes/platform.md section 3):
// - the enhanced status code's class matches the reply code's (Postfix drops
//   the milter for the rest of the session on "550 4.x.x");
// - dynamic text is made printable and single-line, and every '%' is doubled
//   on the wire (Sendmail uses the text as a printf format; Postfix maps %% to %);
// - the text stays under libmilter's 980-character limit.
// Thread-safety: value types and pure functions.
#pragma once

#include <string>
#include <string_view>

namespace rcptguard {

struct Reply {
    std::string code;   // "550"
    std::string xcode;  // "5.1.1"
    std::string text;   // human text, unescaped

    bool empty() const { return code.empty(); }
    bool is_permanent() const { return !code.empty() && code[0] == '5'; }
    bool is_temporary() const { return !code.empty() && code[0] == '4'; }
    // The text as handed to smfi_setreply: printable, '%' doubled, bounded.
    std::string wire_text() const;
    // "550 5.1.1 text" for logs and the -q output.
    std::string to_string() const;
};

constexpr std::size_t kMaxReplyText = 980;

// True when code is 4xx/5xx, xcode is class.subject.detail with the same class,
// and the text is non-empty.
bool reply_is_well_formed(const Reply& r);

// "<address>" as shown in reply texts: printable and bounded.
std::string display_address(std::string_view original);

Reply unknown_user_reply(std::string_view original, std::string_view reject_message);
Reply lookup_tempfail_reply(std::string_view original, std::string_view tempfail_message);
Reply bad_syntax_reply(std::string_view original);

// Doubles every '%' (for texts passed to libmilter).
std::string escape_percent(std::string_view s);

// Checks a configurable reply text: printable ASCII only, no CR/LF, bounded.
// Returns "" when acceptable, else the problem.
std::string check_reply_text(std::string_view text);

}  // namespace rcptguard
