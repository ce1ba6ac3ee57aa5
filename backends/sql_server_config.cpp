// sql_server_config: see sql_server_config.hpp.
#include "backends/sql_server_config.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "util/log.hpp"
#include "util/secret_file.hpp"

namespace rcptguard {

namespace {

using std::chrono::milliseconds;

bool is_loopback(const ServerAddress& a) {
    return a.socket || a.host == "127.0.0.1" || a.host == "::1" || a.host == "localhost";
}

}  // namespace

BuiltBackend make_sql_server_backend(SectionReader& r, const SqlServerEngine& engine) {
    SqlServerOptions o;
    const std::string& name = r.section().name;
    std::vector<std::string> hosts = r.list("hosts");
    if (hosts.empty()) r.error("hosts", std::string(engine.hosts_required));
    for (const auto& h : hosts) {
        ServerAddress a;
        if (std::string problem = parse_server_address(h, engine.default_port, &a); !problem.empty())
            r.error("hosts", problem);
        else
            o.hosts.push_back(a);
    }
    SqlConnectionSettings& c = o.connection;
    c.dbname = r.required("dbname");
    c.user = r.required("user");
    std::string password_file = r.string("password_file");
    std::string tls = r.choice("tls", {"off", "prefer", "require"});
    c.tls = tls == "off" ? SqlTls::Off : tls == "require" ? SqlTls::Require : SqlTls::Prefer;
    c.tls_ca_file = r.string("tls_ca_file");
    std::string query = r.required("query");
    if (!query.empty())
        if (std::string problem = o.query.parse(query, engine.dialect); !problem.empty()) r.error("query", problem);
    std::string domain_query = r.string("domain_query");
    if (!domain_query.empty())
        if (std::string problem = o.domain_query.parse(domain_query, engine.dialect); !problem.empty())
            r.error("domain_query", problem);
    c.connect_timeout = r.duration("connect_timeout", milliseconds(100), milliseconds(60'000));
    c.query_timeout = r.duration("query_timeout", milliseconds(100), milliseconds(60'000));
    o.pool_size = static_cast<int>(r.integer("pool_size", 1, 64));
    o.retry_after = r.duration("retry_after", milliseconds(0), milliseconds(300'000));
    o.idle_timeout = r.duration("idle_timeout", milliseconds(1000), milliseconds(86'400'000));
    r.finish();

    if (c.tls == SqlTls::Require && access(c.tls_ca_file.c_str(), R_OK) != 0)
        r.error("tls_ca_file", "cannot read " + c.tls_ca_file + ": " + std::strerror(errno));
    if (!password_file.empty()) {
        SecretFile secret = read_secret_file(password_file);
        if (!secret.problem.empty()) r.error("password_file", secret.problem);
        if (!secret.warning.empty()) log_warning("backend " + name + ": password_file " + secret.warning);
        c.password = std::move(secret.secret);
        for (const auto& h : o.hosts)
            if (c.tls == SqlTls::Off && !is_loopback(h))
                log_warning("backend " + name + ": the password goes to " + h.to_string() +
                            " unencrypted: set tls = require (or prefer)");
    }
    if (!r.ok()) return {};
    std::shared_ptr<SqlServerBackend> b = engine.make(name, std::move(o));
    SqlServerBackend::Probe p = b->probe();
    BuiltBackend built{b, p.warning, p.query_problem, {}};
    return built;
}

}  // namespace rcptguard
