// control: the commands of the daemon's control socket, which rcptguard-ctl
// uses (rcptguard-ctl(8)): bans, unban ADDRESS|PREFIX, flush-cache [ADDRESS],
// status. The door (milter/control_socket) only moves lines; every answer is
// computed here from the running configuration and the tarpit's memory.
//
// Protocol: the client sends one request line (at most kMaxRequestBytes,
// printable ASCII); the answer is "ok" or "error: REASON" on its first line,
// then the lines of the result, then a line holding a single ".". Result
// lines starting with "#" are comments; the lines of "bans" are four fields
// separated by blanks: CLIENT BAD UNTIL HOST (UNTIL as 2026-01-31T12:00:00Z,
// or "-" for a client counted but not banned).
// Thread-safety: control_answer() may run on any thread; it uses only
// thread-safe objects.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "core/runtime.hpp"
#include "core/tarpit/client_state.hpp"

namespace rcptguard {

constexpr std::size_t kMaxRequestBytes = 1024;
constexpr std::size_t kMaxListedClients = 10000;

struct ControlContext {
    const RuntimeHolder* runtime = nullptr;
    ClientState* clients = nullptr;
    std::int64_t started_unix = 0;
    std::function<std::int64_t()> unix_time;  // default: time()
};

// The whole answer to one request line, ending with ".\n".
std::string control_answer(std::string_view request, const ControlContext& ctx);

// "2026-01-31T12:00:00Z".
std::string format_utc(std::int64_t unix_seconds);

// The result lines of "bans" (without "ok" and the final "."), also used by
// rcptguard-ctl when it asks Redis directly.
std::string format_client_records(const std::vector<ClientRecord>& records, std::int64_t now_unix,
                                  const std::string& source, const std::string& note);

}  // namespace rcptguard
