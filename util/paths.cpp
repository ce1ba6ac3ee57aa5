// paths: where rcptguard looks for its configuration by default. The
// directory comes from the build's SYSCONFDIR (Makefile: $(BUILD)/gen/paths.inc,
// rewritten only when it changes), so "make install SYSCONFDIR=/usr/local/etc"
// installs binaries that look where it put the configuration.
#include "paths.inc"
#include "settings.hpp"

namespace rcptguard {

const char* const kDefaultConfigPath = RCPTGUARD_SYSCONFDIR "/rcptguard/rcptguard.conf";

}  // namespace rcptguard
