// header_fields: see header_fields.hpp.
#include "core/bounce/header_fields.hpp"

#include "core/bounce/transfer_decoding.hpp"
#include "util/text.hpp"

namespace rcptguard::bounce {
namespace {

// RFC 2045 section 5.1: token := 1*<any US-ASCII CHAR except SPACE, CTLs or tspecials>.
bool is_token_char(char c) {
    auto u = static_cast<unsigned char>(c);
    if (u <= 32 || u >= 127) return false;
    switch (c) {
        case '(':
        case ')':
        case '<':
        case '>':
        case '@':
        case ',':
        case ';':
        case ':':
        case '\\':
        case '"':
        case '/':
        case '[':
        case ']':
        case '?':
        case '=': return false;
        default: return true;
    }
}

class Cursor {
public:
    explicit Cursor(std::string_view s) : s_(s) {}
    bool done() const { return i_ >= s_.size(); }
    char peek() const { return done() ? '\0' : s_[i_]; }
    bool consume(char c) {
        if (peek() != c || done()) return false;
        ++i_;
        return true;
    }
    // Skips whitespace, line breaks and (nested) RFC 822 comments.
    void skip_cfws() {
        while (!done()) {
            char c = s_[i_];
            if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
                ++i_;
            } else if (c == '(') {
                int depth = 0;
                while (!done()) {
                    char d = s_[i_++];
                    if (d == '\\' && !done())
                        ++i_;
                    else if (d == '(')
                        ++depth;
                    else if (d == ')' && --depth == 0)
                        break;
                }
            } else {
                return;
            }
        }
    }
    std::string_view token() {
        std::size_t b = i_;
        while (!done() && is_token_char(s_[i_])) ++i_;
        return s_.substr(b, i_ - b);
    }
    // A quoted-string after its opening quote; false if unterminated.
    bool quoted(std::string* out) {
        while (!done()) {
            char c = s_[i_++];
            if (c == '"') return true;
            if (c == '\\' && !done()) c = s_[i_++];
            if (c == '\r' || c == '\n') continue;  // folding inside quotes
            out->push_back(c);
        }
        return false;
    }
    // A lenient unquoted value: MTAs write boundaries with '=' and '/' unquoted.
    std::string_view bare_value() {
        std::size_t b = i_;
        while (!done()) {
            char c = s_[i_];
            if (c == ';' || c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '"') break;
            ++i_;
        }
        return s_.substr(b, i_ - b);
    }

private:
    std::string_view s_;
    std::size_t i_ = 0;
};

void add_param(ContentType* ct, std::string name, std::string value) {
    for (const auto& [n, v] : ct->params) {
        if (n != name) continue;
        if (v != value && ct->error.empty()) ct->error = "conflicting values for parameter " + name;
        return;
    }
    ct->params.emplace_back(std::move(name), std::move(value));
}

}  // namespace

bool ContentType::is(std::string_view type_slash_subtype) const {
    auto slash = type_slash_subtype.find('/');
    if (slash == std::string_view::npos) return false;
    return valid && iequals_ascii(type, type_slash_subtype.substr(0, slash)) &&
           iequals_ascii(subtype, type_slash_subtype.substr(slash + 1));
}

const std::string* ContentType::param(std::string_view name) const {
    for (const auto& [n, v] : params)
        if (iequals_ascii(n, name)) return &v;
    return nullptr;
}

ContentType parse_content_type(std::string_view value) {
    ContentType ct;
    Cursor c(value);
    c.skip_cfws();
    std::string_view type = c.token();
    c.skip_cfws();
    if (type.empty() || !c.consume('/')) {
        ct.error = "no type/subtype";
        return ct;
    }
    c.skip_cfws();
    std::string_view subtype = c.token();
    if (subtype.empty()) {
        ct.error = "no subtype";
        return ct;
    }
    ct.type = to_lower_ascii(type);
    ct.subtype = to_lower_ascii(subtype);
    ct.valid = true;
    for (;;) {
        c.skip_cfws();
        if (c.done()) break;
        if (!c.consume(';')) {
            if (ct.error.empty()) ct.error = "unexpected text after the media type or a parameter";
            break;
        }
        c.skip_cfws();
        if (c.done()) break;  // a trailing ';' is common and harmless
        if (c.peek() == ';') continue;
        std::string name = to_lower_ascii(c.token());
        c.skip_cfws();
        if (name.empty() || !c.consume('=')) {
            if (ct.error.empty()) ct.error = "malformed parameter";
            break;
        }
        c.skip_cfws();
        std::string v;
        if (c.consume('"')) {
            if (!c.quoted(&v)) {
                if (ct.error.empty()) ct.error = "unterminated quoted parameter value";
                add_param(&ct, std::move(name), std::move(v));
                break;
            }
        } else {
            v = std::string(c.bare_value());
        }
        add_param(&ct, std::move(name), std::move(v));
    }
    return ct;
}

TransferEncoding parse_transfer_encoding(std::string_view value) {
    std::string v = to_lower_ascii(trim(unfold(value)));
    // A trailing comment ("7bit (us-ascii)") is legal CFWS.
    if (auto p = v.find('('); p != std::string::npos) v = std::string(trim(v.substr(0, p)));
    if (v.empty()) return TransferEncoding::Identity;
    if (v == "7bit") return TransferEncoding::SevenBit;
    if (v == "8bit") return TransferEncoding::EightBit;
    if (v == "binary") return TransferEncoding::Binary;
    if (v == "quoted-printable") return TransferEncoding::QuotedPrintable;
    if (v == "base64") return TransferEncoding::Base64;
    return TransferEncoding::Unknown;
}

const char* transfer_encoding_name(TransferEncoding te) {
    switch (te) {
        case TransferEncoding::Identity: return "none";
        case TransferEncoding::SevenBit: return "7bit";
        case TransferEncoding::EightBit: return "8bit";
        case TransferEncoding::Binary: return "binary";
        case TransferEncoding::QuotedPrintable: return "quoted-printable";
        case TransferEncoding::Base64: return "base64";
        case TransferEncoding::Unknown: break;
    }
    return "unknown";
}

std::string unfold(std::string_view value) {
    std::string out;
    out.reserve(value.size());
    for (char c : value)
        if (c != '\r' && c != '\n') out.push_back(c);
    return out;
}

std::string_view field_name(std::string_view line) {
    std::size_t i = 0;
    while (i < line.size()) {
        auto u = static_cast<unsigned char>(line[i]);
        if (u == ':') break;
        if (u < 33 || u > 126) return {};
        ++i;
    }
    if (i == 0 || i >= line.size()) return {};
    return line.substr(0, i);
}

bool is_field_line(std::string_view line) { return !field_name(line).empty(); }

bool is_continuation_line(std::string_view line) { return !line.empty() && (line[0] == ' ' || line[0] == '\t'); }

std::vector<RawField> split_fields(std::string_view block) {
    std::vector<RawField> fields;
    std::size_t pos = 0;
    while (pos < block.size()) {
        std::size_t lf = block.find('\n', pos);
        std::size_t next = lf == std::string_view::npos ? block.size() : lf + 1;
        std::string_view line = block.substr(pos, next - pos);
        while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
        pos = next;
        std::string_view name = field_name(line);
        if (!name.empty()) {
            RawField f;
            f.name = std::string(name);
            f.value = std::string(trim(line.substr(name.size() + 1)));
            fields.push_back(std::move(f));
        } else if (is_continuation_line(line) && !fields.empty()) {
            fields.back().value.append(line);
        } else {
            continue;
        }
        fields.back().lines.append(line);
        fields.back().lines.append("\r\n");
    }
    return fields;
}

bool has_eight_bit(std::string_view s) {
    for (char c : s)
        if (static_cast<unsigned char>(c) >= 0x80) return true;
    return false;
}

std::string decode_encoded_words(std::string_view value) {
    std::string out;
    std::size_t i = 0;
    while (i < value.size()) {
        auto start = value.find("=?", i);
        if (start == std::string_view::npos) break;
        out.append(value.substr(i, start - i));
        // =?charset?e?text?=
        auto q1 = value.find('?', start + 2);
        bool ok = q1 != std::string_view::npos && q1 + 2 < value.size() && value[q1 + 2] == '?';
        auto end = ok ? value.find("?=", q1 + 3) : std::string_view::npos;
        if (!ok || end == std::string_view::npos) {
            out.append("=?");
            i = start + 2;
            continue;
        }
        char enc = value[q1 + 1];
        std::string_view text = value.substr(q1 + 3, end - (q1 + 3));
        std::string decoded;
        bool good = false;
        if (enc == 'q' || enc == 'Q') {
            good = true;
            for (std::size_t k = 0; k < text.size(); ++k) {
                int hi = 0, lo = 0;
                if (text[k] == '_')
                    decoded.push_back(' ');
                else if (text[k] == '=' && k + 2 < text.size() && (hi = hex_value(text[k + 1])) >= 0 &&
                         (lo = hex_value(text[k + 2])) >= 0) {
                    decoded.push_back(static_cast<char>(hi * 16 + lo));
                    k += 2;
                } else
                    decoded.push_back(text[k]);
            }
        } else if (enc == 'b' || enc == 'B') {
            Base64Decoder d;
            good = d.feed(text, &decoded) && d.finish();
        }
        if (good)
            out.append(decoded);
        else
            out.append(value.substr(start, end + 2 - start));
        i = end + 2;
    }
    if (i < value.size()) out.append(value.substr(i));
    return out;
}

}  // namespace rcptguard::bounce
