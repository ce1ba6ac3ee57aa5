// ldap_config: see ldap_config.hpp.
#include "backends/ldap/ldap_config.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "util/log.hpp"
#include "util/secret_file.hpp"

namespace rcptguard {

namespace {

using std::chrono::milliseconds;

// Debian's bundle of public CAs - what /etc/ldap/ldap.conf points libldap at.
// We do not read ldap.conf (see ldap_global_init), so the default is ours.
constexpr char kDefaultCaFile[] = "/etc/ssl/certs/ca-certificates.crt";

bool is_loopback(const std::string& host) {
    return host == "127.0.0.1" || host == "::1" || host == "localhost" || host.empty();
}

const KeySpec kKeys[] = {
    {"uri", "", "ldap://, ldaps:// or ldapi:// URIs, tried in order (required)"},
    {"base", "", "the search base DN (required)"},
    {"scope", "sub", "base, one or sub"},
    {"filter", "(mail=%s)", "the search filter; %s, %u and %d stand for the key, its local part and its domain"},
    {"bind_dn", "", "the DN to bind as (empty: anonymous)"},
    {"bind_password_file", "", "a file holding the bind password on its first line"},
    {"start_tls", "no", "StartTLS on ldap:// connections"},
    {"tls_verify", "yes", "check the server's certificate and name"},
    {"tls_ca_file", kDefaultCaFile, "the CA certificates to check the server against"},
    {"connect_timeout", "2s", "per URI: connect, TLS handshake and bind"},
    {"search_timeout", "3s", "one search (and the wait for a free connection)"},
    {"pool_size", "4", "connections kept open, and so searches at once (1 to 64)"},
    {"size_limit", "1", "entries the server returns at most per lookup key (0: the server's limit)"},
    {"retry_after", "2s", "a server that failed is skipped this long (0: always tried)"},
    {"idle_timeout", "5m", "connections unused this long are closed"},
};

BuiltBackend make(SectionReader& r, const BackendContext&) {
    LdapOptions o = read_ldap_options(r);
    if (!r.ok()) return {};
    auto b = std::make_shared<LdapBackend>(r.section().name, std::move(o));
    return {b, b->probe()};
}

}  // namespace

const BackendType kLdapBackendType = {"ldap", "recipients in an LDAP directory (OpenLDAP, Active Directory)", kKeys,
                                      make};

LdapOptions read_ldap_options(SectionReader& r) {
    r.declare(kKeys);
    LdapOptions o;
    const std::string& name = r.section().name;
    LdapConnectionSettings& c = o.connection;

    c.uris = r.list("uri");
    if (c.uris.empty()) r.error("uri", "required: one or more of ldap://host, ldaps://host, ldapi://path");
    std::vector<LdapUri> parsed;
    for (const auto& u : c.uris) {
        LdapUri p;
        std::string problem;
        if (!parse_ldap_uri(u, &p, &problem)) r.error("uri", problem);
        parsed.push_back(p);
    }

    o.base = r.required("base");
    std::string problem;
    if (!o.base.empty() && !check_ldap_dn(o.base, &problem)) r.error("base", problem);

    std::string scope = r.choice("scope", {"base", "one", "sub"});
    o.scope = scope == "base" ? LdapScope::Base : scope == "one" ? LdapScope::One : LdapScope::Sub;

    problem = o.filter.parse(r.string("filter"));
    if (!problem.empty()) r.error("filter", problem);

    c.bind_dn = r.string("bind_dn");
    std::string password_file = r.string("bind_password_file");
    if (!c.bind_dn.empty() && !check_ldap_dn(c.bind_dn, &problem)) r.error("bind_dn", problem);
    if (!c.bind_dn.empty() && password_file.empty())
        r.error("bind_password_file", "required with bind_dn (the password is never written in this file)");
    if (c.bind_dn.empty() && !password_file.empty()) r.error("bind_dn", "required with bind_password_file");

    c.start_tls = r.boolean("start_tls");
    c.tls_verify = r.boolean("tls_verify");
    c.tls_ca_file = r.string("tls_ca_file");
    c.connect_timeout = r.duration("connect_timeout", milliseconds(100), milliseconds(60'000));
    c.search_timeout = r.duration("search_timeout", milliseconds(100), milliseconds(60'000));
    o.pool_size = static_cast<int>(r.integer("pool_size", 1, 64));
    o.size_limit = static_cast<int>(r.integer("size_limit", 0, 1'000'000));
    o.retry_after = r.duration("retry_after", milliseconds(0), milliseconds(300'000));
    o.idle_timeout = r.duration("idle_timeout", milliseconds(1000), milliseconds(86'400'000));
    r.finish();

    bool tls = c.start_tls;
    for (const auto& p : parsed) {
        if (p.scheme == "ldaps") tls = true;
        if (p.scheme == "ldaps" && c.start_tls)
            r.error("start_tls", "ldaps:// is TLS from the start: use start_tls only with ldap:// URIs");
    }
    if (tls && c.tls_verify && access(c.tls_ca_file.c_str(), R_OK) != 0)
        r.error("tls_ca_file", "cannot read " + c.tls_ca_file + ": " + std::strerror(errno));
    if (tls && !c.tls_verify)
        log_warning("backend " + name +
                    ": tls_verify = no: the directory's certificate is not checked, "
                    "so anyone in the network path can pose as it");
    if (!password_file.empty()) {
        SecretFile secret = read_secret_file(password_file);
        if (!secret.problem.empty()) r.error("bind_password_file", secret.problem);
        if (!secret.warning.empty()) log_warning("backend " + name + ": bind_password_file " + secret.warning);
        c.bind_password = std::move(secret.secret);
        for (std::size_t i = 0; i < parsed.size(); ++i)
            if (parsed[i].scheme == "ldap" && !c.start_tls && !is_loopback(parsed[i].host))
                log_warning("backend " + name + ": the bind password goes to " + c.uris[i] +
                            " unencrypted: set start_tls = yes or use ldaps://");
    }
    return o;
}

}  // namespace rcptguard
