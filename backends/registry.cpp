// registry: see registry.hpp.
#include "backends/registry.hpp"

#include "backends/fail/fail_config.hpp"
#include "backends/file/file_config.hpp"
#include "backends/ldap/ldap_config.hpp"
#include "backends/mysql/mysql_config.hpp"
#include "backends/pgsql/pgsql_config.hpp"
#include "backends/smtp/smtp_config.hpp"
#include "backends/sqlite/sqlite_config.hpp"
#include "util/text.hpp"

namespace rcptguard {

const std::vector<const BackendType*>& backend_types() {
    static const std::vector<const BackendType*> types = {
        &kSqliteBackendType, &kPgsqlBackendType, &kMysqlBackendType, &kFileBackendType,
        &kLdapBackendType,   &kSmtpBackendType,  &kFailBackendType,
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
    // Read before the type's own keys are declared, so every type accepts it.
    std::vector<std::string> domains = r.list("domains", {});
    for (const std::string& d : domains) {
        bool parent = !d.empty() && d.front() == '.';
        std::string c = canonical_domain(parent ? std::string_view(d).substr(1) : std::string_view(d));
        if (c.empty() || c.front() == '[')
            r.error("domains", "'" + printable(d, 80) + "' is not a domain name (write example.com or .example.com)");
    }
    r.declare(t->keys);
    BuiltBackend b = t->make(r, ctx);
    b.domains = std::move(domains);
    return b;
}

}  // namespace rcptguard
