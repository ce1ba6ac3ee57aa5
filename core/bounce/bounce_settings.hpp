// bounce_settings: which bounces rcptguard strips (strip_bounces,
// strip_bounce_sources) and the buffering cap (bounce_max_kept_bytes); see
// rcptguard.conf(5), "BOUNCE STRIPPING".
// Thread-safety: immutable once read.
#pragma once

#include <cstddef>

#include "util/config_file.hpp"

namespace rcptguard {

struct BounceSettings {
    bool enabled = true;                   // strip_bounces
    bool from_local = true;                // bounces the MTA generated itself (non-SMTP path)
    bool from_trusted = true;              // relayed from trusted_networks or authenticated clients
    bool from_inbound = false;             // arriving from anyone else, for our users
    std::size_t max_kept_bytes = 1 << 20;  // bounce_max_kept_bytes
};

BounceSettings read_bounce_settings(SectionReader& r);

}  // namespace rcptguard
