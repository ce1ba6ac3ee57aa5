// socket_spec: the listening-socket notations rcptguard accepts and the checks
// shared by both doors.
// - Milter sockets use libmilter's notation: unix:PATH (or local:PATH),
//   inet:PORT@HOST, inet6:PORT@HOST (smfi_setconn(3)).
// - The policy service uses Postfix's notation, as written in
//   check_policy_service: inet:ADDRESS:PORT or unix:PATH.
// Checks return "" or the problem, worded for "file:line: key: problem".
// Thread-safety: pure functions, except unix_socket_path_is_stale, which
// looks at the file system.
#pragma once

#include <stdexcept>
#include <string>

namespace rcptguard {

std::string check_milter_socket_spec(const std::string& spec);
std::string check_policy_socket_spec(const std::string& spec);

// For a unix socket path: false if nothing is there; true if a stale socket
// is (left by a crash: safe to remove); throws std::runtime_error if the path
// is not a socket or a live process still listens on it.
bool unix_socket_path_is_stale(const std::string& path);

// Why a listener could not be opened, found by trying it once more the way
// libmilter (or cpp-httplib) does: "Address already in use", "Permission
// denied", ... or "" when the retry worked (then nothing is left open).
// libmilter and cpp-httplib only say that they failed; the admin needs the
// reason on the terminal.
std::string milter_listen_problem(const std::string& spec);
std::string tcp_listen_problem(const std::string& host, int port);

// "what: strerror(errno)" as an exception, for socket and file calls.
std::runtime_error system_error_now(const std::string& what);

}  // namespace rcptguard
