// domain_set: see domain_set.hpp.
#include "core/recipients/domain_set.hpp"

#include <algorithm>

#include "util/address.hpp"
#include "util/text.hpp"

namespace rcptguard {

bool DomainSet::contains(std::string_view d) const {
    if (d.empty()) return false;
    if (!exact_.empty() && exact_.count(std::string(d))) return true;
    if (parents_.empty()) return false;
    for (auto dot = d.find('.'); dot != std::string_view::npos; dot = d.find('.', dot + 1))
        if (parents_.count(std::string(d.substr(dot + 1)))) return true;
    return false;
}

std::vector<std::string> DomainSet::describe() const {
    std::vector<std::string> out;
    for (const auto& d : exact_) out.push_back(unicode_domain(d));
    for (const auto& p : parents_) out.push_back("." + unicode_domain(p));
    std::sort(out.begin(), out.end());
    return out;
}

std::string build_domain_set(const std::vector<std::string>& entries, DomainSet* out) {
    for (const auto& e : entries) {
        bool parent = !e.empty() && e.front() == '.';
        std::string why;
        std::string d = canonical_domain(parent ? std::string_view(e).substr(1) : std::string_view(e), &why);
        if (d.empty() || d.front() == '[')
            return "'" + printable(e, 80) + "' is not a domain name" + (why.empty() ? "" : " (" + why + ")");
        if (parent)
            out->add_subdomains_of(d);
        else
            out->add_exact(d);
    }
    return "";
}

}  // namespace rcptguard
