// text: small string helpers shared by the config parser, the address
// normaliser, the log and the reply builder.
// Thread-safety: pure functions, no state. Nothing here allocates beyond the
// returned strings; nothing throws except std::bad_alloc.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace rcptguard {

std::string_view trim(std::string_view s);
std::string to_lower_ascii(std::string_view s);
bool iequals_ascii(std::string_view a, std::string_view b);
bool starts_with_icase(std::string_view s, std::string_view prefix);

// The one line splitter: calls f(line, number) for each line of text
// (numbered from 1), without its line end ("\n" or "\r\n"), and stops early
// when f returns false. A last line without a line end counts; a text that
// ends with a line end has no empty line after it.
template <typename F>
void for_each_line(std::string_view text, F&& f) {
    std::size_t pos = 0;
    int number = 0;
    while (pos < text.size()) {
        std::size_t nl = text.find('\n', pos);
        std::size_t end = nl == std::string_view::npos ? text.size() : nl;
        std::string_view line = text.substr(pos, end - pos);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        pos = nl == std::string_view::npos ? text.size() : nl + 1;
        if (!f(line, ++number)) return;
    }
}

// Splits on commas and/or whitespace, dropping empty items (Postfix list style).
std::vector<std::string> split_list(std::string_view s);

// True when s is well-formed UTF-8 (no overlongs, no surrogates, <= U+10FFFF;
// libunistring's u8_check).
bool is_valid_utf8(std::string_view s);

// Printable, single-line rendering of untrusted bytes for logs and for what
// the programs print (rcptguard -q, rcptguard-ctl): valid UTF-8 stays UTF-8,
// so an administrator reads "jörg@bücher.test" as such. Escaped visibly as
// \xNN, byte by byte: C0 control characters and DEL, bytes that are not
// valid UTF-8, and the characters that could split or reorder a log line in
// a terminal or viewer (C1 controls U+0080-U+009F, U+2028/U+2029, the
// bidirectional controls U+061C, U+200E/U+200F, U+202A-U+202E,
// U+2066-U+2069). The result is cut at max_len bytes on a character
// boundary, with "..." appended. Never for SMTP replies, which must stay
// ASCII: see ascii_reply_text() in core/reply.hpp.
std::string printable(std::string_view s, std::size_t max_len = 256);

// The length of the well-formed UTF-8 character at the start of s and its
// code point, or 0 when s does not start with one (empty, invalid, overlong,
// surrogate, truncated).
std::size_t utf8_char(std::string_view s, char32_t* code_point);

}  // namespace rcptguard
