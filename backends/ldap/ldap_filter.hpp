// ldap_filter: the LDAP backend's search filter template ("filter = ..."),
// checked once when the configuration is read and expanded per lookup.
//
// Placeholders: %s the whole key (user@domain, or @domain for a catch-all),
// %u the part before the last '@' (empty for a catch-all), %d the part after
// it (empty if the key has no '@'), %% a literal '%'. Every substituted value
// is escaped per RFC 4515 3 before it is pasted in, so a key such as
// "*)(uid=*" stays an assertion value and can never change the filter's shape.
//
// One search per recipient: expand_any() joins the filters of all lookup
// keys (full address, without +detail, @domain) in one (|...), each value
// escaped; the search asks for attributes() and matches() tells, from the
// attributes of each returned entry, which keys it answers, so
// most_specific_match() can name the most specific one (for the log and the
// cache). matches() compares as the usual mail attributes do (ASCII case
// ignored); where it cannot judge (ordering, approximate or extensible
// matches, attribute options, an entry none of the keys explains, a result
// cut short by a size limit) it says so, and the backend asks those keys
// one by one, as before.
//
// Pure code without libldap, so it can be unit-tested and fuzzed alone.
// Thread-safety: a parsed LdapFilterTemplate is immutable; expand() may be
// called from any number of threads. Errors are values: parse() returns ""
// or the problem, for the config file's "file:line: filter: problem".
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace rcptguard {

// RFC 4515 3: '*', '(', ')', '\' and NUL must be written as \XX. Every byte
// >= 0x80 is escaped too (allowed by the RFC, and what libldap's own
// ldap_bv2escaped_filter_value does), so no directory ever sees a broken
// UTF-8 sequence inside a filter.
std::string escape_filter_value(std::string_view value);

// An entry as a search returned it: attribute names and their values.
using LdapAttributes = std::vector<std::pair<std::string, std::vector<std::string>>>;

enum class FilterMatch { Yes, No, Unknown };

class LdapFilterTemplate {
public:
    // "" if text is a usable template (balanced parentheses, only known
    // placeholders, at least one of %s %u %d), else what is wrong with it.
    std::string parse(std::string_view text);

    // The filter for one lookup key. Call only after parse() returned "".
    std::string expand(std::string_view key) const;
    // One filter for several keys: (|F(k1)F(k2)...), or F(k1) alone for one key.
    std::string expand_any(const std::vector<std::string_view>& keys) const;
    // The attribute types the template tests, each once (for the search's
    // attribute list).
    const std::vector<std::string>& attributes() const { return attributes_; }
    // Would the filter for key match an entry holding these attributes?
    FilterMatch matches(std::string_view key, const LdapAttributes& entry) const;

    const std::string& text() const { return text_; }

private:
    enum class Part { Literal, Key, Local, Domain };
    struct Piece {
        Part part;
        std::string literal;
    };
    // The parsed filter, for matches(). Star: an unescaped '*' of the template.
    struct ValuePart {
        enum class Kind { Text, Key, Local, Domain, Star } kind;
        std::string text;  // Text: unescaped
    };
    struct Node {
        enum class Kind { And, Or, Not, Equal, Substring, Present, Other } kind;
        std::string attr;
        std::vector<ValuePart> value;
        std::vector<Node> children;
    };
    class TreeParser;
    void build_tree();
    static FilterMatch eval(const Node& n, std::string_view key, std::string_view local, std::string_view domain,
                            const LdapAttributes& entry);

    std::string text_;
    std::vector<Piece> pieces_;
    std::vector<Node> tree_;  // one root, or empty before parse()
    std::vector<std::string> attributes_;
};

// Of the keys (most specific first), the most specific one some entry
// matches, judged by matches(): keys.size() if none. *unsure_before is set to
// the number of keys ahead of it that could not be ruled out (an entry gave
// Unknown for them, an entry matched no key at all, or the result was cut
// short, complete = false): the caller must ask those keys one by one.
std::size_t most_specific_match(const LdapFilterTemplate& filter, const std::vector<std::string_view>& keys,
                                const std::vector<LdapAttributes>& entries, bool complete, std::size_t* unsure_before);

// The same for one search made for several recipients at once (the LDAP
// backend's batches, ldap_backend.hpp): keys are the distinct keys searched
// for, recipients[r] the indices in keys of recipient r's keys, most specific
// first. For each recipient: best (an index into recipients[r], or its size
// if none matched) and unsure_before as most_specific_match() says them. An
// entry another recipient's key explains is explained; one no key explains
// leaves every recipient unsure of the keys ahead of its best.
struct KeyMatch {
    std::size_t best;
    std::size_t unsure_before;
};
std::vector<KeyMatch> most_specific_matches(const LdapFilterTemplate& filter, const std::vector<std::string_view>& keys,
                                            const std::vector<std::vector<std::size_t>>& recipients,
                                            const std::vector<LdapAttributes>& entries, bool complete);

}  // namespace rcptguard
