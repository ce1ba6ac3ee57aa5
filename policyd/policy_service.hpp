// policy_service: the Postfix policy delegation listener (policy_socket), a
// second thin door to the same core as the milter.
//
// One I/O thread multiplexes every Postfix connection with epoll, so an idle
// connection costs a file descriptor and a few bytes, never a thread. A request
// whose lookups stay on this host (file, SQLite) is answered by the I/O thread
// itself; one that may wait on another server (LDAP, SQL server, call-ahead,
// Redis) goes to a small pool of workers. A tarpit delay becomes a timer on
// the I/O thread, not a sleeping thread. Each
// connection has at most one request in work at a time, in order.
// A protocol error closes that connection (Postfix then applies
// smtpd_policy_service_default_action and reconnects).
// Thread-safety: start() once; the service runs until the process exits.
#pragma once

#include <string>

#include "core/runtime.hpp"
#include "core/services.hpp"

namespace rcptguard {

// Opens the listening socket for "inet:HOST:PORT" or "unix:PATH" (Postfix's
// notation, as in check_policy_service); unix sockets get mode and group.
// Throws std::runtime_error.
int open_policy_socket(const std::string& spec, unsigned mode, gid_t group);

// Starts the I/O thread and the workers on an open listening socket.
void start_policy_service(int listen_fd, RuntimeHolder& runtimes, Services& services, unsigned workers);

}  // namespace rcptguard
