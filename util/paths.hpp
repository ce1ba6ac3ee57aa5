// paths: where rcptguard looks for its configuration by default. The
// directory comes from the build's SYSCONFDIR (Makefile: $(BUILD)/gen/paths.inc,
// rewritten only when it changes), so "make install SYSCONFDIR=/usr/local/etc"
// installs binaries that look where it put the configuration.
// Thread-safety: constants.
#pragma once

namespace rcptguard {

// SYSCONFDIR/rcptguard/rcptguard.conf (SYSCONFDIR is /etc by default).
extern const char* const kDefaultConfigPath;

}  // namespace rcptguard
