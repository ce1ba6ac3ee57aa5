// mysql_config: the "type = mysql" backend's keys (one table: name, default,
// help) and the function that reads and checks them and builds the backend
// (see rcptguard.conf(5), "MariaDB and MySQL backend").
//
// The keys, their checks and the probe at start are those of every database
// server (backends/sql_server_config.hpp); this folder gives the default
// port, the dialect of the queries and its own help texts.
// Thread-safety: used while a configuration is built (one thread).
#pragma once

#include "backends/registry.hpp"

namespace rcptguard {

extern const BackendType kMysqlBackendType;

}  // namespace rcptguard
