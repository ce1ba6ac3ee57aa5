// inline_scanner: scans the body of a single-part text bounce for a line
// that announces a pasted copy of the returned message (see inline_markers),
// follows the copy's header block, and reports where to cut: right after the
// header block, so the bounce text and the original's headers stay and the
// original's body goes. Quoted-printable bodies are scanned decoded, and the
// cut falls between encoded lines that end a decoded line (never inside a
// soft line break), so the kept text stays valid quoted-printable.
// A marker that needs a second clue (inline_markers.hpp) counts only if the
// top-level header says "bounce" (From, Subject, X-Failed-Recipients) or the
// text before it names a delivery failure (failure_text.hpp); Auto-Submitted
// alone is not enough here, because RFC 3834 auto-responders (ticket
// systems, vacation notices) quote the original the same way. A marker
// matched by wording (a variant) that is not followed by a header block was
// no marker: the scan goes on.
// Thread-safety: one per message; not thread-safe.
// Failure: never fails; an outcome of Unchanged says why nothing is cut.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "core/bounce/bounce_evidence.hpp"
#include "core/bounce/failure_text.hpp"
#include "core/bounce/header_block.hpp"
#include "core/bounce/header_fields.hpp"
#include "core/bounce/scan_outcome.hpp"

namespace rcptguard::bounce {

class InlineScanner {
public:
    InlineScanner(TransferEncoding encoding, const Evidence& header_evidence);

    // One body line without its terminator; [begin, end) are its offsets in
    // the body, terminator included.
    const ScanOutcome& line(std::string_view content, std::size_t begin, std::size_t end);
    const ScanOutcome& end_of_body();

    // For State::Strip: the body is kept up to this offset.
    std::size_t cut() const { return cut_; }
    // The clues found in the body: MarkerLine, FailureText.
    Evidence evidence() const;

private:
    void logical_line(std::string_view content, std::size_t begin, std::size_t end);

    bool quoted_printable_;
    bool header_says_bounce_;
    ScanOutcome outcome_;
    FailureText failure_;  // in the text before the marker
    bool marker_found_ = false;
    std::string kind_;                          // of the marker found
    bool variant_ = false;                      // the marker was matched by wording
    std::optional<HeaderBlockCollector> copy_;  // set once a marker was found
    std::string logical_;                       // decoded QP line being assembled
    std::size_t logical_begin_ = 0;
    bool in_soft_break_ = false;
    std::size_t last_end_ = 0;
    std::size_t cut_ = 0;
};

}  // namespace rcptguard::bounce
