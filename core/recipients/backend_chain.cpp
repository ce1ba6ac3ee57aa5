// backend_chain: see backend_chain.hpp.
#include "core/recipients/backend_chain.hpp"

#include <chrono>
#include <ctime>

namespace rcptguard {

namespace {

// A backend seen through its domain_query.
class DomainQueryView final : public Backend {
public:
    explicit DomainQueryView(BackendPtr b) : Backend(b->name(), b->type()), backend_(std::move(b)) {}
    LookupResult lookup(std::string_view domain) const noexcept override { return backend_->lookup_domain(domain); }
    unsigned long generation() const noexcept override { return backend_->generation(); }
    bool answers_locally() const noexcept override { return backend_->answers_locally(); }

private:
    BackendPtr backend_;
};

std::int64_t unix_now() { return static_cast<std::int64_t>(std::time(nullptr)); }

}  // namespace

BackendPtr domain_query_view(BackendPtr backend) { return std::make_shared<DomainQueryView>(std::move(backend)); }

BackendChain::BackendChain(std::vector<BackendPtr> backends, Metrics* metrics)
    : BackendChain(std::move(backends), {}, metrics) {}

BackendChain::BackendChain(std::vector<BackendPtr> backends, std::vector<DomainSet> scopes, Metrics* metrics)
    : backends_(std::move(backends)), scopes_(std::move(scopes)) {
    for (const auto& b : backends_) {
        if (metrics) {
            counters_.push_back(&metrics->backend(b->name()));
        } else {
            owned_.push_back(std::make_unique<BackendCounters>());
            counters_.push_back(owned_.back().get());
        }
        tempfails_at_start_.push_back(counters_.back()->tempfail.load(std::memory_order_relaxed));
        local_ = local_ && b->answers_locally();
    }
}

std::optional<KeyAnswer> BackendChain::lookup_at_once(const std::vector<std::string>& keys) const {
    if (!local_) return std::nullopt;
    return lookup(keys);
}

std::vector<BackendHealth> BackendChain::health() const {
    std::vector<BackendHealth> out;
    for (std::size_t i = 0; i < backends_.size(); ++i) {
        const BackendCounters& c = *counters_[i];
        BackendHealth h;
        h.name = backends_[i]->name();
        h.type = backends_[i]->type();
        h.failures = c.tempfail.load(std::memory_order_relaxed) - tempfails_at_start_[i];
        h.last_failure = c.last_failure();
        out.push_back(std::move(h));
    }
    return out;
}

KeyAnswer BackendChain::lookup(const std::vector<std::string>& keys) const {
    std::string_view domain;
    if (!keys.empty() && keys.front().rfind('@') != std::string::npos)
        domain = std::string_view(keys.front()).substr(keys.front().rfind('@') + 1);
    bool asked = false;
    for (std::size_t i = 0; i < backends_.size(); ++i) {
        const Backend& b = *backends_[i];
        if (i < scopes_.size() && !scopes_[i].empty() && !scopes_[i].contains(domain)) continue;
        asked = true;
        auto t0 = std::chrono::steady_clock::now();
        std::size_t matched = 0;
        LookupResult r = b.lookup_any(keys, &matched);
        BackendCounters& c = *counters_[i];
        auto us = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0);
        bump(c.lookup_micros, static_cast<std::uint64_t>(us.count()));
        bump(r.status == LookupStatus::Found ? c.found : r.status == LookupStatus::NotFound ? c.not_found : c.tempfail);
        if (r.unverified) bump(c.unverified);
        if (r.status == LookupStatus::TempFail)
            c.note_failure(r.reason, unix_now());
        else if (c.failing())
            c.note_recovery(unix_now());
        if (r.status == LookupStatus::Found)
            return {LookupStatus::Found, matched < keys.size() ? keys[matched] : std::string(), b.name(), {}, false};
        if (r.status == LookupStatus::TempFail)
            return {LookupStatus::TempFail, {}, b.name(), std::move(r.reason), false};
    }
    if (!asked && !backends_.empty())
        return {
            LookupStatus::TempFail,
            {},
            "(none)",
            "no backend is asked about domain " + std::string(domain) + ": the 'domains' of every backend leave it out",
            false};
    return {LookupStatus::NotFound, {}, {}, {}, false};
}

}  // namespace rcptguard
