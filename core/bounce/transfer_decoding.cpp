// transfer_decoding: see transfer_decoding.hpp.
#include "core/bounce/transfer_decoding.hpp"

namespace rcptguard::bounce {
namespace {

int base64_value(char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

const char kHex[] = "0123456789ABCDEF";

void append_hex(std::string* out, unsigned char c) {
    out->push_back('=');
    out->push_back(kHex[c >> 4]);
    out->push_back(kHex[c & 0x0F]);
}

}  // namespace

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

bool Base64Decoder::feed(std::string_view in, std::string* out) {
    if (failed_) return false;
    for (char c : in) {
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n') continue;
        if (ended_) return !(failed_ = true);
        if (c == '=') {
            // Padding may only complete a quantum of 2 or 3 sextets.
            if (have_ + padding_ < 2) return !(failed_ = true);
            ++padding_;
            if (have_ + padding_ == 4) {
                if (have_ == 2) out->push_back(static_cast<char>(acc_ >> 4));
                if (have_ == 3) {
                    out->push_back(static_cast<char>(acc_ >> 10));
                    out->push_back(static_cast<char>((acc_ >> 2) & 0xFF));
                }
                ended_ = true;
            }
            continue;
        }
        int v = base64_value(c);
        if (v < 0 || padding_ > 0) return !(failed_ = true);
        acc_ = (acc_ << 6) | static_cast<std::uint32_t>(v);
        if (++have_ == 4) {
            out->push_back(static_cast<char>((acc_ >> 16) & 0xFF));
            out->push_back(static_cast<char>((acc_ >> 8) & 0xFF));
            out->push_back(static_cast<char>(acc_ & 0xFF));
            acc_ = 0;
            have_ = 0;
        }
    }
    return true;
}

bool Base64Decoder::finish(std::string* out) {
    if (failed_) return false;
    if (ended_ || (have_ == 0 && padding_ == 0)) return true;
    if (padding_ > 0 || have_ == 1) return !(failed_ = true);
    // Unpadded final quantum, which many encoders write.
    std::string tail;
    if (have_ == 2) tail.push_back(static_cast<char>(acc_ >> 4));
    if (have_ == 3) {
        tail.push_back(static_cast<char>(acc_ >> 10));
        tail.push_back(static_cast<char>((acc_ >> 2) & 0xFF));
    }
    if (out) out->append(tail);
    ended_ = true;
    return true;
}

bool qp_decode_line(std::string_view line, std::string* out) {
    // RFC 2045 6.7 rule 3: trailing whitespace on an encoded line is padding
    // added in transport and must be deleted.
    while (!line.empty() && (line.back() == ' ' || line.back() == '\t')) line.remove_suffix(1);
    bool soft = !line.empty() && line.back() == '=';
    if (soft) line.remove_suffix(1);
    for (std::size_t i = 0; i < line.size(); ++i) {
        char c = line[i];
        if (c == '=' && i + 2 < line.size() && hex_value(line[i + 1]) >= 0 && hex_value(line[i + 2]) >= 0) {
            out->push_back(static_cast<char>(hex_value(line[i + 1]) * 16 + hex_value(line[i + 2])));
            i += 2;
        } else {
            out->push_back(c);
        }
    }
    return soft;
}

std::string qp_encode(std::string_view text) {
    constexpr std::size_t kMaxLine = 76;  // RFC 2045 6.7 rule 5, including a soft-break "="
    std::string out;
    out.reserve(text.size() + text.size() / 8 + 16);
    std::size_t pos = 0;
    while (pos <= text.size()) {
        std::size_t eol = text.find("\r\n", pos);
        bool last = eol == std::string_view::npos;
        std::string_view line = text.substr(pos, last ? std::string_view::npos : eol - pos);
        if (last && line.empty()) break;
        std::size_t col = 0;
        for (std::size_t i = 0; i < line.size(); ++i) {
            auto c = static_cast<unsigned char>(line[i]);
            bool at_end = i + 1 == line.size();
            bool literal = (c >= 33 && c <= 126 && c != '=') || ((c == ' ' || c == '\t') && !at_end);
            std::size_t width = literal ? 1 : 3;
            // Leave room for the "=" of a soft line break.
            if (col + width > kMaxLine - 1 && !(at_end && col + width <= kMaxLine)) {
                out.append("=\r\n");
                col = 0;
            }
            if (literal)
                out.push_back(static_cast<char>(c));
            else
                append_hex(&out, c);
            col += width;
        }
        if (last) break;
        out.append("\r\n");
        pos = eol + 2;
    }
    return out;
}

}  // namespace rcptguard::bounce
