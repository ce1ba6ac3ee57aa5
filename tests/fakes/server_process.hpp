// server_process: a database server (PostgreSQL, MariaDB) that a unit test
// starts as its own child, in the foreground, with a parent-death signal so
// that even a crashed test binary leaves nothing running (the recipe of
// doc/testing.md, "A throwaway slapd").
//
// When the tests run as root the server runs as its service user (postgres,
// mysql): the child changes its identity first and sets PR_SET_PDEATHSIG
// after that, because Linux clears the death signal when the credentials
// change (prctl(2)). As another user it runs as that user.
// pause() stops the server and every child process (PostgreSQL's backends)
// with SIGSTOP and waits until every thread of each is really stopped - the
// kernel still accepts TCP connections for them: the "hung database" case.
// Thread-safety: drive it from the test's main thread. Errors throw
// std::runtime_error.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

namespace rcptguard::testing {

// A loopback port nothing listened on a moment ago.
int free_loopback_port();
bool loopback_port_open(int port);
// Gives path to user (when root) with the given mode.
void hand_to_user(const std::string& path, const std::string& user, unsigned mode);
// The user the servers run as: `service` when we are root, else ourselves.
bool running_as_root();

class ServerProcess {
public:
    ServerProcess() = default;
    ~ServerProcess();
    ServerProcess(const ServerProcess&) = delete;
    ServerProcess& operator=(const ServerProcess&) = delete;

    // Runs a command to its end as user, output appended to log; throws
    // with the log when it fails.
    static void run(const std::vector<std::string>& argv, const std::string& user, const std::string& log);

    void start(const std::vector<std::string>& argv, const std::string& user, const std::string& log);
    bool running();
    // Sends sig and waits for the exit (SIGKILL for all after grace).
    void stop(int sig, std::chrono::seconds grace);
    void kill_all();  // SIGKILL the server and its children
    void pause();
    void resume();

private:
    std::vector<pid_t> family() const;  // the server and its children
    pid_t pid_ = -1;
    std::vector<pid_t> paused_;
};

}  // namespace rcptguard::testing
