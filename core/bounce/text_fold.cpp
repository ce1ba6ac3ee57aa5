// text_fold: see text_fold.hpp.
#include "core/bounce/text_fold.hpp"

namespace rcptguard::bounce {
namespace {

// ISO-8859-1 0xC0..0xFF (the same code points in UTF-8's C3 xx) as plain
// letters; "" for the two signs in that range.
constexpr const char* kLatinFold[64] = {
    "a", "a", "a", "a", "a", "a", "ae", "c", "e", "e", "e", "e", "i", "i", "i",  "i",   //
    "d", "n", "o", "o", "o", "o", "o",  "",  "o", "u", "u", "u", "u", "y", "th", "ss",  //
    "a", "a", "a", "a", "a", "a", "ae", "c", "e", "e", "e", "e", "i", "i", "i",  "i",   //
    "d", "n", "o", "o", "o", "o", "o",  "",  "o", "u", "u", "u", "u", "y", "th", "y",
};

constexpr std::string_view kLowerAscii = "abcdefghijklmnopqrstuvwxyz";

// The length of the UTF-8 sequence that starts at s[i] (2 to 4), or 0 if
// there is none: then a byte >= 0xC0 is taken for ISO-8859-1.
std::size_t utf8_sequence(std::string_view s, std::size_t i) {
    auto c = static_cast<unsigned char>(s[i]);
    std::size_t n = c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3 : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
    if (n == 0 || i + n > s.size()) return 0;
    for (std::size_t k = 1; k < n; ++k)
        if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return 0;
    return n;
}

}  // namespace

void fold_text_line(std::string_view line, std::string* out) {
    out->clear();
    bool space = false;
    for (std::size_t i = 0; i < line.size(); ++i) {
        auto c = static_cast<unsigned char>(line[i]);
        if (c == ' ' || c == '\t') {
            space = true;
            continue;
        }
        std::string_view folded = line.substr(i, 1);
        if (c >= 'A' && c <= 'Z') {
            folded = kLowerAscii.substr(c - 'A', 1);
        } else if (std::size_t n = utf8_sequence(line, i); n > 0) {
            auto c1 = static_cast<unsigned char>(line[i + 1]);
            if (c == 0xC3)
                folded = kLatinFold[c1 + 0x40 - 0xC0];
            else if (n == 3 && c == 0xE2 && c1 == 0x80 &&
                     (static_cast<unsigned char>(line[i + 2]) == 0x98 ||
                      static_cast<unsigned char>(line[i + 2]) == 0x99))
                folded = "'";  // U+2018, U+2019
            else
                folded = line.substr(i, n);  // other letters and signs stay; they match nothing
            i += n - 1;
        } else if (c >= 0xC0) {
            folded = kLatinFold[c - 0xC0];
        }
        if (folded.empty()) continue;
        if (space && !out->empty()) out->push_back(' ');
        space = false;
        out->append(folded);
    }
}

}  // namespace rcptguard::bounce
