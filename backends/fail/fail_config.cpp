// fail_config: see fail_config.hpp.
#include "backends/fail/fail_config.hpp"

#include "backends/fail/fail_backend.hpp"

namespace rcptguard {

namespace {

const KeySpec kKeys[] = {
    {"reason", "backend configured to fail (type = fail)", "the reason logged with every temporary failure"},
};

BuiltBackend make(SectionReader& r, const BackendContext&) {
    std::string reason = r.string("reason");
    r.finish();
    if (!r.ok()) return {};
    return {std::make_shared<FailBackend>(r.section().name, reason), ""};
}

}  // namespace

const BackendType kFailBackendType = {"fail", "answers temporary failure to every lookup (outage drills)", kKeys, make};

}  // namespace rcptguard
