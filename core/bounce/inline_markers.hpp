// inline_markers: the lines after which single-part text bounces paste a copy
// of the returned message, as written by the MTAs in tests/corpus/ (qmail,
// Exim, Gmail, old Sendmail, Lotus Domino, OpenSMTPD, IMail, m-FILTER, ...),
// and the markers that announce a copy of the headers only.
//
// Two kinds of match:
//  - the exact phrases of a table (normalise_marker_line): qmail's and Exim's
//    own wording identify a bounce by themselves; the generic ones need a
//    second clue;
//  - variants, matched on the folded line (text_fold.hpp), which always need
//    a second clue: qmail's "Below this line is ..." and Exim's "This is a
//    copy of the message ..." with other wording, spacing, cut short, or in
//    German, French, Spanish, Italian, Dutch or Portuguese (these two only
//    when the line starts with a rule of at least two '-', '=', '*' or '|',
//    as both MTAs write it), and generic "[the|a copy of the] original
//    message [follows|below|...]" forms.
// "A second clue" is the top-level From/Subject/X-Failed-Recipients or a
// failure phrase in the text before the marker (see inline_scanner.hpp).
// Thread-safety: immutable tables; pure functions.
// Failure: match_inline_marker() returns nullptr for a line that is no marker.
#pragma once

#include <cstddef>
#include <string_view>

namespace rcptguard::bounce {

struct InlineMarker {
    const char* kind;            // StripResult::kind, e.g. "inline-qmail"
    const char* phrase;          // the normalised line that matches, or a description of the variant
    bool headers_only;           // the copy is already only the headers: nothing to strip
    bool needs_bounce_evidence;  // a second clue is needed too
    bool variant = false;        // matched by wording, not by the exact table
};

// Lower-cases the line, drops surrounding whitespace and the decoration MTAs
// put around markers ('-', '=', '|', '*'), and one final '.' or ':'.
std::string_view normalise_marker_line(std::string_view line, char* scratch, std::size_t scratch_size);

// The marker this line is, or nullptr.
const InlineMarker* match_inline_marker(std::string_view line);

}  // namespace rcptguard::bounce
