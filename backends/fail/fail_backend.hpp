// fail_backend: a stand-in that answers TempFail to every lookup
// ("type = fail"), like Postfix's fail: table. Useful to drill an outage
// (every recipient of our domains must then get 451 4.3.0, never 550) and as
// the last resort when a real backend cannot be built.
// Thread-safety: stateless.
#pragma once

#include "backends/backend.hpp"

namespace rcptguard {

class FailBackend final : public Backend {
public:
    FailBackend(std::string name, std::string reason) : Backend(std::move(name), "fail"), reason_(std::move(reason)) {}
    LookupResult lookup(std::string_view) const noexcept override {
        try {
            return LookupResult::tempfail(reason_);
        } catch (...) {
            return LookupResult{};  // TempFail with no reason
        }
    }
    bool answers_locally() const noexcept override { return true; }

private:
    std::string reason_;
};

}  // namespace rcptguard
