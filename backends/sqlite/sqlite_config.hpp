// sqlite_config: the "type = sqlite" backend's keys (one table: name,
// default, help) and the function that reads them and builds the backend.
// See rcptguard.conf(5), "SQLite backend".
// Thread-safety: used while a configuration is built (one thread).
#pragma once

#include "backends/registry.hpp"

namespace rcptguard {

extern const BackendType kSqliteBackendType;

}  // namespace rcptguard
