// bounce_classifier: decides from the top-level headers alone what shape of
// message this is and whether its body is worth scanning: a multipart report
// or multipart/mixed bounce (with its boundary), a single-part text bounce
// that may carry an inline copy, or something to leave alone (ARF feedback
// reports, auto-replies, other media types, unparseable or conflicting
// Content-Type headers). It also records the header clues
// (bounce_evidence.hpp): report-type, Auto-Submitted, From, Subject,
// X-Failed-Recipients. A multipart/report without report-type is scanned
// (kind "report"); one with a report-type other than delivery-status or
// disposition-notification only if the headers carry a clue (challenge-
// response systems label their notices so), and ARF and TLS reports never.
// Thread-safety: one HeaderClassifier per message; not thread-safe.
// Failure: never fails; a message it cannot understand is classified
// Shape::LeaveAlone with could_not_parse set and a reason.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/bounce/bounce_evidence.hpp"
#include "core/bounce/header_fields.hpp"

namespace rcptguard::bounce {

enum class Shape { LeaveAlone, Multipart, SinglePartText };
enum class Container { Report, Mixed };

struct TopLevel {
    Shape shape = Shape::LeaveAlone;
    std::string kind;    // what the headers announce: "dsn", "mdn", "report", "mixed-rfc822", "inline", ...
    std::string reason;  // for LeaveAlone
    bool could_not_parse = false;
    // Multipart only.
    Container container = Container::Mixed;
    std::string boundary;
    std::string report_type;  // lower case; "" when absent
    // report-type=delivery-status or disposition-notification: the report
    // says itself that it is a bounce or a read receipt.
    bool report_type_known = false;
    // Single part only: the body's transfer encoding (Identity, 7bit, 8bit, binary or QP).
    TransferEncoding encoding = TransferEncoding::Identity;
    // The clues in the top-level header: ReportType, AutoSubmitted,
    // FromMailerDaemon, BounceSubject, FailedRecipients.
    Evidence evidence;
    // The message already carries 8-bit data: a top-level header with bytes
    // >= 0x80, or Content-Transfer-Encoding 8bit/binary.
    bool eight_bit = false;
};

class HeaderClassifier {
public:
    void add(std::string_view name, std::string_view value);
    TopLevel classify() const;

private:
    std::vector<std::string> content_types_;
    std::vector<std::string> transfer_encodings_;
    std::string from_;
    std::string subject_;
    bool failed_recipients_ = false;
    bool auto_submitted_ = false;  // any value but "no" (RFC 3834 section 5)
    bool auto_submitted_replied_ = false;
    bool autoreply_header_ = false;
    bool eight_bit_ = false;
};

// RFC 2046 5.1.1: 1 to 70 characters; we allow up to 200 (what a lenient
// reader accepts) but never a line break or an empty boundary.
bool usable_boundary(std::string_view boundary);

// Keyword tests, exposed for the unit tests.
bool from_looks_like_mailer_daemon(std::string_view from_value);
bool subject_looks_like_bounce(std::string_view subject_value);
bool subject_looks_like_auto_reply(std::string_view subject_value);

}  // namespace rcptguard::bounce
