// inline_scanner: see inline_scanner.hpp.
#include "core/bounce/inline_scanner.hpp"

#include "core/bounce/inline_markers.hpp"
#include "core/bounce/transfer_decoding.hpp"

namespace rcptguard::bounce {

InlineScanner::InlineScanner(TransferEncoding encoding, const Evidence& header_evidence)
    : quoted_printable_(encoding == TransferEncoding::QuotedPrintable),
      header_says_bounce_(header_evidence.header_says_bounce()) {}

Evidence InlineScanner::evidence() const {
    Evidence e;
    if (marker_found_) e.add(Clue::MarkerLine);
    if (failure_.found()) e.add(Clue::FailureText);
    return e;
}

const ScanOutcome& InlineScanner::line(std::string_view content, std::size_t begin, std::size_t end) {
    if (outcome_.decided()) return outcome_;
    last_end_ = end;
    if (!quoted_printable_) {
        logical_line(content, begin, end);
        return outcome_;
    }
    if (!in_soft_break_) {
        logical_.clear();
        logical_begin_ = begin;
    }
    in_soft_break_ = qp_decode_line(content, &logical_);
    if (!in_soft_break_) logical_line(logical_, logical_begin_, end);
    return outcome_;
}

void InlineScanner::logical_line(std::string_view content, std::size_t begin, std::size_t end) {
    if (!copy_) {
        const InlineMarker* m = match_inline_marker(content);
        if (!m || (m->needs_bounce_evidence && !header_says_bounce_ && !failure_.found())) {
            failure_.line(content);
            return;
        }
        kind_ = m->kind;
        variant_ = m->variant;
        marker_found_ = true;
        if (m->headers_only) {
            outcome_.unchanged(kind_, "already headers only (inline copy of the headers)", false);
            return;
        }
        copy_.emplace(/*skip_leading_blank_lines=*/true);
        return;
    }
    switch (copy_->line(content)) {
        case HeaderBlockCollector::Event::Continue: return;
        case HeaderBlockCollector::Event::BlockEndedBlank:
            cut_ = end;  // keep the empty line that ends the header block
            return;
        case HeaderBlockCollector::Event::BodyStarts:
            cut_ = begin;
            outcome_.strip(kind_);
            return;
        case HeaderBlockCollector::Event::HasBody: outcome_.strip(kind_); return;
        case HeaderBlockCollector::Event::NoHeaders:
            if (variant_) {
                // Wording that looked like a marker, in running text: look on.
                copy_.reset();
                marker_found_ = false;
                return logical_line(content, begin, end);
            }
            outcome_.unchanged(kind_, "cannot parse: no header block after the inline copy marker", true);
            return;
    }
}

const ScanOutcome& InlineScanner::end_of_body() {
    if (outcome_.decided()) return outcome_;
    // A soft line break on the last line: the decoded line ends here.
    if (quoted_printable_ && in_soft_break_) {
        in_soft_break_ = false;
        logical_line(logical_, logical_begin_, last_end_);
        if (outcome_.decided()) return outcome_;
    }
    if (!copy_) {
        if (header_says_bounce_)
            outcome_.unchanged("inline", "no copy of the returned message found", false);
        else
            outcome_.unchanged("not-a-bounce", "not a bounce: no report, no attached or inline copy", false);
    } else if (copy_->field_count() == 0) {
        outcome_.unchanged(kind_, "inline copy marker but no copy follows", false);
    } else {
        outcome_.unchanged(kind_, "returned message has no body", false);
    }
    return outcome_;
}

}  // namespace rcptguard::bounce
