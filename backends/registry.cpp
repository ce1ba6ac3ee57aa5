// registry: see registry.hpp.
#include "backends/registry.hpp"

#include "backends/fail/fail_config.hpp"
#include "backends/file/file_config.hpp"
#include "backends/ldap/ldap_config.hpp"
#include "backends/smtp/smtp_config.hpp"
#include "backends/sqlite/sqlite_config.hpp"

namespace rcptguard {

const std::vector<const BackendType*>& backend_types() {
    static const std::vector<const BackendType*> types = {
        &kSqliteBackendType, &kFileBackendType, &kLdapBackendType, &kSmtpBackendType, &kFailBackendType,
    };
    return types;
}

const BackendType* find_backend_type(std::string_view name) {
    for (const BackendType* t : backend_types())
        if (t->name == name) return t;
    return nullptr;
}

BuiltBackend make_backend(SectionReader& r, const BackendContext& ctx) {
    std::string type = r.required("type");
    if (type.empty()) return {};
    const BackendType* t = find_backend_type(type);
    if (!t) {
        std::string known;
        for (const BackendType* k : backend_types())
            known += std::string(known.empty() ? "" : ", ") + std::string(k->name);
        r.error("type", "unknown backend type '" + type + "' (known: " + known + ")");
        return {};
    }
    r.declare(t->keys);
    return t->make(r, ctx);
}

}  // namespace rcptguard
