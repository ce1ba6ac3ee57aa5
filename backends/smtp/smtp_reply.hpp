// smtp_reply: reading the replies of a downstream SMTP server (RFC 5321 §4.2)
// and judging what a reply to RCPT TO says about the recipient. Pure code, no
// I/O: SmtpReplyReader takes the bytes as they arrive and hands out complete
// replies, so every hostile input can be unit-tested and fuzzed.
//
// What the downstream sends is untrusted. A reply is refused as malformed
// (SmtpReplyReader::Step::Malformed, with a reason for the log) when a line
// is longer than kMaxReplyLineBytes, holds a NUL byte, does not start with a
// three-digit code 2yz..5yz followed by nothing, a space or '-', when the lines
// of one multi-line reply carry different codes, or when one reply has more
// than kMaxReplyLines lines. A malformed reply is never a verdict: the
// connection is dropped and the lookup answers TempFail.
//
// classify_rcpt_reply() is the one place that maps a reply to RCPT onto a
// verdict: 250 and 251 accept; 550, 551 and 553 with an RFC 3463 enhanced code
// 5.1.x (an addressing problem) mean the mailbox does not exist; everything
// else - 4yz, 5.7.x (policy), 5.3.x (system), a 550 without an enhanced code,
// an enhanced code of the wrong class - says nothing about the mailbox.
// Thread-safety: value types; a reader belongs to one connection.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace rcptguard {

// RFC 5321 §4.5.3.1.5 allows 512 octets per reply line; real servers exceed
// it with long texts, so we allow more, but not without bound.
constexpr std::size_t kMaxReplyLineBytes = 2048;
constexpr std::size_t kMaxReplyLines = 100;

struct SmtpReply {
    int code = 0;                    // 200..599
    std::string enhanced;            // "5.1.1" from the first line (RFC 3463), "" if none or of the wrong class
    std::vector<std::string> lines;  // each line's text after the code and its separator, as received

    // "550 5.1.1 <a@b>: Recipient address rejected: User unknown": the code and
    // the lines' texts joined by " / ", made printable and cut to max_bytes.
    std::string summary(std::size_t max_bytes = 300) const;
};

class SmtpReplyReader {
public:
    enum class Step { More, Done, Malformed };

    // Appends bytes received from the server.
    void feed(std::string_view bytes) { buffer_.append(bytes); }
    // Done: *reply holds the next complete reply (its bytes are consumed).
    // More: feed more bytes. Malformed: *problem says why; the reader is then
    // unusable (the connection must be dropped).
    Step next(SmtpReply* reply, std::string* problem);
    // True when bytes beyond the replies taken so far have arrived.
    bool has_pending() const { return !buffer_.empty() || !partial_.lines.empty(); }

private:
    std::string buffer_;       // received, not yet handed out as a reply
    std::size_t pos_ = 0;      // start of the first line not yet parsed
    std::size_t scanned_ = 0;  // buffer_ up to here holds no line end after pos_
    SmtpReply partial_;        // the lines of the reply being assembled
};

// The parts of one reply line: "250-PIPELINING" -> code 250, last false, text "PIPELINING".
struct SmtpReplyLine {
    int code = 0;
    bool last = true;
    std::string_view text;
};
// False (and *problem) for a line that is not a reply line.
bool parse_reply_line(std::string_view line, SmtpReplyLine* out, std::string* problem);

// "5.1.1" when text starts with an RFC 3463 enhanced status code of class
// code / 100 followed by a space or the end; "" otherwise.
std::string enhanced_code(std::string_view text, int code);

enum class RcptVerdict {
    Accepted,  // 250, 251
    Unknown,   // 550, 551, 553 with enhanced code 5.1.x
    Other,     // anything else: no verdict
};
RcptVerdict classify_rcpt_reply(const SmtpReply& reply);

// What a 250 reply to EHLO offers (RFC 5321 §4.1.1.1; keywords are
// case-insensitive).
struct SmtpExtensions {
    bool pipelining = false;  // RFC 2920
    bool starttls = false;    // RFC 3207
    bool smtputf8 = false;    // RFC 6531
};
SmtpExtensions parse_ehlo_reply(const SmtpReply& reply);

}  // namespace rcptguard
