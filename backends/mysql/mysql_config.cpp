// mysql_config: see mysql_config.hpp.
#include "backends/mysql/mysql_config.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "backends/mysql/mysql_backend.hpp"
#include "util/log.hpp"
#include "util/secret_file.hpp"

namespace rcptguard {

namespace {

using std::chrono::milliseconds;

constexpr int kDefaultPort = 3306;
// Debian's bundle of public CAs, as for LDAP.
constexpr char kDefaultCaFile[] = "/etc/ssl/certs/ca-certificates.crt";

const KeySpec kKeys[] = {
    {"hosts", "", "servers as host[:port] or a socket path, tried in order (required)"},
    {"dbname", "", "the database (required)"},
    {"user", "", "the database user, which needs SELECT only (required)"},
    {"password_file", "", "a file holding the password on its first line (empty: no password)"},
    {"tls", "prefer", "off, prefer (encrypt when offered, no certificate check) or require (verified)"},
    {"tls_ca_file", kDefaultCaFile, "the CA certificates the server's certificate is checked against"},
    {"query", "", "the SELECT that finds a recipient; %s the key, %u its local part, %d its domain (required)"},
    {"domain_query", "", "the SELECT that finds a domain (%s or %d), for domains = backend:NAME"},
    {"connect_timeout", "2s", "per host: connect, TLS and login (whole seconds)"},
    {"query_timeout", "2s", "one lookup (and the wait for a free connection; whole seconds)"},
    {"pool_size", "4", "connections kept open (1 to 64)"},
    {"retry_after", "2s", "a host that failed is skipped this long (0: always tried)"},
    {"idle_timeout", "5m", "connections unused this long are closed"},
};

bool is_loopback(const ServerAddress& a) {
    return a.socket || a.host == "127.0.0.1" || a.host == "::1" || a.host == "localhost";
}

BuiltBackend make(SectionReader& r, const BackendContext&) {
    MysqlOptions o;
    const std::string& name = r.section().name;
    std::vector<std::string> hosts = r.list("hosts");
    if (hosts.empty())
        r.error("hosts", "required: one or more of host, host:port, [v6-address]:port or /path/to/socket");
    for (const auto& h : hosts) {
        ServerAddress a;
        if (std::string problem = parse_server_address(h, kDefaultPort, &a); !problem.empty())
            r.error("hosts", problem);
        else
            o.hosts.push_back(a);
    }
    MysqlConnectionSettings& c = o.connection;
    c.dbname = r.required("dbname");
    c.user = r.required("user");
    std::string password_file = r.string("password_file");
    std::string tls = r.choice("tls", {"off", "prefer", "require"});
    c.tls = tls == "off" ? MysqlTls::Off : tls == "require" ? MysqlTls::Require : MysqlTls::Prefer;
    c.tls_ca_file = r.string("tls_ca_file");
    std::string query = r.required("query");
    if (!query.empty())
        if (std::string problem = o.query.parse(query, SqlDialect::MySql); !problem.empty()) r.error("query", problem);
    std::string domain_query = r.string("domain_query");
    if (!domain_query.empty())
        if (std::string problem = o.domain_query.parse(domain_query, SqlDialect::MySql); !problem.empty())
            r.error("domain_query", problem);
    c.connect_timeout = r.duration("connect_timeout", milliseconds(100), milliseconds(60'000));
    c.query_timeout = r.duration("query_timeout", milliseconds(100), milliseconds(60'000));
    o.pool_size = static_cast<int>(r.integer("pool_size", 1, 64));
    o.retry_after = r.duration("retry_after", milliseconds(0), milliseconds(300'000));
    o.idle_timeout = r.duration("idle_timeout", milliseconds(1000), milliseconds(86'400'000));
    r.finish();

    if (c.tls == MysqlTls::Require && access(c.tls_ca_file.c_str(), R_OK) != 0)
        r.error("tls_ca_file", "cannot read " + c.tls_ca_file + ": " + std::strerror(errno));
    if (!password_file.empty()) {
        SecretFile secret = read_secret_file(password_file);
        if (!secret.problem.empty()) r.error("password_file", secret.problem);
        if (!secret.warning.empty()) log_warning("backend " + name + ": password_file " + secret.warning);
        c.password = std::move(secret.secret);
        for (const auto& h : o.hosts)
            if (c.tls == MysqlTls::Off && !is_loopback(h))
                log_warning("backend " + name + ": the password goes to " + h.to_string() +
                            " unencrypted: set tls = require (or prefer)");
    }
    if (!r.ok()) return {};
    auto b = std::make_shared<MysqlBackend>(name, std::move(o));
    MysqlBackend::Probe p = b->probe();
    BuiltBackend built{b, p.warning, p.query_problem, {}};
    return built;
}

}  // namespace

const BackendType kMysqlBackendType = {
    "mysql", "recipients and domains in MariaDB or MySQL, with the site's own queries", kKeys, make};

}  // namespace rcptguard
