// libFuzzer target: the LDAP filter template and RFC 4515 escaping. Input:
// the template on the first line, the lookup key after it (any bytes).
// Whatever the key, an expanded filter must keep the template's shape: every
// value is escaped, so no byte of the key can open, close or wildcard
// anything, and every backslash starts a two-digit hex escape. The same holds
// for the filter joining several keys; judging entries never crashes.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "backends/ldap/ldap_filter.hpp"

using namespace rcptguard;

namespace {

bool is_hex(char c) { return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F'); }

// Parentheses and stars outside escapes, in order: the filter's skeleton.
std::string skeleton(const std::string& f) {
    std::string out;
    for (std::size_t i = 0; i < f.size(); ++i) {
        if (f[i] == '\\') {
            i += 2;
            continue;
        }
        if (f[i] == '(' || f[i] == ')' || f[i] == '*') out.push_back(f[i]);
    }
    return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string in(reinterpret_cast<const char*>(data), size);
    std::size_t nl = in.find('\n');
    std::string templ = nl == std::string::npos ? in : in.substr(0, nl);
    std::string key = nl == std::string::npos ? "" : in.substr(nl + 1);

    std::string escaped = escape_filter_value(key);
    for (std::size_t i = 0; i < escaped.size(); ++i) {
        unsigned char c = static_cast<unsigned char>(escaped[i]);
        if (c == '*' || c == '(' || c == ')' || c == 0 || c >= 0x80) std::abort();
        if (c == '\\' && (i + 2 >= escaped.size() || !is_hex(escaped[i + 1]) || !is_hex(escaped[i + 2]))) std::abort();
        if (c == '\\') i += 2;
    }

    LdapFilterTemplate t;
    if (!t.parse(templ).empty()) return 0;
    // The same template expanded with an empty key and with the fuzzed key
    // must have the same skeleton: the key only ever adds value bytes.
    if (skeleton(t.expand(key)) != skeleton(t.expand(""))) std::abort();
    // One search per recipient: the joined filter's skeleton is the template's,
    // once per key, inside one (|...).
    std::string domain = "@" + key;
    if (skeleton(t.expand_any({key, domain})) != "(" + skeleton(t.expand("")) + skeleton(t.expand("")) + ")")
        std::abort();
    // Judging an entry that holds the key in every attribute the template
    // names never crashes, and a key that is listed verbatim in an
    // (attr=%s) template is recognised.
    LdapAttributes entry;
    for (const auto& a : t.attributes()) entry.push_back({a, {key, domain}});
    FilterMatch m = t.matches(key, entry);
    if (templ == "(mail=%s)" && m != FilterMatch::Yes) std::abort();
    std::size_t unsure = 0;
    std::size_t best = most_specific_match(t, {key, domain}, {entry}, true, &unsure);
    if (best > 2 || unsure > best) std::abort();
    return 0;
}
