// key_lookup: see key_lookup.hpp.
#include "core/recipients/backend_chain.hpp"

#include <chrono>
#include <ctime>

namespace rcptguard {

BackendChain::BackendChain(std::vector<BackendPtr> backends, Metrics* metrics) : backends_(std::move(backends)) {
    if (metrics)
        for (const auto& b : backends_) counters_.push_back(&metrics->backend(b->name()));
    for (std::size_t i = 0; i < backends_.size(); ++i) records_.push_back(std::make_unique<Record>());
}

void BackendChain::record(std::size_t i, const LookupResult& r) const {
    Record& rec = *records_[i];
    if (r.status != LookupStatus::TempFail) {
        if (rec.failing.load(std::memory_order_relaxed)) rec.failing.store(false, std::memory_order_relaxed);
        return;
    }
    rec.failing.store(true, std::memory_order_relaxed);
    rec.failures.fetch_add(1, std::memory_order_relaxed);
    std::lock_guard<std::mutex> lock(rec.mutex);
    rec.last_error = r.reason.substr(0, 300);
    rec.last_error_unix = static_cast<std::int64_t>(std::time(nullptr));
}

std::vector<BackendHealth> BackendChain::health() const {
    std::vector<BackendHealth> out;
    for (std::size_t i = 0; i < backends_.size(); ++i) {
        Record& rec = *records_[i];
        BackendHealth h;
        h.name = backends_[i]->name();
        h.type = backends_[i]->type();
        h.failing = rec.failing.load(std::memory_order_relaxed);
        h.failures = rec.failures.load(std::memory_order_relaxed);
        std::lock_guard<std::mutex> lock(rec.mutex);
        h.last_error = rec.last_error;
        h.last_error_unix = rec.last_error_unix;
        out.push_back(std::move(h));
    }
    return out;
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
        }
        record(i, r);
        if (r.status == LookupStatus::Found)
            return {LookupStatus::Found, matched < keys.size() ? keys[matched] : std::string(), b.name(), {}, false};
        if (r.status == LookupStatus::TempFail)
            return {LookupStatus::TempFail, {}, b.name(), std::move(r.reason), false};
    }
    return {LookupStatus::NotFound, {}, {}, {}, false};
}

}  // namespace rcptguard
