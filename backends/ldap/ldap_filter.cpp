// ldap_filter: see ldap_filter.hpp. Grammar from RFC 4515 3.
#include "backends/ldap/ldap_filter.hpp"

#include <cctype>

namespace rcptguard {

namespace {

constexpr char kHex[] = "0123456789ABCDEF";
// Stands for a placeholder while the template's shape is checked: a value
// character that is neither syntax nor an escape.
constexpr char kValueMark = '\x01';

bool is_hex(char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; }

bool is_attr_char(char c) {
    unsigned char u = static_cast<unsigned char>(c);
    return std::isalnum(u) || c == '-' || c == ';' || c == '.' || c == ':';
}

// A recursive-descent check of RFC 4515's filter grammar over the template
// with every placeholder replaced by kValueMark. Error strings name the
// offset so an admin can find the spot in a long filter.
class ShapeChecker {
public:
    explicit ShapeChecker(std::string_view s) : s_(s) {}

    std::string check() {
        if (s_.empty()) return "is empty";
        if (s_.front() != '(') return "must be a parenthesised filter, e.g. (mail=%s)";
        std::string e = filter(0);
        if (!e.empty()) return e;
        if (pos_ != s_.size() && s_[pos_] == ')') return at("unbalanced parentheses: unexpected ')'");
        if (pos_ != s_.size()) return at("one filter expected, e.g. (|(a=%s)(b=%s)); unexpected text after it");
        return "";
    }

private:
    std::string at(const std::string& what) const { return what + " at offset " + std::to_string(pos_); }

    std::string filter(int depth) {
        if (depth > 32) return at("nested too deeply");
        if (pos_ >= s_.size() || s_[pos_] != '(') return at("expected '('");
        ++pos_;
        if (pos_ >= s_.size()) return "unbalanced parentheses: missing ')'";
        std::string e;
        char c = s_[pos_];
        if (c == '&' || c == '|') {
            ++pos_;
            if (pos_ >= s_.size() || s_[pos_] != '(') return at(std::string("'") + c + "' needs at least one (filter)");
            while (e.empty() && pos_ < s_.size() && s_[pos_] == '(') e = filter(depth + 1);
        } else if (c == '!') {
            ++pos_;
            e = filter(depth + 1);
        } else {
            e = item();
        }
        if (!e.empty()) return e;
        if (pos_ >= s_.size()) return "unbalanced parentheses: missing ')'";
        if (s_[pos_] != ')') return at("expected ')'");
        ++pos_;
        return "";
    }

    std::string item() {
        std::size_t start = pos_;
        if (pos_ < s_.size() && s_[pos_] == ')') return at("empty filter ()");
        while (pos_ < s_.size() && s_[pos_] != '=' && s_[pos_] != '(' && s_[pos_] != ')') {
            if (s_[pos_] == kValueMark) return at("placeholders belong in values, not in attribute names");
            if (!is_attr_char(s_[pos_]) && !(s_[pos_] == '~' || s_[pos_] == '<' || s_[pos_] == '>'))
                return at(std::string("unexpected character '") + s_[pos_] + "' in an attribute name");
            ++pos_;
        }
        if (pos_ >= s_.size()) return "unbalanced parentheses: missing ')'";
        if (s_[pos_] != '=') return at("expected attribute=value");
        std::string_view attr = s_.substr(start, pos_ - start);
        if (!attr.empty() && (attr.back() == '~' || attr.back() == '<' || attr.back() == '>' || attr.back() == ':'))
            attr.remove_suffix(1);
        if (attr.empty()) return at("missing attribute name before '='");
        for (char a : attr)
            if (a == '~' || a == '<' || a == '>') return at("misplaced comparison operator");
        ++pos_;  // '='
        for (; pos_ < s_.size() && s_[pos_] != ')'; ++pos_) {
            char c = s_[pos_];
            if (c == '(') return at("unescaped '(' in a value (write \\28)");
            if (c == '\\') {
                if (pos_ + 2 >= s_.size() || !is_hex(s_[pos_ + 1]) || !is_hex(s_[pos_ + 2]))
                    return at("'\\' in a value must be followed by two hex digits (RFC 4515)");
                pos_ += 2;
            }
        }
        return "";
    }

    std::string_view s_;
    std::size_t pos_ = 0;
};

}  // namespace

std::string escape_filter_value(std::string_view value) {
    std::string out;
    out.reserve(value.size());
    for (char ch : value) {
        unsigned char c = static_cast<unsigned char>(ch);
        if (c == '*' || c == '(' || c == ')' || c == '\\' || c == 0 || c >= 0x80) {
            out.push_back('\\');
            out.push_back(kHex[c >> 4]);
            out.push_back(kHex[c & 0x0F]);
        } else {
            out.push_back(ch);
        }
    }
    return out;
}

std::string LdapFilterTemplate::parse(std::string_view text) {
    text_.assign(text);
    pieces_.clear();
    std::string shape;
    std::string literal;
    bool has_placeholder = false;
    auto flush = [&] {
        if (!literal.empty()) pieces_.push_back({Part::Literal, std::move(literal)});
        literal.clear();
    };
    for (std::size_t i = 0; i < text.size(); ++i) {
        char c = text[i];
        if (c != '%') {
            if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F)
                return "control character at offset " + std::to_string(i);
            literal.push_back(c);
            shape.push_back(c);
            continue;
        }
        if (i + 1 >= text.size()) return "a lone '%' at the end (write %% for a literal '%')";
        char p = text[++i];
        Part part;
        switch (p) {
            case '%':
                literal.push_back('%');
                shape.push_back('%');
                continue;
            case 's': part = Part::Key; break;
            case 'u': part = Part::Local; break;
            case 'd': part = Part::Domain; break;
            default: return std::string("unknown placeholder '%") + p + "' (known: %s %u %d %%)";
        }
        flush();
        pieces_.push_back({part, {}});
        shape.push_back(kValueMark);
        has_placeholder = true;
    }
    flush();
    std::string problem = ShapeChecker(shape).check();
    if (problem.empty() && !has_placeholder)
        problem = "uses none of %s, %u, %d: every lookup would match the same entries";
    if (!problem.empty()) pieces_.clear();
    return problem;
}

std::string LdapFilterTemplate::expand(std::string_view key) const {
    // RFC 5321 allows '@' inside a quoted local part, so split at the last one
    // (milter/address.hpp canonicalises keys the same way).
    std::size_t at = key.rfind('@');
    std::string_view local = at == std::string_view::npos ? key : key.substr(0, at);
    std::string_view domain = at == std::string_view::npos ? std::string_view{} : key.substr(at + 1);
    std::string out;
    out.reserve(text_.size() + key.size() * 2);
    for (const Piece& p : pieces_) {
        switch (p.part) {
            case Part::Literal: out += p.literal; break;
            case Part::Key: out += escape_filter_value(key); break;
            case Part::Local: out += escape_filter_value(local); break;
            case Part::Domain: out += escape_filter_value(domain); break;
        }
    }
    return out;
}

}  // namespace rcptguard
