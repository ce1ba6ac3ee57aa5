// multipart_scanner: walks the top-level parts of a multipart bounce line by
// line (RFC 2046 5.1: delimiter lines "--boundary" plus optional transport
// padding, the close delimiter ending in "--"), classifies each part from its
// headers, and stops at the returned original (message/rfc822 or
// message/global) once that original's header block - decoded first if the
// part was base64 or quoted-printable - has been read and a body is known to
// follow. Only top-level delimiters count, so nested multiparts inside a part
// need no parsing at all.
// Thread-safety: one per message; not thread-safe.
// Ownership: reads part headers from `body` (the caller's buffer of every
// body byte so far), which must outlive the scanner.
// Failure: never fails; an Unchanged outcome carries the reason, with
// could_not_parse set when the structure was not understood with confidence.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "core/bounce/bounce_classifier.hpp"
#include "core/bounce/header_block.hpp"
#include "core/bounce/header_fields.hpp"
#include "core/bounce/scan_outcome.hpp"
#include "core/bounce/transfer_decoding.hpp"

namespace rcptguard::bounce {

struct ReturnedPart {
    std::size_t index = 0;  // 1-based number of the part among the top-level parts
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
    MultipartScanner(const TopLevel& top, const std::string& body);

    // One body line without its terminator; [begin, end) are its offsets in
    // the body, terminator included.
    const ScanOutcome& line(std::string_view content, std::size_t begin, std::size_t end);
    const ScanOutcome& end_of_body();

    // For State::Strip: the number of leading body bytes to keep unchanged
    // (through the delimiter line that opens the returned part) and the part.
    std::size_t prefix_end() const { return part_start_; }
    const ReturnedPart& returned() const { return returned_; }

private:
    enum class Phase { Preamble, PartHeaders, PartBody, Returned };
    enum class Delimiter { None, Open, Close };

    Delimiter delimiter(std::string_view content) const;
    void next_part(Delimiter d, std::size_t end);
    void part_headers_done(std::size_t header_end);
    bool bounce_confirmed(const char** why);
    void returned_line(std::string_view content);
    void drain_decoded(bool at_end);
    void collector_event(HeaderBlockCollector::Event ev);
    void end_of_returned_part();
    std::string current_kind() const;
    void cannot_parse(const std::string& why) { outcome_.unchanged(current_kind(), "cannot parse: " + why, true); }

    const std::string& body_;
    std::string boundary_;
    Container container_;
    std::string top_kind_;
    bool report_type_known_;
    bool header_evidence_;

    Phase phase_ = Phase::Preamble;
    ScanOutcome outcome_;
    std::size_t part_index_ = 0;
    std::size_t part_start_ = 0;  // offset of the current part's first header byte
    bool saw_delivery_status_ = false;
    bool saw_disposition_ = false;

    ReturnedPart returned_;
    HeaderBlockCollector collector_{/*skip_leading_blank_lines=*/false};
    Base64Decoder base64_;
    std::string decoded_;  // decoded bytes not yet split into lines
    std::size_t decoded_scanned_ = 0;
};

}  // namespace rcptguard::bounce
