// fail_config: the "type = fail" stand-in's keys (see fail_backend.hpp).
// Thread-safety: used while a configuration is built (one thread).
#pragma once

#include "backends/registry.hpp"

namespace rcptguard {

extern const BackendType kFailBackendType;

}  // namespace rcptguard
