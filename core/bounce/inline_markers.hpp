// inline_markers: the lines after which single-part text bounces paste a copy
// of the returned message, as written by the MTAs in tests/corpus/ (qmail,
// Exim, Gmail, old Sendmail, Lotus Domino, OpenSMTPD, IMail, m-FILTER, ...),
// and the markers that announce a copy of the headers only.
// Thread-safety: immutable tables; pure functions.
// Failure: match_inline_marker() returns nullptr for a line that is no marker.
#pragma once

#include <string_view>

namespace rcptguard::bounce {

struct InlineMarker {
    const char* kind;            // StripResult::kind, e.g. "inline-qmail"
    const char* phrase;          // the normalised line that matches (see normalise_marker_line)
    bool headers_only;           // the copy is already only the headers: nothing to strip
    bool needs_bounce_evidence;  // the phrase is generic enough to need From/Subject evidence too
};

// Lower-cases the line, drops surrounding whitespace and the decoration MTAs
// put around markers ('-', '=', '|', '*'), and one final '.' or ':'.
std::string_view normalise_marker_line(std::string_view line, char* scratch, std::size_t scratch_size);

// The marker this line is, or nullptr.
const InlineMarker* match_inline_marker(std::string_view line);

}  // namespace rcptguard::bounce
