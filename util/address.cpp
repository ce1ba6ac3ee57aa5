// address: see address.hpp. Grammar from RFC 5321 4.1.2 (Mailbox, Local-part,
// Dot-string, Quoted-string), extended by RFC 6531 (UTF-8 in atext/qtext).
// Domains: RFC 5890-5893 (IDNA2008) with UTS #46 processing, through libidn2;
// local parts: Unicode full case folding (UnicodeData CaseFolding.txt, status
// C and F) and NFC, through libunistring.
#include "util/address.hpp"

#include <idn2.h>
#include <unicase.h>
#include <uninorm.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <new>

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

bool is_ascii_domain_char(unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

bool is_ascii(std::string_view s) {
    for (char c : s)
        if (static_cast<unsigned char>(c) >= 0x80) return false;
    return true;
}

// RFC 5890 2.3.2.1: an A-label starts with the ACE prefix "xn--" (any case).
bool has_ace_prefix(std::string_view label) { return starts_with_icase(label, "xn--"); }

// local@domain in one allocation.
std::string join_address(std::string_view local, std::string_view domain) {
    std::string out;
    out.reserve(local.size() + 1 + domain.size());
    out.append(local).append(1, '@').append(domain);
    return out;
}

bool has_a_label(std::string_view domain) {
    for (std::size_t b = 0; b <= domain.size();) {
        std::size_t dot = domain.find('.', b);
        if (dot == std::string_view::npos) dot = domain.size();
        if (has_ace_prefix(domain.substr(b, dot - b))) return true;
        b = dot + 1;
    }
    return false;
}

// UTS #46 non-transitional processing with NFC first: what Postfix >= 3.2
// (and browsers) use, so "ß" and "ς" stay themselves.
constexpr int kIdnFlags = IDN2_NFC_INPUT | IDN2_NONTRANSITIONAL;

struct FreeC {
    void operator()(void* p) const { std::free(p); }
};

// One label that is not plain ASCII (or carries the ACE prefix) to its
// canonical ASCII form; "" and *error when IDNA refuses it. The result may
// hold dots: UTS #46 maps the ideographic full stop and its kin to '.'.
std::string idn_label(std::string_view label, std::string* error) {
    std::string in(label);
    char* raw = nullptr;
    int rc = idn2_lookup_u8(reinterpret_cast<const std::uint8_t*>(in.c_str()), reinterpret_cast<std::uint8_t**>(&raw),
                            kIdnFlags);
    std::unique_ptr<char, FreeC> out(raw);
    if (rc == IDN2_MALLOC) throw std::bad_alloc();
    if (rc != IDN2_OK || !out) {
        *error = "invalid international domain name label '" + printable(label, 80) + "': " + idn2_strerror(rc);
        return "";
    }
    if (has_ace_prefix(label)) {
        // libidn2 passes an A-label through as it is: it must be the A-label
        // of a valid U-label, or its two forms would not be one domain.
        char* u = nullptr;
        int urc = idn2_to_unicode_8z8z(out.get(), &u, kIdnFlags);
        std::unique_ptr<char, FreeC> unicode(u);
        char* b = nullptr;
        int brc = urc == IDN2_OK && unicode ? idn2_lookup_u8(reinterpret_cast<const std::uint8_t*>(unicode.get()),
                                                             reinterpret_cast<std::uint8_t**>(&b), kIdnFlags)
                                            : urc;
        std::unique_ptr<char, FreeC> back(b);
        if (urc == IDN2_MALLOC || brc == IDN2_MALLOC) throw std::bad_alloc();
        if (brc != IDN2_OK || !back || std::string_view(back.get()) != out.get()) {
            *error = "invalid international domain name label '" + printable(label, 80) +
                     "': not the A-label of a valid U-label";
            return "";
        }
    }
    return out.get();
}

// Label lengths, characters and total length of an ASCII domain.
bool valid_ascii_domain(std::string_view d) {
    if (d.empty() || d.size() > 253) return false;
    std::size_t label = 0;
    for (char c : d) {
        if (c == '.') {
            if (label == 0) return false;
            label = 0;
            continue;
        }
        if (!is_ascii_domain_char(static_cast<unsigned char>(c))) return false;
        if (++label > 63) return false;
    }
    return label != 0;
}

// The canonical form of a domain without its trailing dot. lenient: an IDN
// label that does not convert is kept lower-cased instead of failing, for
// the best guess of an invalid address's domain; invalid UTF-8, empty labels
// and bad ASCII labels still fail.
std::string convert_domain(std::string_view d, bool lenient, std::string* error) {
    if (d.empty()) {
        *error = "empty domain";
        return "";
    }
    // Far beyond any valid domain in any form; bounds the work for hostile input.
    if (d.size() > 1024) {
        *error = "domain too long";
        return "";
    }
    // The common case, plain ASCII labels and no A-label, in a few tight
    // passes; anything else goes label by label below.
    if (is_ascii(d) && !has_a_label(d) && valid_ascii_domain(d)) return to_lower_ascii(d);
    if (!is_valid_utf8(d)) {
        *error = "domain is not valid UTF-8";
        return "";
    }
    std::string out;
    out.reserve(d.size());
    bool failed = false;
    for (std::size_t b = 0; b <= d.size();) {
        std::size_t dot = d.find('.', b);
        if (dot == std::string_view::npos) dot = d.size();
        std::string_view label = d.substr(b, dot - b);
        if (b > 0) out.push_back('.');
        if (label.empty()) {
            *error = "empty label in domain";
            return "";
        }
        if (is_ascii(label) && !has_ace_prefix(label)) {
            // Plain ASCII labels keep the rules they always had (and must
            // hold even in a best guess).
            if (label.size() > 63) {
                *error = "label longer than 63 octets";
                return "";
            }
            for (char c : label)
                if (!is_ascii_domain_char(static_cast<unsigned char>(c))) {
                    *error = "invalid character in domain";
                    return "";
                }
            out += to_lower_ascii(label);
        } else {
            std::string converted = idn_label(label, error);
            if (converted.empty()) {
                if (!lenient) return "";
                failed = true;
                converted = to_lower_ascii(label);
            }
            out += converted;
        }
        b = dot + 1;
    }
    if (failed) return out;  // lenient guess: not checked further
    if (!valid_ascii_domain(out)) {
        *error = out.size() > 253 ? "domain longer than 253 octets" : "invalid domain";
        return "";
    }
    return out;
}

// Full Unicode case folding and NFC for a local part holding UTF-8 (ASCII
// ones keep the plain ASCII folding); "" when libunistring refuses it.
std::string fold_local(std::string_view local, bool fold) {
    if (!fold) return std::string(local);
    if (is_ascii(local)) return to_lower_ascii(local);
    std::size_t n = 0;
    std::uint8_t* folded = u8_casefold(reinterpret_cast<const std::uint8_t*>(local.data()), local.size(), nullptr,
                                       UNINORM_NFC, nullptr, &n);
    std::unique_ptr<std::uint8_t, FreeC> owner(folded);
    if (!folded) {
        if (errno == ENOMEM) throw std::bad_alloc();
        return "";
    }
    return std::string(reinterpret_cast<const char*>(folded), n);
}

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

// The best guess at an invalid address's domain: canonical if it is valid;
// for an invalid IDN the labels that convert in canonical form and the others
// lower-cased, so that membership in our domains can still be judged; else "".
std::string guess_domain_of(std::string_view d) {
    if (!d.empty() && d.back() == '.') d.remove_suffix(1);
    std::string error;
    if (!d.empty() && d.front() == '[') return canonical_domain(d, &error);
    return convert_domain(d, true, &error);
}

}  // namespace

std::string Address::canonical() const {
    if (status == AddressStatus::LocalOnly) return local;
    return join_address(local, domain);
}

std::string canonical_domain(std::string_view d, std::string* error) {
    std::string ignored;
    if (!error) error = &ignored;
    if (!d.empty() && d.back() == '.') d.remove_suffix(1);
    if (!d.empty() && d.front() == '[') {
        // Address literal: [1.2.3.4] or [IPv6:...]; kept as written, lower-cased.
        *error = "invalid address literal";
        if (d.back() != ']' || d.size() < 3 || d.size() > 253) return "";
        for (char c : d.substr(1, d.size() - 2)) {
            auto u = static_cast<unsigned char>(c);
            if (u <= 0x20 || u >= 0x7F || c == '[' || c == ']' || c == '\\') return "";
        }
        error->clear();
        return to_lower_ascii(d);
    }
    return convert_domain(d, false, error);
}

std::string unicode_domain(std::string_view canonical) {
    if (canonical.empty() || canonical.front() == '[' || !has_a_label(canonical)) return std::string(canonical);
    std::string in(canonical);
    char* raw = nullptr;
    int rc = idn2_to_unicode_8z8z(in.c_str(), &raw, kIdnFlags);
    std::unique_ptr<char, FreeC> out(raw);
    if (rc == IDN2_MALLOC) throw std::bad_alloc();
    if (rc != IDN2_OK || !out) return in;
    return out.get();
}

std::string domain_as_written(const Address& a) {
    auto at = a.original.rfind('@');
    std::string_view written =
        at == std::string::npos ? std::string_view() : std::string_view(a.original).substr(at + 1);
    return is_ascii(written) ? a.domain : unicode_domain(a.domain);
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
        a.domain = guess_domain_of(d);
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
    a.local = fold_local(local, opts.fold_local_case);
    if (a.local.empty()) {
        a.error = "local part cannot be case-folded";
        guess_domain();
        return a;
    }
    if (rest >= s.size()) {
        a.status = AddressStatus::LocalOnly;
        return a;
    }
    std::string_view dom = s.substr(rest + 1);
    std::string why;
    a.domain = canonical_domain(dom, &why);
    if (a.domain.empty()) {
        a.error = dom.empty() ? "empty domain" : "invalid domain: " + why;
        if (dom.find('@') != std::string_view::npos)
            guess_domain();
        else
            a.domain = guess_domain_of(dom);
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
    // Most domains are plain ASCII: one form, no copy of the domain.
    std::string unicode = has_a_label(a.domain) ? unicode_domain(a.domain) : std::string();
    bool two_forms = !unicode.empty() && unicode != a.domain;
    keys.reserve(two_forms ? 6 : 3);
    auto add = [&](std::string_view local) {
        keys.push_back(join_address(local, a.domain));
        if (two_forms) keys.push_back(join_address(local, unicode));
    };
    add(a.local);
    std::string base = strip_detail(a.local, opts.recipient_delimiters);
    if (base != a.local) add(base);
    add("");
    return keys;
}

std::vector<std::string> entry_forms(std::string_view entry) {
    std::vector<std::string> forms{std::string(entry)};
    auto at = entry.rfind('@');
    if (at == std::string_view::npos) return forms;
    std::string unicode = unicode_domain(entry.substr(at + 1));
    if (unicode != entry.substr(at + 1)) forms.push_back(std::string(entry.substr(0, at + 1)) + unicode);
    return forms;
}

bool is_postmaster(const Address& a) {
    if (a.status != AddressStatus::Mailbox && a.status != AddressStatus::LocalOnly) return false;
    return iequals_ascii(a.local, "postmaster");
}

std::string normalize_entry(std::string_view text, const AddressOptions& opts, std::string* error) {
    text = trim(text);
    if (!text.empty() && text.front() == '@') {
        std::string why;
        std::string d = canonical_domain(text.substr(1), &why);
        if (d.empty()) {
            if (error) *error = "invalid domain in catch-all entry: " + why;
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
