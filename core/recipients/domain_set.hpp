// domain_set: the domains rcptguard is authoritative for ("domains" key).
// An entry "example.com" matches that domain only; ".example.com" matches every
// subdomain of example.com (Postfix's parent-domain notation); list both to
// cover a domain and its subdomains. Entries and the domains asked about are
// in canonical form (util/address.hpp: A-labels), so an internationalised
// domain listed once, in either form, matches recipients written in either.
// Thread-safety: immutable after construction.
#pragma once

#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

namespace rcptguard {

class DomainSet {
public:
    DomainSet() = default;
    // Entries must already be canonical (see canonical_domain()).
    void add_exact(std::string domain) { exact_.insert(std::move(domain)); }
    void add_subdomains_of(std::string parent) { parents_.insert(std::move(parent)); }

    bool contains(std::string_view canonical_domain) const;
    bool empty() const { return exact_.empty() && parents_.empty(); }
    std::vector<std::string> describe() const;  // U-label forms, sorted

private:
    std::unordered_set<std::string> exact_;
    std::unordered_set<std::string> parents_;
};

// Builds a DomainSet from config entries; returns "" on success, else the
// problem with the first bad entry.
std::string build_domain_set(const std::vector<std::string>& entries, DomainSet* out);

}  // namespace rcptguard
