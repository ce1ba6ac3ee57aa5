// control_client: rcptguard-ctl's side of the daemon's control socket
// (core/control.hpp has the protocol): sends one request line, reads the
// answer up to the line ".", within a total timeout.
// Thread-safety: a plain function.
#pragma once

#include <chrono>
#include <string>

namespace rcptguard {

struct ControlReply {
    bool reached = false;  // false: nobody answered at the socket (see error)
    bool ok = false;       // the daemon said "ok"
    std::string body;      // the lines after the first, without the final "."
    std::string error;     // "error: ..." text, or why the socket could not be used
};

ControlReply ask_daemon(const std::string& socket_path, const std::string& request,
                        std::chrono::milliseconds timeout = std::chrono::milliseconds(15000));

}  // namespace rcptguard
