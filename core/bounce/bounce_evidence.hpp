// bounce_evidence: what marks a message as a bounce, recorded as the
// stripper finds it, so that every decision can name the evidence it used.
// The clues, and where they come from:
//   null-sender         the envelope sender is null (the stripper's caller
//                       knows; the milter only strips null-sender mail)
//   report-type         multipart/report; report-type=delivery-status or
//                       disposition-notification (RFC 6522)
//   status-part         a message/delivery-status or disposition-notification
//                       part (or their RFC 6533 global forms)
//   marker-line         a line that announces an inline copy of the original
//   auto-submitted      Auto-Submitted: auto-generated or auto-replied (RFC 3834)
//   from-mailer-daemon  From: names MAILER-DAEMON, postmaster or a mail
//                       delivery system
//   bounce-subject      Subject: says the mail was not delivered
//   x-failed-recipients the X-Failed-Recipients header Exim writes
//   failure-text        the explanation text says delivery failed ("could not
//                       be delivered", "550 5.1.1", ...; see failure_text.hpp)
// Which combinations are enough for which shape is decided by the scanners
// (multipart_scanner, inline_scanner) and documented in bounce_stripper.hpp.
// Thread-safety: a value type.
// Failure: cannot fail.
#pragma once

#include <cstdint>
#include <string>

namespace rcptguard::bounce {

enum class Clue : std::uint16_t {
    NullSender = 1 << 0,
    ReportType = 1 << 1,
    StatusPart = 1 << 2,
    MarkerLine = 1 << 3,
    AutoSubmitted = 1 << 4,
    FromMailerDaemon = 1 << 5,
    BounceSubject = 1 << 6,
    FailedRecipients = 1 << 7,
    FailureText = 1 << 8,
};

class Evidence {
public:
    void add(Clue c) { bits_ |= static_cast<std::uint16_t>(c); }
    void add(const Evidence& other) { bits_ |= other.bits_; }
    bool has(Clue c) const { return (bits_ & static_cast<std::uint16_t>(c)) != 0; }
    // From:, Subject: or X-Failed-Recipients: what MTAs write on a bounce's
    // top-level header (RFC 3464 defines no header for it).
    bool header_says_bounce() const {
        return has(Clue::FromMailerDaemon) || has(Clue::BounceSubject) || has(Clue::FailedRecipients);
    }
    bool empty() const { return bits_ == 0; }
    // The clues as comma-separated names in the order listed above, e.g.
    // "null-sender,report-type,status-part"; "none" when empty.
    std::string text() const;
    bool operator==(const Evidence& o) const { return bits_ == o.bits_; }

private:
    std::uint16_t bits_ = 0;
};

}  // namespace rcptguard::bounce
