// key_lookup: see key_lookup.hpp.
#include "core/recipients/backend_chain.hpp"

#include <chrono>

namespace rcptguard {

BackendChain::BackendChain(std::vector<BackendPtr> backends, Metrics* metrics) : backends_(std::move(backends)) {
    if (metrics)
        for (const auto& b : backends_) counters_.push_back(&metrics->backend(b->name()));
}

KeyAnswer BackendChain::lookup(const std::vector<std::string>& keys) const {
    for (std::size_t i = 0; i < backends_.size(); ++i) {
        const Backend& b = *backends_[i];
        auto t0 = std::chrono::steady_clock::now();
        std::size_t matched = 0;
        LookupResult r = b.lookup_any(keys, &matched);
        if (!counters_.empty()) {
            BackendCounters& c = *counters_[i];
            auto us = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0);
            bump(c.lookup_micros, static_cast<std::uint64_t>(us.count()));
            bump(r.status == LookupStatus::Found      ? c.found
                 : r.status == LookupStatus::NotFound ? c.not_found
                                                      : c.tempfail);
            if (r.status == LookupStatus::TempFail)
                c.note_failure(r.reason, std::chrono::duration_cast<std::chrono::seconds>(
                                             std::chrono::system_clock::now().time_since_epoch())
                                             .count());
        }
        if (r.status == LookupStatus::Found)
            return {LookupStatus::Found, matched < keys.size() ? keys[matched] : std::string(), b.name(), {}, false};
        if (r.status == LookupStatus::TempFail)
            return {LookupStatus::TempFail, {}, b.name(), std::move(r.reason), false};
    }
    return {LookupStatus::NotFound, {}, {}, {}, false};
}

}  // namespace rcptguard
