// duration: the one parser and the one formatter for time spans, used by the
// configuration ("500ms", "5s", "10m", "1h", "7d", "2w") and by every log
// line and message that prints a duration ("59m56s", "53s", "1.5s", "400ms":
// as an admin writes them, never "3595998ms").
// Thread-safety: pure functions.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace rcptguard {

// "500ms", "5s", "10m", "1h", "7d", "2w"; a bare number means seconds.
// nullopt for anything else (or more than about three years).
std::optional<std::chrono::milliseconds> parse_duration(std::string_view text);

// Under a second: "400ms". Under ten seconds: tenths ("1.5s", "2s"). From ten
// seconds on: whole seconds in units, largest first ("59m56s", "1h", "2d3h").
std::string format_duration(std::chrono::milliseconds d);

// The same for any std::chrono duration (steady_clock differences, say).
template <typename Rep, typename Period>
std::string format_duration(std::chrono::duration<Rep, Period> d) {
    return format_duration(std::chrono::duration_cast<std::chrono::milliseconds>(d));
}

}  // namespace rcptguard
