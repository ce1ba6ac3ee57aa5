// bounce_settings: see bounce_settings.hpp.
#include "core/bounce/bounce_settings.hpp"

namespace rcptguard {

BounceSettings read_bounce_settings(SectionReader& r) {
    BounceSettings s;
    s.enabled = r.boolean("strip_bounces", s.enabled);
    std::vector<std::string> sources = r.list("strip_bounce_sources", {"local", "trusted"});
    s.from_local = s.from_trusted = s.from_inbound = false;
    for (const auto& src : sources) {
        if (src == "local")
            s.from_local = true;
        else if (src == "trusted")
            s.from_trusted = true;
        else if (src == "inbound")
            s.from_inbound = true;
        else
            r.error("strip_bounce_sources", "unknown source '" + src + "' (expected local, trusted, inbound)");
    }
    s.max_kept_bytes = static_cast<std::size_t>(
        r.integer("bounce_max_kept_bytes", static_cast<std::int64_t>(s.max_kept_bytes), 64 * 1024, 64 << 20));
    return s;
}

}  // namespace rcptguard
