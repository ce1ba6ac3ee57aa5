// rewrite: builds what replaces a returned part: the same part turned into
// text/rfc822-headers (RFC 6522) or, for message/global, message/global-headers
// (RFC 6533), holding only the original's header block. The close
// delimiters that follow it come from the scanner (MultipartScanner::closing).
// 8-bit policy: removing content must never add 8-bit data to a message that
// was 7-bit (the envelope's BODY= cannot be changed by a milter). A header
// block copied as it was keeps its bytes (they were in the message already)
// and is labelled 8bit if it has any (binary if it has NUL or a bare CR). A header block that was decoded from
// base64 or quoted-printable and turns out to contain 8-bit bytes (or NUL or
// a bare CR) is written as quoted-printable unless the message already
// carried 8-bit data, so the result stays 7-bit-clean.
// Thread-safety: pure functions.
// Failure: cannot fail (std::bad_alloc aside).
#pragma once

#include <string>
#include <string_view>

#include "core/bounce/multipart_scanner.hpp"

namespace rcptguard::bounce {

struct RewrittenPart {
    std::string text;        // part headers, empty line, content; ends in CRLF
    std::string media_type;  // "text/rfc822-headers" or "message/global-headers"
    std::string encoding;    // "" (7bit), "8bit", "binary" or "quoted-printable"
};

RewrittenPart rewrite_returned_part(const ReturnedPart& part, bool message_is_eight_bit);

}  // namespace rcptguard::bounce
