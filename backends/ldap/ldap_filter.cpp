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
    tree_.clear();
    attributes_.clear();
    if (!problem.empty()) {
        pieces_.clear();
        return problem;
    }
    build_tree();
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

namespace rcptguard {

namespace {

char fold(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool iequal(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (fold(a[i]) != fold(b[i])) return false;
    return true;
}

// Does value start at pos with seg (ASCII case ignored)?
bool iequal_at(std::string_view value, std::size_t pos, std::string_view seg) {
    return pos + seg.size() <= value.size() && iequal(value.substr(pos, seg.size()), seg);
}

std::size_t ifind(std::string_view value, std::string_view seg, std::size_t from) {
    for (std::size_t p = from; p + seg.size() <= value.size(); ++p)
        if (iequal_at(value, p, seg)) return p;
    return std::string_view::npos;
}

// RFC 4515 substrings: initial*any*...*final, ASCII case ignored.
bool substring_match(std::string_view value, const std::vector<std::string>& segs) {
    if (segs.size() < 2) return false;
    const std::string& initial = segs.front();
    const std::string& final = segs.back();
    if (value.size() < initial.size() + final.size()) return false;
    if (!iequal_at(value, 0, initial)) return false;
    if (!iequal_at(value, value.size() - final.size(), final)) return false;
    std::size_t pos = initial.size();
    std::size_t end = value.size() - final.size();
    for (std::size_t i = 1; i + 1 < segs.size(); ++i) {
        std::size_t at = ifind(value.substr(0, end), segs[i], pos);
        if (at == std::string_view::npos) return false;
        pos = at + segs[i].size();
    }
    return true;
}

// Bytes the directory's matching rules may treat otherwise than an ASCII
// comparison: non-ASCII (caseIgnoreMatch folds Unicode case and normalises),
// and spaces (insignificant space handling, RFC 4518 2.6.1).
bool beyond_ascii_rules(std::string_view v) {
    for (char c : v)
        if (static_cast<unsigned char>(c) >= 0x80 || c == ' ' || c == '\t') return true;
    return false;
}

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return 0;
}

}  // namespace

// Builds the tree from a template that ShapeChecker already accepted, so it
// can be lenient about errors (they cannot occur).
class LdapFilterTemplate::TreeParser {
public:
    explicit TreeParser(std::string_view s) : s_(s) {}

    Node filter() {
        Node n{Node::Kind::Other, {}, {}, {}};
        if (!eat('(')) return n;
        if (peek() == '&' || peek() == '|') {
            n.kind = peek() == '&' ? Node::Kind::And : Node::Kind::Or;
            ++pos_;
            while (peek() == '(') n.children.push_back(filter());
        } else if (peek() == '!') {
            ++pos_;
            n.kind = Node::Kind::Not;
            n.children.push_back(filter());
        } else {
            n = item();
        }
        eat(')');
        return n;
    }

    std::vector<std::string> attributes;

private:
    char peek() const { return pos_ < s_.size() ? s_[pos_] : '\0'; }
    bool eat(char c) {
        if (peek() != c) return false;
        ++pos_;
        return true;
    }

    Node item() {
        Node n{Node::Kind::Equal, {}, {}, {}};
        std::size_t start = pos_;
        while (pos_ < s_.size() && s_[pos_] != '=' && s_[pos_] != ')') ++pos_;
        std::string_view desc = s_.substr(start, pos_ - start);
        eat('=');
        bool other = false;
        if (!desc.empty() && (desc.back() == '~' || desc.back() == '<' || desc.back() == '>')) {
            desc.remove_suffix(1);
            other = true;  // approximate and ordering matches: the server's rules, not ours
        }
        std::size_t cut = desc.find_first_of(":;");
        if (cut != std::string_view::npos) other = true;  // extensible match, attribute options
        std::string attr(desc.substr(0, cut));
        if (!attr.empty()) {
            bool seen = false;
            for (const auto& a : attributes) seen = seen || iequal(a, attr);
            if (!seen) attributes.push_back(attr);
        }
        n.attr = attr;
        bool star = false;
        bool placeholder = false;
        auto text = [&n]() -> std::string& {
            if (n.value.empty() || n.value.back().kind != ValuePart::Kind::Text)
                n.value.push_back({ValuePart::Kind::Text, {}});
            return n.value.back().text;
        };
        while (pos_ < s_.size() && s_[pos_] != ')') {
            char c = s_[pos_++];
            if (c == '%' && pos_ < s_.size()) {
                char p = s_[pos_++];
                if (p == '%') {
                    text().push_back('%');
                } else {
                    placeholder = true;
                    n.value.push_back({p == 's'   ? ValuePart::Kind::Key
                                       : p == 'u' ? ValuePart::Kind::Local
                                                  : ValuePart::Kind::Domain,
                                       {}});
                }
            } else if (c == '\\' && pos_ + 1 < s_.size()) {
                text().push_back(static_cast<char>(hex_value(s_[pos_]) * 16 + hex_value(s_[pos_ + 1])));
                pos_ += 2;
            } else if (c == '*') {
                star = true;
                n.value.push_back({ValuePart::Kind::Star, {}});
            } else {
                text().push_back(c);
            }
        }
        if (other)
            n.kind = Node::Kind::Other;
        else if (star && !placeholder && n.value.size() == 1)
            n.kind = Node::Kind::Present;
        else if (star)
            n.kind = Node::Kind::Substring;
        return n;
    }

    std::string_view s_;
    std::size_t pos_ = 0;
};

void LdapFilterTemplate::build_tree() {
    TreeParser tp(text_);
    tree_.push_back(tp.filter());
    attributes_ = std::move(tp.attributes);
}

FilterMatch LdapFilterTemplate::eval(const Node& n, std::string_view key, std::string_view local,
                                     std::string_view domain, const LdapAttributes& entry) {
    switch (n.kind) {
        case Node::Kind::And: {
            FilterMatch r = FilterMatch::Yes;
            for (const Node& c : n.children) {
                FilterMatch m = eval(c, key, local, domain, entry);
                if (m == FilterMatch::No) return FilterMatch::No;
                if (m == FilterMatch::Unknown) r = FilterMatch::Unknown;
            }
            return r;
        }
        case Node::Kind::Or: {
            FilterMatch r = FilterMatch::No;
            for (const Node& c : n.children) {
                FilterMatch m = eval(c, key, local, domain, entry);
                if (m == FilterMatch::Yes) return FilterMatch::Yes;
                if (m == FilterMatch::Unknown) r = FilterMatch::Unknown;
            }
            return r;
        }
        case Node::Kind::Not: {
            FilterMatch m = n.children.empty() ? FilterMatch::Unknown : eval(n.children[0], key, local, domain, entry);
            return m == FilterMatch::Yes ? FilterMatch::No : m == FilterMatch::No ? FilterMatch::Yes : m;
        }
        case Node::Kind::Other: return FilterMatch::Unknown;
        case Node::Kind::Equal:
        case Node::Kind::Substring:
        case Node::Kind::Present: break;
    }
    // The assertion value (Equal), or its pieces between the stars (Substring).
    std::vector<std::string> segs(1);
    for (const ValuePart& p : n.value) {
        switch (p.kind) {
            case ValuePart::Kind::Text: segs.back() += p.text; break;
            case ValuePart::Kind::Key: segs.back() += key; break;
            case ValuePart::Kind::Local: segs.back() += local; break;
            case ValuePart::Kind::Domain: segs.back() += domain; break;
            case ValuePart::Kind::Star: segs.emplace_back(); break;
        }
    }
    for (const auto& [name, values] : entry) {
        if (!iequal(name, n.attr)) continue;
        if (n.kind == Node::Kind::Present) return values.empty() ? FilterMatch::No : FilterMatch::Yes;
        for (const std::string& v : values)
            if (n.kind == Node::Kind::Equal ? iequal(v, segs.front()) : substring_match(v, segs))
                return FilterMatch::Yes;
        // Unequal bytes are no proof of a mismatch where the server's rules
        // compare more loosely than ASCII case: leave that to the server.
        for (const std::string& v : values)
            if (beyond_ascii_rules(v)) return FilterMatch::Unknown;
        for (const std::string& seg : segs)
            if (beyond_ascii_rules(seg)) return FilterMatch::Unknown;
    }
    return FilterMatch::No;
}

std::string LdapFilterTemplate::expand_any(const std::vector<std::string_view>& keys) const {
    if (keys.size() == 1) return expand(keys.front());
    std::string out = "(|";
    for (std::string_view k : keys) out += expand(k);
    out += ")";
    return out;
}

FilterMatch LdapFilterTemplate::matches(std::string_view key, const LdapAttributes& entry) const {
    if (tree_.empty()) return FilterMatch::Unknown;
    std::size_t at = key.rfind('@');
    std::string_view local = at == std::string_view::npos ? key : key.substr(0, at);
    std::string_view domain = at == std::string_view::npos ? std::string_view{} : key.substr(at + 1);
    return eval(tree_.front(), key, local, domain, entry);
}

std::vector<KeyMatch> most_specific_matches(const LdapFilterTemplate& filter, const std::vector<std::string_view>& keys,
                                            const std::vector<std::vector<std::size_t>>& recipients,
                                            const std::vector<LdapAttributes>& entries, bool complete) {
    // Every entry judged against every key once.
    std::vector<FilterMatch> judged(entries.size() * keys.size());
    bool unexplained = false;  // an entry none of the keys explains
    for (std::size_t e = 0; e < entries.size(); ++e) {
        bool explained = false;
        for (std::size_t k = 0; k < keys.size(); ++k) {
            judged[e * keys.size() + k] = filter.matches(keys[k], entries[e]);
            explained = explained || judged[e * keys.size() + k] == FilterMatch::Yes;
        }
        // The server says this entry matches some key; if we cannot tell which
        // (an attribute alias, a matching rule of its own), we cannot rule any out.
        if (!explained) unexplained = true;
    }
    std::vector<KeyMatch> out;
    out.reserve(recipients.size());
    for (const std::vector<std::size_t>& mine : recipients) {
        KeyMatch m{mine.size(), 0};
        for (std::size_t i = 0; i < mine.size() && m.best == mine.size(); ++i)
            for (std::size_t e = 0; e < entries.size(); ++e)
                if (judged[e * keys.size() + mine[i]] == FilterMatch::Yes) {
                    m.best = i;
                    break;
                }
        if (!complete || unexplained) {
            m.unsure_before = m.best;
        } else {
            for (std::size_t i = 0; i < m.best; ++i)
                for (std::size_t e = 0; e < entries.size(); ++e)
                    if (judged[e * keys.size() + mine[i]] == FilterMatch::Unknown) m.unsure_before = i + 1;
        }
        out.push_back(m);
    }
    return out;
}

std::size_t most_specific_match(const LdapFilterTemplate& filter, const std::vector<std::string_view>& keys,
                                const std::vector<LdapAttributes>& entries, bool complete, std::size_t* unsure_before) {
    std::vector<std::size_t> all(keys.size());
    for (std::size_t i = 0; i < all.size(); ++i) all[i] = i;
    KeyMatch m = most_specific_matches(filter, keys, {all}, entries, complete).front();
    if (unsure_before) *unsure_before = m.unsure_before;
    return m.best;
}

}  // namespace rcptguard
