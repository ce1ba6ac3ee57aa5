// fake_backend: a Backend for unit tests, answering from a map and counting
// calls. Keys not in the map answer NotFound; keys in `failing` answer
// TempFail; keys added with add_unverified() answer an unverified Found (as
// a call-ahead backend does for a downstream that accepts everything).
// With domains added (add_domain) it also has a "domain_query": domains in
// its set are Found, others NotFound, everything TempFail while
// fail_domains(true); domain lookups are counted separately.
#pragma once

#include <atomic>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "backends/backend.hpp"

namespace rcptguard::testing {

class FakeBackend final : public Backend {
public:
    explicit FakeBackend(std::string name) : Backend(std::move(name), "fake") {}

    void add(const std::string& key) {
        std::lock_guard<std::mutex> l(m_);
        found_.insert(key);
    }
    void add_unverified(const std::string& key) {
        std::lock_guard<std::mutex> l(m_);
        unverified_.insert(key);
    }
    void fail(const std::string& key) {
        std::lock_guard<std::mutex> l(m_);
        failing_.insert(key);
    }
    void fail_everything(bool yes) { fail_all_ = yes; }
    void add_domain(const std::string& d) {
        std::lock_guard<std::mutex> l(m_);
        domains_.insert(d);
        answers_domains_ = true;
    }
    void fail_domains(bool yes) { fail_domains_ = yes; }
    // As if it were a store on this host (file, SQLite).
    void set_local(bool yes) { local_ = yes; }
    bool answers_locally() const noexcept override { return local_; }

    bool answers_domains() const noexcept override { return answers_domains_; }
    LookupResult lookup_domain(std::string_view domain) const noexcept override {
        std::lock_guard<std::mutex> l(m_);
        domain_calls_.emplace_back(domain);
        if (fail_domains_) return LookupResult::tempfail("fake domain outage");
        return domains_.count(std::string(domain)) ? LookupResult::found() : LookupResult::not_found();
    }
    std::vector<std::string> domain_calls() const {
        std::lock_guard<std::mutex> l(m_);
        return domain_calls_;
    }

    LookupResult lookup(std::string_view key) const noexcept override {
        std::lock_guard<std::mutex> l(m_);
        calls_.emplace_back(key);
        if (fail_all_ || failing_.count(std::string(key))) return LookupResult::tempfail("fake outage");
        if (unverified_.count(std::string(key))) return LookupResult::found_unverified("fake: accepts everything");
        return found_.count(std::string(key)) ? LookupResult::found() : LookupResult::not_found();
    }

    std::vector<std::string> calls() const {
        std::lock_guard<std::mutex> l(m_);
        return calls_;
    }

private:
    mutable std::mutex m_;
    std::set<std::string> found_;
    std::set<std::string> failing_;
    std::set<std::string> unverified_;
    std::atomic<bool> fail_all_{false};
    std::atomic<bool> fail_domains_{false};
    std::atomic<bool> answers_domains_{false};
    std::atomic<bool> local_{false};
    std::set<std::string> domains_;
    mutable std::vector<std::string> calls_;
    mutable std::vector<std::string> domain_calls_;
};

}  // namespace rcptguard::testing
