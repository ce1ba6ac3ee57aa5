// control_socket: the daemon's unix socket for rcptguard-ctl (bans, unban,
// flush-cache, status; control_socket in rcptguard.conf(5)). This door only
// moves lines: core/control computes every answer.
//
// The socket is created before privileges are dropped, owned by the daemon's
// user and group, mode 0660: root and members of the daemon's group may use
// it. A missing directory is created (mode 0750, the same owner). A path some
// live process still listens on is refused; a stale one (left by a crash) is
// replaced.
//
// Hostile or broken clients cannot hurt the daemon: one thread serves at most
// kMaxClients at once (more are told "busy" and closed), a request is one line
// of at most kMaxRequestBytes, and each client has kClientTimeout in total to
// send it and read the answer; then it is closed.
// Thread-safety: open_control_socket() from main() before threads start;
// start_control_service() once.
#pragma once

#include <sys/types.h>

#include <string>

#include "core/control.hpp"

namespace rcptguard {

// Returns the listening descriptor; throws std::runtime_error for the admin.
int open_control_socket(const std::string& path, uid_t owner, gid_t group);
void start_control_service(int listen_fd, ControlContext ctx);

}  // namespace rcptguard
