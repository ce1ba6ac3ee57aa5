// ldap_config: see ldap_config.hpp.
#include "ldap_config.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "../milter/log.hpp"

namespace rcptguard {

namespace {

using std::chrono::milliseconds;

// Debian's bundle of public CAs - what /etc/ldap/ldap.conf points libldap at.
// We do not read ldap.conf (see ldap_global_init), so the default is ours.
constexpr char kDefaultCaFile[] = "/etc/ssl/certs/ca-certificates.crt";

bool is_loopback(const std::string& host) {
    return host == "127.0.0.1" || host == "::1" || host == "localhost" || host.empty();
}

// The secret for bind_dn: the file's first line without its line end. Only
// file name and errno ever reach a message.
std::string read_password_file(SectionReader& r, const std::string& path, const std::string& section) {
    const char* key = "bind_password_file";
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) r.fail(key, "cannot read " + path + ": " + std::strerror(errno));
    struct stat st {};
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        ::close(fd);
        r.fail(key, path + " is not a regular file");
    }
    std::string secret;
    char buf[512];
    ssize_t n;
    while ((n = ::read(fd, buf, sizeof buf)) > 0 && secret.size() < 4096) secret.append(buf, static_cast<size_t>(n));
    int read_errno = errno;
    ::close(fd);
    if (n < 0) r.fail(key, "cannot read " + path + ": " + std::strerror(read_errno));
    std::size_t eol = secret.find_first_of("\r\n");
    if (eol != std::string::npos) {
        if (secret.find_first_not_of("\r\n", eol) != std::string::npos)
            r.fail(key, path + " must hold the password alone on its first line");
        secret.resize(eol);
    }
    // RFC 4513 5.1.2: a DN with an empty password is an unauthenticated
    // bind, which many servers accept as anonymous - never what was meant.
    if (secret.empty()) r.fail(key, path + " is empty");
    if (st.st_mode & (S_IROTH | S_IWOTH))
        log_warning("backend " + section + ": " + key + " " + path +
                    " is accessible to every user: chmod o-rw it (rcptguard needs read access only)");
    return secret;
}

}  // namespace

LdapOptions read_ldap_options(SectionReader& r) {
    LdapOptions o;
    const std::string& name = r.section().name;
    LdapConnectionSettings& c = o.connection;

    c.uris = r.list("uri", {});
    if (c.uris.empty()) r.fail("uri", "required: one or more of ldap://host, ldaps://host, ldapi://path");
    std::vector<LdapUri> parsed;
    for (const auto& u : c.uris) {
        LdapUri p;
        std::string problem;
        if (!parse_ldap_uri(u, &p, &problem)) r.fail("uri", problem);
        parsed.push_back(p);
    }

    o.base = r.required("base");
    std::string problem;
    if (o.base.empty()) r.fail("base", "must not be empty");
    if (!check_ldap_dn(o.base, &problem)) r.fail("base", problem);

    std::string scope = r.choice("scope", "sub", {"base", "one", "sub"});
    o.scope = scope == "base" ? LdapScope::Base : scope == "one" ? LdapScope::One : LdapScope::Sub;

    problem = o.filter.parse(r.string("filter", "(mail=%s)"));
    if (!problem.empty()) r.fail("filter", problem);

    c.bind_dn = r.string("bind_dn", "");
    std::string password_file = r.string("bind_password_file", "");
    if (!c.bind_dn.empty() && !check_ldap_dn(c.bind_dn, &problem)) r.fail("bind_dn", problem);
    if (!c.bind_dn.empty() && password_file.empty())
        r.fail("bind_password_file", "required with bind_dn (the password is never written in this file)");
    if (c.bind_dn.empty() && !password_file.empty()) r.fail("bind_dn", "required with bind_password_file");

    c.start_tls = r.boolean("start_tls", false);
    c.tls_verify = r.boolean("tls_verify", true);
    c.tls_ca_file = r.string("tls_ca_file", kDefaultCaFile);
    c.connect_timeout = r.duration("connect_timeout", c.connect_timeout, milliseconds(100), milliseconds(60'000));
    c.search_timeout = r.duration("search_timeout", c.search_timeout, milliseconds(100), milliseconds(60'000));
    o.pool_size = static_cast<int>(r.integer("pool_size", o.pool_size, 1, 64));
    o.size_limit = static_cast<int>(r.integer("size_limit", o.size_limit, 0, 1'000'000));
    o.retry_after = r.duration("retry_after", o.retry_after, milliseconds(0), milliseconds(300'000));
    r.finish();

    bool tls = c.start_tls;
    for (const auto& p : parsed) {
        if (p.scheme == "ldaps") tls = true;
        if (p.scheme == "ldaps" && c.start_tls)
            r.fail("start_tls", "ldaps:// is TLS from the start: use start_tls only with ldap:// URIs");
    }
    if (tls && c.tls_verify && access(c.tls_ca_file.c_str(), R_OK) != 0)
        r.fail("tls_ca_file", "cannot read " + c.tls_ca_file + ": " + std::strerror(errno));
    if (tls && !c.tls_verify)
        log_warning("backend " + name +
                    ": tls_verify = no: the directory's certificate is not checked, "
                    "so anyone in the network path can pose as it");
    if (!password_file.empty()) {
        c.bind_password = read_password_file(r, password_file, name);
        for (std::size_t i = 0; i < parsed.size(); ++i)
            if (parsed[i].scheme == "ldap" && !c.start_tls && !is_loopback(parsed[i].host))
                log_warning("backend " + name + ": the bind password goes to " + c.uris[i] +
                            " unencrypted: set start_tls = yes or use ldaps://");
    }
    return o;
}

}  // namespace rcptguard
