// registry: see registry.hpp.
#include "registry.hpp"

#include "fail_backend.hpp"
#include "file_backend.hpp"
#include "ldap_config.hpp"
#include "sqlite_backend.hpp"

namespace rcptguard {

namespace {

BuiltBackend make_file(SectionReader& r, const BackendContext& ctx) {
    std::string path = r.required("path");
    r.finish();
    auto b = std::make_shared<FileBackend>(r.section().name, path, ctx.address);
    std::string problem = b->load();
    if (!problem.empty()) r.fail("path", problem);
    return {b, ""};
}

BuiltBackend make_sqlite(SectionReader& r, const BackendContext&) {
    SqliteOptions o;
    o.path = r.required("path");
    o.query = r.string("query", o.query);
    std::string problem = SqliteBackend::check_query(o.query);
    if (!problem.empty()) r.fail("query", problem);
    o.pool_size = static_cast<int>(r.integer("pool_size", o.pool_size, 1, 64));
    o.busy_timeout =
        r.duration("busy_timeout", o.busy_timeout, std::chrono::milliseconds(0), std::chrono::milliseconds(10'000));
    r.finish();
    auto b = std::make_shared<SqliteBackend>(r.section().name, o);
    return {b, b->probe()};
}

BuiltBackend make_ldap(SectionReader& r, const BackendContext&) {
    LdapOptions o = read_ldap_options(r);  // reads and checks every key, then r.finish()
    auto b = std::make_shared<LdapBackend>(r.section().name, std::move(o));
    return {b, b->probe()};
}

BuiltBackend make_fail(SectionReader& r, const BackendContext&) {
    std::string reason = r.string("reason", "backend configured to fail (type = fail)");
    r.finish();
    return {std::make_shared<FailBackend>(r.section().name, reason), ""};
}

struct TypeEntry {
    const char* name;
    BuiltBackend (*make)(SectionReader&, const BackendContext&);
};

const TypeEntry kTypes[] = {
    {"sqlite", make_sqlite},
    {"file", make_file},
    {"ldap", make_ldap},
    {"fail", make_fail},
};

}  // namespace

BuiltBackend make_backend(SectionReader& r, const BackendContext& ctx) {
    std::string type = r.required("type");
    for (const auto& t : kTypes) {
        if (type == t.name) {
            return t.make(r, ctx);  // each type calls r.finish() before doing any work
        }
    }
    std::string known;
    for (const auto& t : kTypes) known += std::string(known.empty() ? "" : ", ") + t.name;
    r.fail("type", "unknown backend type '" + type + "' (known: " + known + ")");
}

std::vector<std::string> backend_types() {
    std::vector<std::string> out;
    for (const auto& t : kTypes) out.emplace_back(t.name);
    return out;
}

}  // namespace rcptguard
