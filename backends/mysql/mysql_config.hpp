// mysql_config: the "type = mysql" backend's keys (one table: name, default,
// help) and the function that reads and checks them and builds the backend
// (see rcptguard.conf(5), "MariaDB and MySQL backend").
//
// Everything that can be checked without the server is a configuration
// problem ("file:line: key: problem"): the hosts, the queries (placeholders
// bare, never in quotes; one SELECT), a missing or unreadable password_file,
// an unreadable tls_ca_file with tls = require. What only the server can
// tell (a table that does not exist, a wrong password) is found by the probe
// at start and by "rcptguard -n". The password never appears in any message.
// Thread-safety: used while a configuration is built (one thread).
#pragma once

#include "backends/registry.hpp"

namespace rcptguard {

extern const BackendType kMysqlBackendType;

}  // namespace rcptguard
