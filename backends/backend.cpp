// backend: see backend.hpp.
#include "backends/backend.hpp"

namespace rcptguard {

LookupResult Backend::lookup_any(const std::vector<std::string>& keys, std::size_t* matched) const noexcept {
    for (std::size_t i = 0; i < keys.size(); ++i) {
        LookupResult r = lookup(keys[i]);
        if (r.status == LookupStatus::Found) {
            if (matched) *matched = i;
            return r;
        }
        if (r.status == LookupStatus::TempFail) return r;
    }
    return LookupResult::not_found();
}

LookupResult Backend::lookup_domain(std::string_view) const noexcept {
    try {
        return LookupResult::tempfail("backend " + name() + " has no domain_query");
    } catch (...) {
        return LookupResult::tempfail("out of memory");
    }
}

const char* to_string(LookupStatus s) {
    switch (s) {
        case LookupStatus::Found: return "found";
        case LookupStatus::NotFound: return "not found";
        case LookupStatus::TempFail: return "temporary failure";
    }
    return "temporary failure";
}

}  // namespace rcptguard
