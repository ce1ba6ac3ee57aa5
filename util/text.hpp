// text: small string helpers shared by the config parser, the address
// normaliser and the reply builder.
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

// Splits on commas and/or whitespace, dropping empty items (Postfix list style).
std::vector<std::string> split_list(std::string_view s);

// True when s is well-formed UTF-8 (no overlongs, no surrogates, <= U+10FFFF).
bool is_valid_utf8(std::string_view s);

// Printable, single-line rendering of untrusted bytes for logs and SMTP
// replies: control characters and bytes >= 0x80 become '?', and the result is
// cut at max_len bytes with "..." appended.
std::string printable(std::string_view s, std::size_t max_len = 256);

}  // namespace rcptguard
