// ldap_filter: the LDAP backend's search filter template ("filter = ..."),
// checked once when the configuration is read and expanded per lookup.
//
// Placeholders: %s the whole key (user@domain, or @domain for a catch-all),
// %u the part before the last '@' (empty for a catch-all), %d the part after
// it (empty if the key has no '@'), %% a literal '%'. Every substituted value
// is escaped per RFC 4515 3 before it is pasted in, so a key such as
// "*)(uid=*" stays an assertion value and can never change the filter's shape.
//
// Pure code without libldap, so it can be unit-tested and fuzzed alone.
// Thread-safety: a parsed LdapFilterTemplate is immutable; expand() may be
// called from any number of threads. Errors are values: parse() returns ""
// or the problem, for the config file's "file:line: filter: problem".
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace rcptguard {

// RFC 4515 3: '*', '(', ')', '\' and NUL must be written as \XX. Every byte
// >= 0x80 is escaped too (allowed by the RFC, and what libldap's own
// ldap_bv2escaped_filter_value does), so no directory ever sees a broken
// UTF-8 sequence inside a filter.
std::string escape_filter_value(std::string_view value);

class LdapFilterTemplate {
public:
    // "" if text is a usable template (balanced parentheses, only known
    // placeholders, at least one of %s %u %d), else what is wrong with it.
    std::string parse(std::string_view text);

    // The filter for one lookup key. Call only after parse() returned "".
    std::string expand(std::string_view key) const;

    const std::string& text() const { return text_; }

private:
    enum class Part { Literal, Key, Local, Domain };
    struct Piece {
        Part part;
        std::string literal;
    };

    std::string text_;
    std::vector<Piece> pieces_;
};

}  // namespace rcptguard
