// duration: see duration.hpp.
#include "util/duration.hpp"

#include <cstdint>

#include "util/text.hpp"

namespace rcptguard {

std::optional<std::chrono::milliseconds> parse_duration(std::string_view text) {
    text = trim(text);
    std::size_t i = 0;
    std::uint64_t n = 0;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
        n = n * 10 + static_cast<unsigned>(text[i] - '0');
        if (n > 100000000ULL) return std::nullopt;  // > 3 years in seconds: surely a typo
        ++i;
    }
    if (i == 0) return std::nullopt;
    std::string unit = to_lower_ascii(text.substr(i));
    std::uint64_t ms_per;
    if (unit == "ms")
        ms_per = 1;
    else if (unit.empty() || unit == "s")
        ms_per = 1000;
    else if (unit == "m")
        ms_per = 60'000;
    else if (unit == "h")
        ms_per = 3'600'000;
    else if (unit == "d")
        ms_per = 86'400'000;
    else if (unit == "w")
        ms_per = 7 * 86'400'000ULL;
    else
        return std::nullopt;
    return std::chrono::milliseconds(static_cast<std::int64_t>(n * ms_per));
}

std::string format_duration(std::chrono::milliseconds d) {
    std::int64_t ms = d.count();
    std::string sign;
    if (ms < 0) {
        sign = "-";
        ms = -ms;
    }
    if (ms == 0) return "0s";
    if (ms < 1000) return sign + std::to_string(ms) + "ms";
    if (ms < 10'000) {
        std::int64_t tenths = (ms + 50) / 100;
        std::string out = sign + std::to_string(tenths / 10);
        if (tenths % 10) out += "." + std::to_string(tenths % 10);
        return out + "s";
    }
    std::int64_t s = (ms + 500) / 1000;
    struct Unit {
        std::int64_t seconds;
        const char* name;
    };
    std::string out = sign;
    for (Unit u : {Unit{86400, "d"}, Unit{3600, "h"}, Unit{60, "m"}, Unit{1, "s"}}) {
        if (s >= u.seconds) {
            out += std::to_string(s / u.seconds) + u.name;
            s %= u.seconds;
        }
    }
    return out;
}

}  // namespace rcptguard
