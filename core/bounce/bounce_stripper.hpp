// bounce_stripper: strips the returned original's body out of a bounce and
// keeps its header block, so backscatter costs the recipient a report, not a
// copy of somebody else's spam. Handles RFC 3464 DSNs and RFC 8098 MDNs
// (multipart/report; report-type=delivery-status | disposition-notification),
// multipart/report without report-type (or with one of a challenge-response
// system), a DSN nested one level down (the first part of a multipart/mixed,
// or a bounce forwarded inside a message/rfc822), multipart/mixed bounces
// with an attached message/rfc822, and single-part text bounces that paste
// the original after a known marker (qmail, Exim, Gmail, Sendmail, Domino,
// OpenSMTPD, ..., and variants of their wording). ARF feedback reports,
// auto-replies and ordinary mail are left alone.
//
// Evidence (bounce_evidence.hpp): a message is taken for a bounce only on
// clues, and StripResult::evidence names every clue found, for the log:
//  - multipart/report with report-type delivery-status or
//    disposition-notification, or any status part before the returned
//    message: a report;
//  - multipart/mixed: From/Subject/X-Failed-Recipients say "bounce", or a
//    status part or nested report precedes the returned message, or the
//    first part names a delivery failure (then read to the end, below);
//  - multipart/report without report-type or status part: From/Subject/
//    X-Failed-Recipients, Auto-Submitted, or a failure named in the first
//    part (then read to the end, below);
//  - single-part text: a marker line; the generic ones and all variants also
//    need From/Subject/X-Failed-Recipients or a failure named before it.
// The null sender is a clue the caller vouches for (BounceOptions); it is
// never enough alone. Shapes accepted on the weaker clues are read to the
// end of the body (keeping none of the returned message) and left unchanged
// if a status, feedback or report part follows the returned message.
//
// Streaming and bounded: the stripper keeps only the body bytes before the
// returned part plus the returned part's headers and the original's header
// block, at most BounceOptions::max_kept_bytes; once it has them, body()
// returns false and the rest of the body is never needed (SMFIS_SKIP). A
// shape that must be read to the end keeps reading line by line, holding at
// most one line of 4 KiB besides what it kept. Peak memory is about twice
// max_kept_bytes, whatever the size of the message.
//
// What a Replace keeps: every body byte before the returned part, unchanged
// (preamble, earlier parts, the delimiter line that opens the returned part);
// the returned part becomes text/rfc822-headers (message/global-headers for
// message/global) with only the original's header block (decoded first if
// the part was base64/QP; see rewrite.hpp for the 8-bit rule), and the
// multipart is closed with its close delimiter. Anything after the returned
// part (RFC 3464 allows nothing; some MTAs append a winmail.dat) is dropped.
// For an inline copy, the body is cut right after the copy's header block.
// The result (action, kind, reason, new_body) depends only on the body bytes
// up to the point where the stripper stopped - not on how the body was
// chunked and not on what follows. For a nested DSN the rewritten part is
// followed by the close delimiters of both multiparts, inner first; what
// followed the returned part in either is dropped.
//
// Top-level headers: the stripper never needs a top-level header changed.
// The top-level Content-Type (and its boundary) and Content-Transfer-Encoding
// stay valid for the new body; the only header edit is adding the trace
// header (trace_header_name/value) on Replace.
//
// How the libmilter layer drives it (only for messages whose envelope sender
// is null; the stripper itself cannot see the envelope):
//   xxfi_envfrom  null sender: create one BounceStripper in the Message state
//                 (reset it at abort and after eom; a connection carries many).
//   xxfi_header   stripper.header(headerf, headerv).
//   xxfi_eoh      stripper.end_of_headers().
//   xxfi_body     if (!stripper.body({bodyp, len})): return SMFIS_SKIP if
//                 SMFIP_SKIP was negotiated and remember skipped = true;
//                 otherwise keep returning SMFIS_CONTINUE (later calls to
//                 body() only count bytes). wants_body() answers the same.
//   xxfi_eom      r = stripper.finish(!skipped). On Action::Replace, and with
//                 SMFIF_ADDHDRS|SMFIF_CHGBODY negotiated: first
//                 smfi_addheader(r.trace_header_name, r.trace_header_value),
//                 then smfi_replacebody(new_body) in chunks of at most 65535
//                 bytes back to back with nothing in between (Postfix closes
//                 the body at the first other request), then SMFIS_CONTINUE.
//                 Log r.kind, r.evidence and r.reason (Unchanged) or
//                 r.bytes_removed.
//
// Thread-safety: one BounceStripper per message; not thread-safe (libmilter
// serialises the callbacks of one connection). Distinct objects share nothing.
// Ownership: copies what it needs from the string_views it is given.
// Failure: never throws across this interface. Anything not parsed with
// confidence - missing or unused boundaries, nested reports, encodings it does
// not handle, conflicting Content-Type headers, the cap, an internal error -
// gives Action::Unchanged with a reason (and could_not_parse set). The report
// itself is never lost or corrupted: Unchanged means "do not touch the body".
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

namespace rcptguard {

struct BounceOptions {
    // Cap on what may be buffered: the body bytes up to the end of the
    // returned original's header block. A bounce that needs more is left
    // Unchanged ("over max_kept_bytes").
    std::size_t max_kept_bytes = 1 << 20;
    // The envelope sender is null. The milter creates a stripper only then;
    // a caller that knows otherwise gets every message back unchanged.
    bool null_sender = true;
};

struct StripResult {
    enum class Action { Unchanged, Replace };
    Action action = Action::Unchanged;
    // What the message was taken for: "dsn", "mdn", "report" (a
    // multipart/report without report-type or status part), "mixed-rfc822",
    // "dsn-in-mixed", "dsn-in-rfc822" (and "mdn-..."/"report-..." for those
    // nested one level down), "inline-qmail", "inline-exim",
    // "inline-sendmail", "inline-lotus", "inline-opensmtpd",
    // "inline-generic"; and for Unchanged also "arf", "auto-reply", "inline",
    // "not-a-bounce", "unknown".
    std::string kind;
    // The clues found (bounce_evidence.hpp), e.g.
    // "null-sender,report-type,status-part,from-mailer-daemon"; "none" if none.
    std::string evidence;
    // For Unchanged: why, for the log (e.g. "not a bounce: ...", "ARF feedback
    // report (RFC 5965); left alone", "already headers only (...)", "cannot
    // parse: closing boundary of part 2 missing", "over max_kept_bytes (1048576)").
    std::string reason;
    // For Unchanged: true when the message looked like a bounce but was not
    // parsed with confidence (reasons starting "cannot parse:", the cap,
    // internal errors); false when it was left alone by design.
    bool could_not_parse = false;
    // For Replace: the whole new body, CRLF line endings, for smfi_replacebody.
    std::string new_body;
    // For Replace: new_body starts with this many bytes copied unchanged from
    // the original body.
    std::size_t kept_prefix_bytes = 0;
    // For Replace: body bytes fed minus new_body.size() (0 if negative). Exact
    // when finish(true) (every chunk was fed), a lower bound otherwise.
    std::size_t bytes_removed = 0;
    bool bytes_removed_exact = false;
    // For Replace: a header to add (smfi_addheader) saying what was removed.
    std::string trace_header_name;
    std::string trace_header_value;
};

class BounceStripper {
public:
    explicit BounceStripper(BounceOptions options = {});
    ~BounceStripper();
    BounceStripper(const BounceStripper&) = delete;
    BounceStripper& operator=(const BounceStripper&) = delete;

    // A top-level header exactly as a milter receives it: the value without
    // its trailing CRLF, folded lines joined by "\n" (or "\r\n") and the
    // continuation's whitespace, with or without the leading space.
    void header(std::string_view name, std::string_view value);
    void end_of_headers();
    // Whether body chunks are still wanted; false right after end_of_headers()
    // for messages that are left alone on their headers (ARF, auto-replies,
    // non-bounce media types).
    bool wants_body() const;
    // A body chunk in CRLF, at any boundary (a CRLF or a delimiter line may be
    // split across chunks). Returns false once no more body is needed; the
    // caller may then skip the rest (SMFIS_SKIP) or keep feeding, which only
    // makes bytes_removed exact.
    bool body(std::string_view chunk);
    // After the last chunk fed. whole_body_seen: true if every body chunk
    // was fed, false if the caller skipped the rest after body() returned
    // false (then the byte count in the trace header is omitted).
    StripResult finish(bool whole_body_seen);

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace rcptguard
