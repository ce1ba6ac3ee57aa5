// header_fields: the few header-field parsers the bounce stripper needs:
// RFC 2045 Content-Type (type, subtype, parameters) and
// Content-Transfer-Encoding, header-line shapes (field, continuation) the way
// a lenient MIME parser sees them, and an RFC 2047 decoder that is only good
// enough to match ASCII keywords in a Subject.
// Thread-safety: pure functions, no state.
// Failure: parse_content_type() reports a bad value in ContentType::error and
// never throws (except std::bad_alloc); the other functions cannot fail.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace rcptguard::bounce {

struct ContentType {
    bool valid = false;   // "type/subtype" parsed
    std::string error;    // why not valid, or a problem with the parameters
    std::string type;     // lower case, e.g. "multipart"
    std::string subtype;  // lower case, e.g. "report"
    // Parameter names in lower case, values unquoted; in order of appearance.
    std::vector<std::pair<std::string, std::string>> params;

    bool is(std::string_view type_slash_subtype) const;  // case-insensitive
    // The value of a parameter, or nullptr when absent.
    const std::string* param(std::string_view name) const;
};

// Parses a Content-Type value (unfolded or not; comments are skipped).
// Parameters given twice with different values make `error` non-empty.
ContentType parse_content_type(std::string_view value);

enum class TransferEncoding { Identity, SevenBit, EightBit, Binary, QuotedPrintable, Base64, Unknown };

// Identity for an empty/absent value; Unknown for anything unrecognised.
TransferEncoding parse_transfer_encoding(std::string_view value);
const char* transfer_encoding_name(TransferEncoding te);

// Joins folded lines: every CR and LF is dropped, so "a\n b" becomes "a b"
// (the whitespace that starts a continuation line is kept).
std::string unfold(std::string_view value);

// A header field line: a non-empty field name of printable ASCII other than
// ':' and space, then ':' (RFC 5322 section 2.2; no space before the colon,
// as in Python's email parser).
bool is_field_line(std::string_view line);
// A continuation of the previous field: starts with a space or a tab.
bool is_continuation_line(std::string_view line);
// The field name of a field line ("" if it is not one).
std::string_view field_name(std::string_view line);

// One field of a header block: its name, its lines as they were (each line
// ending in CRLF, continuation lines included) and its unfolded value.
struct RawField {
    std::string name;
    std::string lines;
    std::string value;
};

// Splits a header block (lines separated by LF or CRLF) into fields. Lines
// before the first field and lines that are neither fields nor continuations
// are skipped; callers decide beforehand where the block ends.
std::vector<RawField> split_fields(std::string_view block);

// True if the value contains a byte >= 0x80.
bool has_eight_bit(std::string_view s);

// Decodes RFC 2047 encoded words ("=?charset?Q|B?text?=") to their raw bytes,
// ignoring the charset; anything else is copied. For keyword matching only.
std::string decode_encoded_words(std::string_view value);

}  // namespace rcptguard::bounce
