// address: see address.hpp. Grammar from RFC 5321 4.1.2 (Mailbox, Local-part,
// Dot-string, Quoted-string), extended by RFC 6531 (UTF-8 in atext/qtext).
#include "util/address.hpp"

#include "util/text.hpp"

namespace rcptguard {

namespace {

bool is_atext(unsigned char c) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
    if (c >= 0x80) return true;  // UTF-8 (validated separately)
    switch (c) {
        case '!':
        case '#':
        case '$':
        case '%':
        case '&':
        case '\'':
        case '*':
        case '+':
        case '-':
        case '/':
        case '=':
        case '?':
        case '^':
        case '_':
        case '`':
        case '{':
        case '|':
        case '}':
        case '~': return true;
        default: return false;
    }
}

bool only_atext_and_dots(std::string_view s) {
    for (char c : s)
        if (c != '.' && !is_atext(static_cast<unsigned char>(c))) return false;
    return true;
}

// RFC 5321 4.1.2 Dot-string: atoms joined by single dots. "bad..dots",
// ".lead" and "trail." are not addresses unless quoted; a recipient written so
// in one of our domains gets 501 5.1.3, not a lookup and a 550.
bool is_dot_atom(std::string_view s) {
    if (s.empty() || s.front() == '.' || s.back() == '.') return false;
    if (s.find("..") != std::string_view::npos) return false;
    return only_atext_and_dots(s);
}

bool is_domain_char(unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
           c >= 0x80;
}

std::string fold(std::string_view s, bool yes) { return yes ? to_lower_ascii(s) : std::string(s); }

// Quotes a local part that is not a dot-atom: "..." with \ and " escaped.
std::string quote_local(std::string_view content) {
    std::string out = "\"";
    for (char c : content) {
        if (c == '"' || c == '\\') out.push_back('\\');
        out.push_back(c);
    }
    out.push_back('"');
    return out;
}

struct LocalResult {
    bool ok = false;
    std::string canonical;
    std::string error;
};

// Parses a quoted string starting at s[0] == '"'; *end receives the index after
// the closing quote.
LocalResult parse_quoted(std::string_view s, std::size_t* end) {
    LocalResult r;
    std::string content;
    std::size_t i = 1;
    for (; i < s.size(); ++i) {
        auto c = static_cast<unsigned char>(s[i]);
        if (c == '"') break;
        if (c == '\\') {
            if (i + 1 >= s.size()) {
                r.error = "quoted local part ends in a backslash";
                return r;
            }
            auto q = static_cast<unsigned char>(s[++i]);
            if (q < 0x20 || q == 0x7F) {
                r.error = "control character in quoted local part";
                return r;
            }
            content.push_back(static_cast<char>(q));
            continue;
        }
        if (c < 0x20 || c == 0x7F) {
            r.error = "control character in quoted local part";
            return r;
        }
        content.push_back(static_cast<char>(c));
    }
    if (i >= s.size()) {
        r.error = "unterminated quoted local part";
        return r;
    }
    *end = i + 1;
    r.ok = true;
    r.canonical = is_dot_atom(content) ? content : quote_local(content);
    return r;
}

}  // namespace

std::string Address::canonical() const {
    if (status == AddressStatus::LocalOnly) return local;
    return local + "@" + domain;
}

std::string canonical_domain(std::string_view d) {
    if (!d.empty() && d.back() == '.') d.remove_suffix(1);
    if (d.empty() || d.size() > 253) return "";
    if (d.front() == '[') {
        // Address literal: [1.2.3.4] or [IPv6:...]; kept as written, lower-cased.
        if (d.back() != ']' || d.size() < 3) return "";
        for (char c : d.substr(1, d.size() - 2)) {
            auto u = static_cast<unsigned char>(c);
            if (u <= 0x20 || u >= 0x7F || c == '[' || c == ']' || c == '\\') return "";
        }
        return to_lower_ascii(d);
    }
    std::size_t label = 0;
    for (char c : d) {
        if (c == '.') {
            if (label == 0) return "";
            label = 0;
            continue;
        }
        if (!is_domain_char(static_cast<unsigned char>(c))) return "";
        if (++label > 63) return "";
    }
    if (label == 0) return "";
    if (!is_valid_utf8(d)) return "";
    return to_lower_ascii(d);
}

std::string_view without_brackets(std::string_view raw) {
    std::string_view s = trim(raw);
    if (s.size() >= 2 && s.front() == '<' && s.back() == '>') s = s.substr(1, s.size() - 2);
    return s;
}

Address parse_address(std::string_view raw, const AddressOptions& opts) {
    Address a;
    // Surrounding whitespace is never part of an address.
    std::string_view s = trim(raw);
    auto guess_domain = [&]() {
        auto at = s.rfind('@');
        if (at == std::string_view::npos) return;
        std::string_view d = s.substr(at + 1);
        if (!d.empty() && d.back() == '>') d.remove_suffix(1);
        a.domain = canonical_domain(d);
    };
    if (s.size() >= 2 && s.front() == '<' && s.back() == '>') {
        s = s.substr(1, s.size() - 2);
    } else if (!s.empty() && (s.front() == '<' || s.back() == '>')) {
        a.original = std::string(s);
        a.error = "unbalanced angle brackets";
        guess_domain();
        return a;
    }
    a.original = std::string(s);
    if (s.empty() || s == "\"\"") {
        a.status = AddressStatus::Null;
        return a;
    }
    if (s.find('\0') != std::string_view::npos) {
        a.error = "NUL byte in address";
        guess_domain();
        return a;
    }
    if (s.size() > kMaxAddressLength + 2) {
        a.error = "address longer than " + std::to_string(kMaxAddressLength) + " octets";
        guess_domain();
        return a;
    }
    // RFC 5321 4.1.1.3: a source route "@a,@b:" is accepted and ignored.
    if (s.front() == '@') {
        auto colon = s.find(':');
        if (colon == std::string_view::npos) {
            a.error = "source route without ':'";
            guess_domain();
            return a;
        }
        s = s.substr(colon + 1);
    }
    std::string local;
    std::size_t rest;
    if (!s.empty() && s.front() == '"') {
        std::size_t end = 0;
        LocalResult lr = parse_quoted(s, &end);
        if (!lr.ok) {
            a.error = lr.error;
            guess_domain();
            return a;
        }
        local = lr.canonical;
        rest = end;
        if (rest < s.size() && s[rest] != '@') {
            a.error = "text after the quoted local part";
            guess_domain();
            return a;
        }
    } else {
        rest = s.find('@');
        if (rest == std::string_view::npos) rest = s.size();
        local = std::string(s.substr(0, rest));
        if (!is_dot_atom(local)) {
            a.error = local.empty()                 ? "empty local part"
                      : !only_atext_and_dots(local) ? "invalid character in local part"
                                                    : "leading, trailing or doubled dot in local part (quote it)";
            guess_domain();
            return a;
        }
    }
    if (!is_valid_utf8(local)) {
        a.error = "local part is not valid UTF-8";
        guess_domain();
        return a;
    }
    a.local = fold(local, opts.fold_local_case);
    if (rest >= s.size()) {
        a.status = AddressStatus::LocalOnly;
        return a;
    }
    std::string_view dom = s.substr(rest + 1);
    a.domain = canonical_domain(dom);
    if (a.domain.empty()) {
        a.error = dom.empty() ? "empty domain" : "invalid domain";
        if (dom.find('@') != std::string_view::npos) guess_domain();
        return a;
    }
    if (a.local.size() + 1 + a.domain.size() > kMaxAddressLength) {
        a.error = "address longer than " + std::to_string(kMaxAddressLength) + " octets";
        return a;
    }
    a.status = AddressStatus::Mailbox;
    return a;
}

std::string strip_detail(std::string_view local, std::string_view delimiters) {
    if (delimiters.empty() || local.empty() || local.front() == '"') return std::string(local);
    auto pos = local.find_first_of(delimiters);
    // A local part that starts with the delimiter has no base to fall back to.
    if (pos == std::string_view::npos || pos == 0) return std::string(local);
    return std::string(local.substr(0, pos));
}

std::vector<std::string> lookup_keys(const Address& a, const AddressOptions& opts) {
    std::vector<std::string> keys;
    if (a.status != AddressStatus::Mailbox) return keys;
    keys.push_back(a.canonical());
    std::string base = strip_detail(a.local, opts.recipient_delimiters);
    if (base != a.local) keys.push_back(base + "@" + a.domain);
    keys.push_back("@" + a.domain);
    return keys;
}

bool is_postmaster(const Address& a) {
    if (a.status != AddressStatus::Mailbox && a.status != AddressStatus::LocalOnly) return false;
    return iequals_ascii(a.local, "postmaster");
}

std::string normalize_entry(std::string_view text, const AddressOptions& opts, std::string* error) {
    text = trim(text);
    if (!text.empty() && text.front() == '@') {
        std::string d = canonical_domain(text.substr(1));
        if (d.empty()) {
            if (error) *error = "invalid domain in catch-all entry";
            return "";
        }
        return "@" + d;
    }
    Address a = parse_address(text, opts);
    switch (a.status) {
        case AddressStatus::Mailbox: return a.canonical();
        case AddressStatus::Null:
            if (error) *error = "empty address";
            return "";
        case AddressStatus::LocalOnly:
            if (error) *error = "address has no domain (write user@domain, or @domain for a catch-all)";
            return "";
        case AddressStatus::Invalid: break;
    }
    if (error) *error = a.error;
    return "";
}

}  // namespace rcptguard
