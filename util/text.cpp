// text: see text.hpp.
#include "util/text.hpp"

#include <unistr.h>

#include <cstdint>

namespace rcptguard {

std::string_view trim(std::string_view s) {
    const char* ws = " \t\r\n\f\v";
    auto b = s.find_first_not_of(ws);
    if (b == std::string_view::npos) return {};
    auto e = s.find_last_not_of(ws);
    return s.substr(b, e - b + 1);
}

std::string to_lower_ascii(std::string_view s) {
    std::string out(s);
    for (char& c : out)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return out;
}

bool iequals_ascii(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        char x = a[i], y = b[i];
        if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
        if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
        if (x != y) return false;
    }
    return true;
}

bool starts_with_icase(std::string_view s, std::string_view prefix) {
    return s.size() >= prefix.size() && iequals_ascii(s.substr(0, prefix.size()), prefix);
}

std::vector<std::string> split_list(std::string_view s) {
    std::vector<std::string> out;
    std::string cur;
    for (char c : s) {
        if (c == ',' || c == ' ' || c == '\t' || c == '\n' || c == '\r') {
            if (!cur.empty()) out.push_back(std::move(cur));
            cur.clear();
        } else {
            cur.push_back(c);
        }
    }
    if (!cur.empty()) out.push_back(std::move(cur));
    return out;
}

bool is_valid_utf8(std::string_view s) {
    return u8_check(reinterpret_cast<const std::uint8_t*>(s.data()), s.size()) == nullptr;
}

std::size_t utf8_char(std::string_view s, char32_t* code_point) {
    if (s.empty()) return 0;
    ucs4_t uc = 0;
    // Strict: -1 for an invalid, overlong or surrogate sequence, -2 for a truncated one.
    int n = u8_mbtoucr(&uc, reinterpret_cast<const std::uint8_t*>(s.data()), s.size());
    if (n <= 0) return 0;
    *code_point = static_cast<char32_t>(uc);
    return static_cast<std::size_t>(n);
}

namespace {

// Characters that are valid UTF-8 but must not reach a log line as they are:
// C1 controls (U+0085 is a line break to some viewers), the Unicode line and
// paragraph separators, and the bidirectional controls that reorder what a
// terminal shows.
bool escaped_in_logs(char32_t c) {
    return (c >= 0x80 && c <= 0x9F) || c == 0x2028 || c == 0x2029 || c == 0x061C || c == 0x200E || c == 0x200F ||
           (c >= 0x202A && c <= 0x202E) || (c >= 0x2066 && c <= 0x2069);
}

void append_hex_escape(std::string& out, unsigned char byte) {
    static const char kHex[] = "0123456789abcdef";
    out += "\\x";
    out.push_back(kHex[byte >> 4]);
    out.push_back(kHex[byte & 15]);
}

}  // namespace

std::string printable(std::string_view s, std::size_t max_len) {
    // Runs for every refused recipient (reply text and log line): the common
    // case, printable ASCII within the limit, is one copy.
    if (s.size() <= max_len) {
        bool plain = true;
        for (char ch : s) {
            auto c = static_cast<unsigned char>(ch);
            plain = plain && c >= 0x20 && c < 0x7F;
        }
        if (plain) return std::string(s);
    }
    std::string out;
    out.reserve(s.size() < max_len ? s.size() : max_len + 3);
    std::size_t i = 0;
    while (i < s.size()) {
        auto c = static_cast<unsigned char>(s[i]);
        std::string piece;
        std::size_t used = 1;
        if (c >= 0x20 && c < 0x7F) {
            piece.push_back(static_cast<char>(c));
        } else if (c < 0x80) {
            append_hex_escape(piece, c);
        } else {
            char32_t cp = 0;
            std::size_t n = utf8_char(s.substr(i), &cp);
            if (n == 0) {
                append_hex_escape(piece, c);  // not UTF-8: this byte alone
            } else {
                used = n;
                if (escaped_in_logs(cp))
                    for (std::size_t k = 0; k < n; ++k) append_hex_escape(piece, static_cast<unsigned char>(s[i + k]));
                else
                    piece.assign(s.substr(i, n));
            }
        }
        // Whole characters (and whole escapes) only, so the cut never leaves
        // a broken UTF-8 sequence behind.
        if (out.size() + piece.size() > max_len) {
            out += "...";
            break;
        }
        out += piece;
        i += used;
    }
    return out;
}

}  // namespace rcptguard
