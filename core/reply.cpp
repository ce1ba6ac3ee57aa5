// reply: see reply.hpp.
#include "core/reply.hpp"

#include <algorithm>

#include "util/text.hpp"

namespace rcptguard {

namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }

void append_code_point(std::string& out, char32_t cp) {
    static const char kHex[] = "0123456789ABCDEF";
    std::string digits;
    for (; cp; cp >>= 4) digits.insert(digits.begin(), kHex[cp & 15]);
    out += "\\x{" + digits + "}";
}

bool valid_xcode_part(std::string_view p, std::size_t max_digits) {
    if (p.empty() || p.size() > max_digits) return false;
    for (char c : p)
        if (!is_digit(c)) return false;
    // RFC 3463: no leading zeros except the single digit 0.
    return !(p.size() > 1 && p[0] == '0');
}

bool printable_ascii(std::string_view s) {
    return std::all_of(s.begin(), s.end(), [](char ch) { return ch >= 0x20 && ch < 0x7F; });
}

}  // namespace

int Reply::number() const {
    if (code.size() != 3 || !is_digit(code[0]) || !is_digit(code[1]) || !is_digit(code[2])) return 0;
    return (code[0] - '0') * 100 + (code[1] - '0') * 10 + (code[2] - '0');
}

// Appends text() to out. Built for every refused recipient (the reply and
// its log line): the usual case, a printable ASCII address and phrase within
// the budget, is one pass and no temporary string (callgrind: the chain of
// temporaries cost 2,200 instructions per reply).
void Reply::append_text(std::string& out) const {
    // Half the limit: a door that escapes characters (libmilter doubles '%')
    // still stays within it.
    constexpr std::size_t kBudget = kMaxReplyText / 2 - 3;
    constexpr std::string_view kRejected = ">: Recipient address rejected: ";
    if (address.empty()) {
        out += ascii_reply_text(phrase, kBudget);
        return;
    }
    if (address.size() <= 256 && 1 + address.size() + kRejected.size() + phrase.size() <= kBudget &&
        printable_ascii(address) && printable_ascii(phrase)) {
        // What the general case below gives for such input, without copies.
        out += '<';
        out += address;
        out += kRejected;
        out += phrase;
        return;
    }
    std::string whole = "<" + ascii_reply_text(address, 256);
    whole += kRejected;
    whole += phrase;
    out += ascii_reply_text(whole, kBudget);
}

std::string Reply::text() const {
    std::string out;
    out.reserve(address.size() + phrase.size() + 40);
    append_text(out);
    return out;
}

std::string Reply::to_string() const {
    std::string out;
    out.reserve(code.size() + xcode.size() + address.size() + phrase.size() + 42);
    append_to(out);
    return out;
}

void Reply::append_to(std::string& out) const {
    out += code;
    out += ' ';
    out += xcode;
    out += ' ';
    append_text(out);
}

bool reply_is_well_formed(const Reply& r) {
    if (r.number() < 400 || r.number() > 599) return false;
    auto d1 = r.xcode.find('.');
    if (d1 == std::string::npos) return false;
    auto d2 = r.xcode.find('.', d1 + 1);
    if (d2 == std::string::npos) return false;
    std::string_view x(r.xcode);
    if (x.substr(0, d1) != r.code.substr(0, 1)) return false;
    if (!valid_xcode_part(x.substr(d1 + 1, d2 - d1 - 1), 3)) return false;
    if (!valid_xcode_part(x.substr(d2 + 1), 3)) return false;
    return !r.phrase.empty() && r.text().size() <= kMaxReplyText;
}

std::string display_address(std::string_view original) { return "<" + printable(original, 256) + ">"; }

std::string ascii_reply_text(std::string_view s, std::size_t max_len) {
    // The usual case, printable ASCII that fits, in one pass.
    if (s.size() <= max_len && printable_ascii(s)) return std::string(s);
    std::string out;
    out.reserve(s.size() < max_len ? s.size() : max_len + 3);
    std::size_t i = 0;
    while (i < s.size()) {
        auto c = static_cast<unsigned char>(s[i]);
        std::string piece;
        std::size_t used = 1;
        char32_t cp = 0;
        std::size_t n = c >= 0x80 ? utf8_char(s.substr(i), &cp) : 0;
        if (c >= 0x20 && c < 0x7F) {
            piece.push_back(static_cast<char>(c));
        } else if (n > 0 && cp >= 0xA0) {
            append_code_point(piece, cp);
            used = n;
        } else {
            // Controls (C0, DEL, C1) and bytes that are not UTF-8.
            piece.push_back('?');
            used = n > 0 ? n : 1;
        }
        if (out.size() + piece.size() > max_len) {
            out += "...";
            break;
        }
        out += piece;
        i += used;
    }
    return out;
}

Reply unknown_user_reply(std::string_view original, std::string_view reject_message) {
    return Reply{"550", "5.1.1", std::string(original), std::string(reject_message)};
}

Reply lookup_tempfail_reply(std::string_view original, std::string_view tempfail_message) {
    return Reply{"451", "4.3.0", std::string(original), std::string(tempfail_message)};
}

Reply bad_syntax_reply(std::string_view original) {
    return Reply{"501", "5.1.3", std::string(original), "Bad recipient address syntax"};
}

std::string check_reply_text(std::string_view text) {
    if (text.empty()) return "must not be empty";
    if (text.size() > 400) return "longer than 400 characters";
    for (char c : text) {
        auto u = static_cast<unsigned char>(c);
        if (u < 0x20 || u >= 0x7F) return "only printable ASCII characters are allowed";
    }
    return "";
}

}  // namespace rcptguard
