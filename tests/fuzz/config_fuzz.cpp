// libFuzzer target: the configuration parser and the global settings reader.
// Any input must end in a valid configuration or a ConfigError that names the
// file - never a crash, hang or other exception.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "core/settings.hpp"
#include "util/config_file.hpp"

using namespace rcptguard;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string text(reinterpret_cast<const char*>(data), size);
    try {
        ConfigFile f = parse_config_text(text, "fuzz.conf");
        Settings s = read_settings(f);
        (void)s;
        for (const auto& sec : f.sections) {
            SectionReader r(f, sec);
            r.list("x", {});
            (void)r.duration("busy_timeout", std::chrono::seconds(1), std::chrono::seconds(0),
                             std::chrono::seconds(10));
        }
    } catch (const ConfigError& e) {
        if (std::string(e.what()).compare(0, 9, "fuzz.conf") != 0) std::abort();
    }
    return 0;
}
