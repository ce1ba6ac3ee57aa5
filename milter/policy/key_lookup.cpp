// key_lookup: see key_lookup.hpp.
#include "key_lookup.hpp"

namespace rcptguard {

KeyAnswer BackendChain::lookup(std::string_view key) const {
    for (const auto& b : backends_) {
        LookupResult r = b->lookup(key);
        if (r.status == LookupStatus::Found) return {LookupStatus::Found, b->name(), {}};
        if (r.status == LookupStatus::TempFail)
            return {LookupStatus::TempFail, b->name(), std::move(r.reason)};
    }
    return {LookupStatus::NotFound, {}, {}};
}

}  // namespace rcptguard
