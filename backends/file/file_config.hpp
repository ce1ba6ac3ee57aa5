// file_config: the "type = file" backend's keys and the function that reads
// them and builds the backend. See rcptguard.conf(5), "File backend".
// Thread-safety: used while a configuration is built (one thread).
#pragma once

#include "backends/registry.hpp"

namespace rcptguard {

extern const BackendType kFileBackendType;

}  // namespace rcptguard
