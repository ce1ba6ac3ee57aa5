// multipart_scanner: walks the parts of a multipart bounce line by line
// (RFC 2046 5.1: delimiter lines "--boundary" plus optional transport
// padding, the close delimiter ending in "--"), classifies each part from its
// headers, and stops at the returned original (message/rfc822 or
// message/global) once that original's header block - decoded first if the
// part was base64 or quoted-printable - has been read and a body is known to
// follow. Only the delimiters of the multiparts it follows count, so other
// multiparts inside a part need no parsing at all.
//
// It follows at most two multiparts, the top-level one and one report
// nested in it, for the two shapes of a DSN one level down:
//  - a multipart/mixed whose first part is the multipart/report (kind
//    "dsn-in-mixed"); a returned message inside that report, or after it in
//    the multipart/mixed, is stripped;
//  - a returned message (not transfer-encoded) that is itself a
//    multipart/report: a bounce forwarded inside a message/rfc822, or a
//    bounce of a bounce (kind "dsn-in-rfc822"). Its header block, text and
//    status parts stay; the original it returns in turn is stripped. The
//    embedded report must show its own report-type or status part.
// A delimiter of the outer multipart also ends the nested one, as in
// Python's email parser.
//
// When is a multipart a bounce (bounce_evidence.hpp)? A report-type of
// delivery-status or disposition-notification, or a status part before the
// returned message, as ever; a multipart/mixed whose top-level header says
// "bounce" (From, Subject, X-Failed-Recipients). New shapes that rest on
// weaker clues - a multipart/report without report-type or status part
// whose header says "bounce" or carries Auto-Submitted, or whose first part
// names a delivery failure, and a multipart/mixed whose first part names a
// delivery failure - are read to the end instead: the scanner watches the
// rest of the message (keeping none of it) and leaves the message unchanged
// if a status, feedback or report part follows the returned message, since
// dropping it would damage the report.
//
// Thread-safety: one per message; not thread-safe.
// Ownership: reads part headers from `body` (the caller's buffer of every
// body byte so far), which must outlive the scanner. While watching() the
// caller may stop keeping bytes after prefix_end() and pass lines whose
// offsets mean nothing.
// Failure: never fails; an Unchanged outcome carries the reason, with
// could_not_parse set when the structure was not understood with confidence.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "core/bounce/bounce_classifier.hpp"
#include "core/bounce/bounce_evidence.hpp"
#include "core/bounce/failure_text.hpp"
#include "core/bounce/header_block.hpp"
#include "core/bounce/header_fields.hpp"
#include "core/bounce/scan_outcome.hpp"
#include "core/bounce/transfer_decoding.hpp"

namespace rcptguard::bounce {

struct ReturnedPart {
    std::size_t index = 0;  // 1-based number of the part among its multipart's parts
    bool global = false;    // message/global (RFC 6533) rather than message/rfc822
    TransferEncoding encoding = TransferEncoding::Identity;
    // The part's header fields other than Content-Type, Content-Transfer-Encoding,
    // Content-Length and Content-MD5 (which would be wrong after the rewrite), CRLF lines.
    std::string other_fields;
    // The original's header block, decoded, CRLF lines.
    std::string header_block;
    bool decoded() const {
        return encoding == TransferEncoding::Base64 || encoding == TransferEncoding::QuotedPrintable;
    }
};

class MultipartScanner {
public:
    // Lines of a watched part's header longer than this are cut (the caller
    // cuts lines to this length while watching, too).
    static constexpr std::size_t kWatchLineBytes = 4096;

    MultipartScanner(const TopLevel& top, const std::string& body);

    // One body line without its terminator; [begin, end) are its offsets in
    // the body, terminator included.
    const ScanOutcome& line(std::string_view content, std::size_t begin, std::size_t end);
    const ScanOutcome& end_of_body();

    // True once everything the rewrite needs is held and the scanner only
    // reads on to see what follows the returned part.
    bool watching() const { return phase_ == Phase::Watch || phase_ == Phase::WatchHeaders; }

    // For State::Strip: the number of leading body bytes to keep unchanged
    // (through the delimiter line that opens the returned part), the part,
    // and the close delimiters owed after it, innermost multipart first.
    std::size_t prefix_end() const { return prefix_end_; }
    const ReturnedPart& returned() const { return returned_; }
    const std::string& closing() const { return closing_; }

    // The clues found in the body: ReportType (of a nested report),
    // StatusPart, FailureText.
    const Evidence& evidence() const { return evidence_; }

    // While watching, what the last line did: it opened a part after the
    // returned one (keep its bytes until told to drop or keep them); the
    // headers of such a part showed a report part (keep everything from its
    // delimiter line on) or something else (drop it); it was the close
    // delimiter of the top-level multipart (which the rewrite writes anew).
    struct WatchEvents {
        bool part_opened = false;
        bool keep = false;
        bool drop = false;
        bool top_close = false;
    };
    const WatchEvents& watch_events() const { return events_; }
    // The close delimiters of the multiparts still open, innermost first
    // (after a kept tail).
    std::string closing_open_levels() const;

private:
    enum class Phase { Preamble, PartHeaders, PartBody, Returned, Watch, WatchHeaders };
    enum class Delimiter { None, Open, Close };
    enum class Via { Top, FirstPart, Message };

    // One multipart being followed.
    struct Level {
        std::string boundary;
        Container container = Container::Mixed;
        std::string kind;  // "dsn", "mdn", "report", "mixed-rfc822"
        bool report_type_known = false;
        Via via = Via::Top;
        std::size_t part_index = 0;
        std::size_t part_start = 0;  // offset of the current part's first header byte
        bool saw_delivery_status = false;
        bool saw_disposition = false;
        bool failure_text = false;   // its first part names a delivery failure
        bool report_inside = false;  // a nested report with report-type or status part ended in it
    };

    // Reads the first part's text for failure phrases (decoding it first).
    class Explanation {
    public:
        void start(TransferEncoding te);
        void line(std::string_view content);
        bool finish();  // true if a failure was named
        bool active() const { return active_; }

    private:
        bool active_ = false;
        TransferEncoding te_ = TransferEncoding::Identity;
        Base64Decoder base64_;
        std::string pending_;
        FailureText text_;
    };

    Delimiter delimiter(std::string_view content, const std::string& boundary) const;
    // The innermost followed multipart whose delimiter this line is, or npos.
    std::size_t delimiter_level(std::string_view content, Delimiter* d) const;
    void on_delimiter(std::size_t level, Delimiter d, std::size_t end);
    void next_part(Delimiter d, std::size_t end);
    bool pop_nested(bool explicit_close);
    void part_headers_done(std::size_t header_end);
    void end_of_part();
    bool push_nested(const ContentType& ct, TransferEncoding te, Via via, const std::string& where);
    bool bounce_confirmed(const char** why, bool* watch);
    void returned_line(std::string_view content, std::size_t begin, std::size_t end);
    void drain_decoded(bool at_end);
    void collector_event(HeaderBlockCollector::Event ev, std::string_view content, std::size_t begin, std::size_t end);
    void found_original();
    void end_of_returned_part();
    void watch_line(std::string_view content);
    void watch_part_headers_done();
    std::string level_kind(const Level& l) const;
    std::string current_kind() const;
    void cannot_parse(const std::string& why) { outcome_.unchanged(current_kind(), "cannot parse: " + why, true); }

    const std::string& body_;
    bool header_says_bounce_;
    bool auto_submitted_;
    std::vector<Level> levels_;  // [0] the top level; at most two
    std::string nested_kind_;    // kind of a report nested in the top-level multipart/mixed, once seen

    Phase phase_ = Phase::Preamble;
    ScanOutcome outcome_;
    Evidence evidence_;
    Explanation explanation_;

    ReturnedPart returned_;
    bool returned_needs_watch_ = false;
    std::size_t prefix_end_ = 0;
    std::string closing_;
    HeaderBlockCollector collector_{/*skip_leading_blank_lines=*/false};
    Base64Decoder base64_;
    std::string decoded_;  // decoded bytes not yet split into lines
    std::size_t decoded_scanned_ = 0;
    std::string kind_at_decision_;
    std::string watch_headers_;         // the header lines of a part after the returned one
    std::size_t returned_level_ = 0;    // index in levels_ of the multipart holding the returned part
    std::size_t watch_part_level_ = 0;  // index in levels_ of the part whose headers are read
    bool tail_kept_ = false;
    WatchEvents events_;
};

}  // namespace rcptguard::bounce
