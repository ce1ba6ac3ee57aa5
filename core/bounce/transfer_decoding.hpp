// transfer_decoding: the RFC 2045 content-transfer-encodings the bounce
// stripper meets in returned messages: a streaming base64 decoder, a
// line-at-a-time quoted-printable decoder, and a quoted-printable encoder
// that keeps a rewritten header block 7-bit.
// Thread-safety: Base64Decoder is a value type with no shared state; the
// functions are pure.
// Failure: Base64Decoder::feed()/finish() return false on input that is not
// base64 (RFC 2045 says to ignore stray characters; a stripper that must not
// corrupt a report is stricter and gives up instead). QP decoding is lenient
// and cannot fail: a malformed "=" sequence is kept as it is.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace rcptguard::bounce {

// 0-15 for a hexadecimal digit (either case), -1 otherwise.
int hex_value(char c);

class Base64Decoder {
public:
    // Decodes more input, appending the bytes to *out. Whitespace and line
    // breaks are skipped. False (and stays false) on a character outside the
    // alphabet or data after the final padding.
    bool feed(std::string_view in, std::string* out);
    // End of input: flushes a final unpadded quantum of 2 or 3 characters.
    // False if the input ended inside a quantum that cannot be completed.
    bool finish(std::string* out = nullptr);
    bool failed() const { return failed_; }

private:
    std::uint32_t acc_ = 0;
    int have_ = 0;     // sextets in acc_
    int padding_ = 0;  // '=' seen in the current quantum
    bool ended_ = false;
    bool failed_ = false;
};

// Decodes one quoted-printable line (without its line break), appending the
// bytes to *out. Returns true when the line ends in a soft line break ("="),
// i.e. the decoded line continues on the next encoded line; otherwise the
// caller appends the hard line break itself.
bool qp_decode_line(std::string_view line, std::string* out);

// Encodes CRLF-separated text as quoted-printable: encoded lines of at most
// 76 characters, hard line breaks kept as CRLF, everything but printable
// ASCII (and inner spaces) written as =XX. The result is 7-bit.
std::string qp_encode(std::string_view crlf_text);

}  // namespace rcptguard::bounce
