// scan_outcome: where a body scanner stands: still scanning, found what to
// strip, or decided to leave the message unchanged (and why).
// Thread-safety: a value type.
#pragma once

#include <string>

namespace rcptguard::bounce {

struct ScanOutcome {
    enum class State { Scanning, Strip, Unchanged };
    State state = State::Scanning;
    std::string kind;
    std::string reason;            // for Unchanged
    bool could_not_parse = false;  // Unchanged because parsing failed, not by design

    bool decided() const { return state != State::Scanning; }
    void strip(std::string k) {
        state = State::Strip;
        kind = std::move(k);
    }
    void unchanged(std::string k, std::string why, bool parse_failure) {
        state = State::Unchanged;
        kind = std::move(k);
        reason = std::move(why);
        could_not_parse = parse_failure;
    }
};

}  // namespace rcptguard::bounce
