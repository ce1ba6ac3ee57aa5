// rewrite: see rewrite.hpp.
#include "core/bounce/rewrite.hpp"

#include "core/bounce/header_fields.hpp"
#include "core/bounce/transfer_decoding.hpp"

namespace rcptguard::bounce {
namespace {

// NUL or a CR that is not part of a CRLF: legal in neither 7bit nor 8bit
// (RFC 2045 2.7, 2.8).
bool has_binary_bytes(std::string_view s) {
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '\0') return true;
        if (s[i] == '\r' && (i + 1 >= s.size() || s[i + 1] != '\n')) return true;
        if (s[i] == '\n' && (i == 0 || s[i - 1] != '\r')) return true;
    }
    return false;
}

}  // namespace

RewrittenPart rewrite_returned_part(const ReturnedPart& part, bool message_is_eight_bit) {
    RewrittenPart out;
    out.media_type = part.global ? "message/global-headers" : "text/rfc822-headers";
    const std::string& block = part.header_block;
    bool eight_bit = has_eight_bit(block);
    bool binary = has_binary_bytes(block);
    std::string content;
    if (part.decoded() && (binary || (eight_bit && !message_is_eight_bit))) {
        out.encoding = "quoted-printable";
        content = qp_encode(block);
    } else {
        if (binary)
            out.encoding = "binary";
        else if (eight_bit)
            out.encoding = "8bit";
        content = block;
    }
    out.text.reserve(part.other_fields.size() + content.size() + 96);
    out.text += "Content-Type: " + out.media_type + "\r\n";
    if (!out.encoding.empty()) out.text += "Content-Transfer-Encoding: " + out.encoding + "\r\n";
    out.text += part.other_fields;
    out.text += "\r\n";
    out.text += content;
    return out;
}

}  // namespace rcptguard::bounce
