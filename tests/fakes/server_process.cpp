// server_process: see tests/fakes/server_process.hpp.
#include "tests/fakes/server_process.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <stdexcept>
#include <thread>

#include "tests/test_support.hpp"

namespace rcptguard::testing {

namespace {

struct Identity {
    uid_t uid = 0;
    gid_t gid = 0;
    bool change = false;
};

Identity identity_of(const std::string& user) {
    Identity id;
    if (!running_as_root()) return id;
    passwd* pw = getpwnam(user.c_str());
    if (!pw) throw std::runtime_error("server fixture: no user " + user);
    id.uid = pw->pw_uid;
    id.gid = pw->pw_gid;
    id.change = true;
    return id;
}

pid_t spawn(const std::vector<std::string>& args, const std::string& user, const std::string& log) {
    Identity id = identity_of(user);
    std::vector<std::string> copy = args;
    std::vector<char*> argv;
    for (auto& a : copy) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) throw std::runtime_error("server fixture: fork failed");
    if (pid == 0) {
        // Only async-signal-safe calls between fork and exec.
        int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
        if (id.change && (setgid(id.gid) != 0 || setgroups(0, nullptr) != 0 || setuid(id.uid) != 0)) _exit(126);
        prctl(PR_SET_PDEATHSIG, SIGKILL);  // after setuid, which would clear it
        if (getppid() != parent) _exit(127);
        signal(SIGPIPE, SIG_DFL);
        execvp(argv[0], argv.data());
        _exit(127);
    }
    return pid;
}

bool all_threads_stopped(pid_t pid) {
    std::error_code ec;
    std::string task_dir = "/proc/" + std::to_string(pid) + "/task";
    if (!std::filesystem::exists(task_dir, ec)) return true;  // gone
    for (const auto& t : std::filesystem::directory_iterator(task_dir, ec)) {
        std::string stat = read_file(t.path().string() + "/stat");
        std::size_t paren = stat.rfind(')');
        if (paren == std::string::npos || paren + 2 >= stat.size()) return false;
        // Stopped, or a process that was ending anyway (a backend whose
        // client had just left): zombie or dead.
        char state = stat[paren + 2];
        if (state != 'T' && state != 't' && state != 'Z' && state != 'X') return false;
    }
    return !ec;
}

}  // namespace

bool running_as_root() { return geteuid() == 0; }

int free_loopback_port() {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
        if (fd >= 0) close(fd);
        throw std::runtime_error("server fixture: no free port");
    }
    close(fd);
    return ntohs(a.sin_port);
}

bool loopback_port_open(int port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(static_cast<uint16_t>(port));
    bool ok = fd >= 0 && connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    if (fd >= 0) close(fd);
    return ok;
}

void hand_to_user(const std::string& path, const std::string& user, unsigned mode) {
    Identity id = identity_of(user);
    if (id.change && chown(path.c_str(), id.uid, id.gid) != 0)
        throw std::runtime_error("server fixture: cannot chown " + path);
    chmod(path.c_str(), mode);
}

ServerProcess::~ServerProcess() {
    try {
        if (pid_ > 0) kill_all();
    } catch (...) {}
}

void ServerProcess::run(const std::vector<std::string>& argv, const std::string& user, const std::string& log) {
    pid_t pid = spawn(argv, user, log);
    int status = 0;
    waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        throw std::runtime_error("server fixture: " + argv[0] + " failed:\n" + read_file(log));
}

void ServerProcess::start(const std::vector<std::string>& argv, const std::string& user, const std::string& log) {
    if (pid_ > 0) return;
    pid_ = spawn(argv, user, log);
}

bool ServerProcess::running() {
    if (pid_ <= 0) return false;
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return false;
    }
    return true;
}

std::vector<pid_t> ServerProcess::family() const {
    std::vector<pid_t> out;
    if (pid_ <= 0) return out;
    out.push_back(pid_);
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator("/proc", ec)) {
        std::string name = e.path().filename().string();
        if (name.find_first_not_of("0123456789") != std::string::npos) continue;
        std::string stat = read_file(e.path().string() + "/stat");
        std::size_t paren = stat.rfind(')');
        if (paren == std::string::npos || paren + 4 >= stat.size()) continue;
        // ") S PPID ..."
        std::size_t start = paren + 4;
        std::size_t end = stat.find(' ', start);
        if (end == std::string::npos) continue;
        if (std::stol(stat.substr(start, end - start)) == pid_) out.push_back(static_cast<pid_t>(std::stol(name)));
    }
    return out;
}

void ServerProcess::stop(int sig, std::chrono::seconds grace) {
    if (pid_ <= 0) return;
    resume();
    kill(pid_, sig);
    auto deadline = std::chrono::steady_clock::now() + grace;
    int status = 0;
    while (waitpid(pid_, &status, WNOHANG) == 0) {
        if (std::chrono::steady_clock::now() > deadline) {
            kill_all();
            return;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    pid_ = -1;
}

void ServerProcess::kill_all() {
    if (pid_ <= 0) return;
    std::vector<pid_t> all = family();
    resume();
    for (pid_t p : all) kill(p, SIGKILL);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
    // The children (reparented to init) die with SIGKILL; wait until they
    // are gone, so that a restart finds no old shared memory in use.
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    for (pid_t p : all) {
        while (kill(p, 0) == 0 && std::chrono::steady_clock::now() < deadline) {
            std::string stat = read_file("/proc/" + std::to_string(p) + "/stat");
            std::size_t paren = stat.rfind(')');
            if (paren != std::string::npos && paren + 2 < stat.size() && stat[paren + 2] == 'Z') break;
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
    }
}

void ServerProcess::pause() {
    paused_ = family();
    for (pid_t p : paused_) kill(p, SIGSTOP);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    for (pid_t p : paused_)
        while (!all_threads_stopped(p)) {
            if (std::chrono::steady_clock::now() > deadline)
                throw std::runtime_error("server fixture: the server did not stop");
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
}

void ServerProcess::resume() {
    for (pid_t p : paused_) kill(p, SIGCONT);
    paused_.clear();
}

}  // namespace rcptguard::testing
