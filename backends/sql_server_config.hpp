// sql_server_config: the keys of the database-server backends ("type =
// pgsql", "type = mysql"; see rcptguard.conf(5)) and the one function that
// reads and checks them and builds the backend (sql_server_backend.hpp). An
// engine folder declares its table with sql_server_keys() - the same keys
// and defaults, with its own help where the engines differ - and calls
// make_sql_server_backend() with what is its own: the default port, the
// dialect, its connections.
//
// Everything that can be checked without the server is a configuration
// problem ("file:line: key: problem"): the hosts, the queries (placeholders
// bare, never in quotes; one SELECT), a missing or unreadable password_file,
// an unreadable tls_ca_file with tls = require. What only the server can
// tell (a table that does not exist, a wrong password) is found by the probe
// at start and by "rcptguard -n". The password never appears in any message.
// Thread-safety: used while a configuration is built (one thread).
#pragma once

#include <array>
#include <memory>
#include <string>
#include <string_view>

#include "backends/registry.hpp"
#include "backends/sql_server_backend.hpp"
#include "util/config_file.hpp"
#include "util/sql_template.hpp"

namespace rcptguard {

// Debian's bundle of public CAs, as for LDAP.
inline constexpr char kSqlServerDefaultCaFile[] = "/etc/ssl/certs/ca-certificates.crt";

// The help texts in which the engines differ.
struct SqlServerKeyHelp {
    std::string_view hosts;
    std::string_view connect_timeout;
    std::string_view query_timeout;
};

constexpr std::array<KeySpec, 13> sql_server_keys(SqlServerKeyHelp help) {
    return {{
        {"hosts", "", help.hosts},
        {"dbname", "", "the database (required)"},
        {"user", "", "the database user, which needs SELECT only (required)"},
        {"password_file", "", "a file holding the password on its first line (empty: no password)"},
        {"tls", "prefer", "off, prefer (encrypt when offered, no certificate check) or require (verified)"},
        {"tls_ca_file", kSqlServerDefaultCaFile, "the CA certificates the server's certificate is checked against"},
        {"query", "", "the SELECT that finds a recipient; %s the key, %u its local part, %d its domain (required)"},
        {"domain_query", "", "the SELECT that finds a domain (%s or %d), for domains = backend:NAME"},
        {"connect_timeout", "2s", help.connect_timeout},
        {"query_timeout", "2s", help.query_timeout},
        {"pool_size", "16", "connections kept open (1 to 64)"},
        {"retry_after", "2s", "a host that failed is skipped this long (0: always tried)"},
        {"idle_timeout", "5m", "connections unused this long are closed"},
    }};
}

// What an engine brings to its section.
struct SqlServerEngine {
    int default_port;                 // for hosts without one
    std::string_view hosts_required;  // the problem when hosts is empty
    SqlDialect dialect;               // the parameter markers of its queries
    // The backend over the engine's connections (make_pgsql_backend, ...).
    std::shared_ptr<SqlServerBackend> (*make)(std::string name, SqlServerOptions opts);
};

// Reads the section's keys (declared by sql_server_keys()), records every
// problem, and - when there was none - builds and probes the backend.
BuiltBackend make_sql_server_backend(SectionReader& r, const SqlServerEngine& engine);

}  // namespace rcptguard
