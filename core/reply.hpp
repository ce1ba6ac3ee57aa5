// reply: an SMTP reply as a structured value - code, enhanced code, the
// recipient it is about and rcptguard's own phrase - built in one place and
// rendered by each door (milter/milter_reply.hpp for libmilter, the policy
// door's policy_action for Postfix's policy protocol).
//
// One text whatever the door: Postfix answers a policy service's refusal with
// "CODE X.Y.Z <address>: Recipient address rejected: PHRASE" (smtpd_check.c
// builds that itself around the action's text), so text() - what the milter
// sends - reads exactly the same, and the policy door sends only the phrase.
//
// Rules enforced here (doc/platform.md §3): the enhanced status code's class
// matches the reply code's (Postfix drops the milter for the rest of the
// session on "550 4.x.x"); dynamic text is printable ASCII and single-line
// and stays under libmilter's 980-character limit. Replies stay ASCII even for
// UTF-8 addresses (ascii_reply_text()); logs show them in UTF-8
// (display_address()).
// Thread-safety: value types and pure functions.
#pragma once

#include <string>
#include <string_view>

namespace rcptguard {

struct Reply {
    std::string code;     // "550"
    std::string xcode;    // "5.1.1"
    std::string address;  // the recipient as the client wrote it (without <>); "" when not about one
    std::string phrase;   // rcptguard's own text, e.g. "User unknown"

    bool empty() const { return code.empty(); }
    bool is_permanent() const { return !code.empty() && code[0] == '5'; }
    bool is_temporary() const { return !code.empty() && code[0] == '4'; }
    // 550, 451, ...; 0 when empty or malformed.
    int number() const;
    // What the SMTP client reads after the codes: "<address>: Recipient
    // address rejected: phrase" (or the phrase alone), printable and bounded.
    std::string text() const;
    // Appends text() to out (no temporary string in the usual case).
    void append_text(std::string& out) const;
    // "550 5.1.1 " + text(), for logs and the -q output.
    std::string to_string() const;
    // Appends to_string() to out.
    void append_to(std::string& out) const;
};

constexpr std::size_t kMaxReplyText = 980;

// True when code is 4xx/5xx, xcode is class.subject.detail with the same class,
// and the phrase is non-empty.
bool reply_is_well_formed(const Reply& r);

// "<address>" as shown in logs and in what rcptguard -q and rcptguard-ctl
// print: valid UTF-8 as it is, control characters and invalid bytes escaped
// (util/text.hpp printable()), bounded.
std::string display_address(std::string_view original);

// Untrusted text made fit for an SMTP reply: printable ASCII only, cut at
// max_len bytes (with "..." appended) between characters. A valid non-ASCII
// character is written as RFC 6533's EmbeddedUnicodeChar "\x{HEX}"
// ("j\x{F6}rg@b\x{FC}cher.test"), so a UTF-8 address stays legible and
// unambiguous; control characters and bytes that are not UTF-8 become '?'.
std::string ascii_reply_text(std::string_view s, std::size_t max_len);

Reply unknown_user_reply(std::string_view original, std::string_view reject_message);
Reply lookup_tempfail_reply(std::string_view original, std::string_view tempfail_message);
Reply bad_syntax_reply(std::string_view original);

// Checks a configurable reply phrase: printable ASCII only, no CR/LF, bounded.
// Returns "" when acceptable, else the problem.
std::string check_reply_text(std::string_view text);

}  // namespace rcptguard
