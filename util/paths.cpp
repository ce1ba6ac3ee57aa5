// paths: see paths.hpp.
#include "util/paths.hpp"

#include "paths.inc"

namespace rcptguard {

const char* const kDefaultConfigPath = RCPTGUARD_SYSCONFDIR "/rcptguard/rcptguard.conf";

}  // namespace rcptguard
