// daemon: process-level chores of the milter daemon - who to run as, the pid
// file that also guards against a second instance, detaching, the unix socket's
// owner and mode. Each function throws std::runtime_error with a message fit
// for the admin (and ConfigError where a config key is to blame).
// Thread-safety: called from main() before any thread is started.
#pragma once

#include <sys/types.h>

#include <string>

#include "core/settings.hpp"
#include "util/file_identity.hpp"

namespace rcptguard {

struct Identity {
    bool change = false;  // started as root with "user" set
    uid_t uid = 0;
    gid_t gid = 0;
    std::string user;
    gid_t socket_gid = static_cast<gid_t>(-1);  // -1 = leave as created
};

// Resolves user, group and socket_group; throws ConfigError(s) naming every
// unknown one. rcptguard -n calls it too.
Identity resolve_identity(const Settings& s, const ConfigFile& file);

class PidFile {
public:
    PidFile() = default;
    PidFile(const PidFile&) = delete;
    PidFile& operator=(const PidFile&) = delete;
    ~PidFile();
    // Creates (and locks) the pid file; throws if another instance holds it.
    // Destroyed while held (a failed start), it removes the file.
    void acquire(const std::string& path, const Identity& id);
    void write_pid();
    void remove();

private:
    int fd_ = -1;
    std::string path_;
};

// For unix: sockets: creates the parent directory if needed and refuses to
// take over a socket some live process still listens on.
void prepare_socket_path(const std::string& spec, const Identity& id);
// After smfi_opensocket(): applies socket_mode and the socket group.
void apply_socket_permissions(const std::string& spec, unsigned mode, const Identity& id);

// A unix: (or local:) socket's file, removed at stop only if it is still the
// one this process created (a successor may have replaced it). No-op for
// inet sockets.
class SocketFile {
public:
    // After smfi_opensocket(): remembers which file the socket is.
    void created(const std::string& spec);
    // At stop: removes it if it is still that file.
    void remove() const;

private:
    std::string path_;  // empty: nothing to remove
    FileIdentity id_;
};

// Forks into the background, starts a new session, changes to / and points
// stdin/stdout/stderr at /dev/null. The parent does not exit at once: it
// waits until the daemon reports that it is serving (report_start_success:
// the parent exits 0) or why it could not start (report_start_failure: the
// parent prints the reason on its stderr and exits with the daemon's code).
// So every start failure reaches the terminal (or systemd's journal) whether
// it happens before or after the fork, as many daemons do it.
void daemonize();

// The daemon is serving: a waiting parent exits 0. No-op without daemonize().
void report_start_success();
// The daemon cannot start: text (one or more lines) goes to the waiting
// parent, which prints it and exits with exit_code; before daemonize() it goes
// straight to stderr. Call only when the log does not already write to stderr
// (-f), or the admin reads every line twice.
void report_start_failure(const std::string& text, int exit_code);

void drop_privileges(const Identity& id);

}  // namespace rcptguard
