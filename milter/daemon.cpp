// daemon: see daemon.hpp.
#include "milter/daemon.hpp"

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string_view>

#include "util/file_identity.hpp"
#include "util/socket_spec.hpp"

namespace rcptguard {

namespace {

std::runtime_error sys_error(const std::string& what) { return std::runtime_error(what + ": " + std::strerror(errno)); }

std::string unix_path(const std::string& spec) {
    for (const char* p : {"unix:", "local:"})
        if (spec.compare(0, std::strlen(p), p) == 0) return spec.substr(std::strlen(p));
    return "";
}

std::string parent_dir(const std::string& path) {
    auto slash = path.rfind('/');
    if (slash == std::string::npos || slash == 0) return "/";
    return path.substr(0, slash);
}

bool lookup_group(const std::string& name, gid_t* gid) {
    struct group grp, *res = nullptr;
    char buf[16384];
    if (getgrnam_r(name.c_str(), &grp, buf, sizeof buf, &res) != 0 || !res) return false;
    *gid = res->gr_gid;
    return true;
}

}  // namespace

Identity resolve_identity(const Settings& s, const ConfigFile& file) {
    Identity id;
    id.uid = geteuid();
    id.gid = getegid();
    auto line_of = [&](const std::string& key) {
        for (const auto& v : file.global.values)
            if (v.key == key) return v.line;
        return 0;
    };
    // Every unknown name at once, in file order, like the other problems.
    std::vector<ConfigError> problems;
    auto problem = [&](const std::string& key, const std::string& text) {
        problems.emplace_back(file.path, line_of(key), key, text);
    };
    if (!s.user.empty()) {
        struct passwd pw, *res = nullptr;
        char buf[16384];
        if (getpwnam_r(s.user.c_str(), &pw, buf, sizeof buf, &res) != 0 || !res)
            problem("user", "no such user '" + s.user + "' (create it, e.g. adduser --system --group " + s.user + ")");
        else if (geteuid() == 0) {
            id.change = true;
            id.uid = res->pw_uid;
            id.gid = res->pw_gid;
            id.user = s.user;
        }
    }
    if (!s.group.empty()) {
        gid_t g;
        if (!lookup_group(s.group, &g))
            problem("group", "no such group '" + s.group + "'");
        else if (id.change)
            id.gid = g;
    }
    if (!s.socket_group.empty()) {
        gid_t g;
        if (!lookup_group(s.socket_group, &g))
            problem("socket_group", "no such group '" + s.socket_group + "'");
        else
            id.socket_gid = g;
    } else if (id.change) {
        id.socket_gid = id.gid;
    }
    std::stable_sort(problems.begin(), problems.end(),
                     [](const ConfigError& a, const ConfigError& b) { return a.line() < b.line(); });
    if (problems.size() == 1) throw problems.front();
    if (!problems.empty()) throw ConfigErrors(std::move(problems));
    return id;
}

PidFile::~PidFile() {
    // Reached only when the start failed (a running daemon leaves with _exit):
    // a pid file naming no running rcptguard would only mislead.
    remove();
}

void PidFile::acquire(const std::string& path, const Identity& id) {
    std::string dir = parent_dir(path);
    struct stat st;
    if (stat(dir.c_str(), &st) != 0) {
        if (mkdir(dir.c_str(), 0755) != 0) throw sys_error("cannot create pid file directory " + dir);
        if (id.change && chown(dir.c_str(), id.uid, id.gid) != 0)
            throw sys_error("cannot hand pid file directory " + dir + " to " + id.user);
    }
    int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0) throw sys_error("cannot open pid file " + path);
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        char buf[32] = {0};
        ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
        close(fd);
        std::string pid = n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : "?";
        while (!pid.empty() && (pid.back() == '\n' || pid.back() == ' ')) pid.pop_back();
        throw std::runtime_error("another rcptguard is running (pid " + pid + ", pid file " + path + ")");
    }
    fd_ = fd;
    path_ = path;
}

void PidFile::write_pid() {
    if (fd_ < 0) return;
    std::string text = std::to_string(getpid()) + "\n";
    if (ftruncate(fd_, 0) != 0 || pwrite(fd_, text.data(), text.size(), 0) != static_cast<ssize_t>(text.size()))
        throw sys_error("cannot write pid file " + path_);
}

void PidFile::remove() {
    if (fd_ < 0) return;
    unlink(path_.c_str());  // best effort: the directory may not be ours any more
    close(fd_);
    fd_ = -1;
}

void prepare_socket_path(const std::string& spec, const Identity& id) {
    std::string path = unix_path(spec);
    if (path.empty()) return;
    std::string dir = parent_dir(path);
    struct stat st;
    if (stat(dir.c_str(), &st) != 0) {
        if (mkdir(dir.c_str(), 0750) != 0) throw sys_error("cannot create socket directory " + dir);
        gid_t g = id.socket_gid != static_cast<gid_t>(-1) ? id.socket_gid : id.gid;
        if (chown(dir.c_str(), id.change ? id.uid : static_cast<uid_t>(-1), g) != 0)
            throw sys_error("cannot set the owner of socket directory " + dir);
    }
    unix_socket_path_is_stale(path);  // libmilter removes a stale one itself (smfi_opensocket)
}

void SocketFile::created(const std::string& spec) {
    std::string path = unix_path(spec);
    if (!path.empty() && stat_identity(path, &id_)) path_ = path;
}

void SocketFile::remove() const {
    FileIdentity now;
    if (!path_.empty() && stat_identity(path_, &now) && now.same_file(id_)) unlink(path_.c_str());
}

void apply_socket_permissions(const std::string& spec, unsigned mode, const Identity& id) {
    std::string path = unix_path(spec);
    if (path.empty()) return;
    if (id.socket_gid != static_cast<gid_t>(-1) || id.change) {
        if (chown(path.c_str(), id.change ? id.uid : static_cast<uid_t>(-1), id.socket_gid) != 0)
            throw sys_error("cannot set the owner of socket " + path);
    }
    if (chmod(path.c_str(), mode) != 0) throw sys_error("cannot set the mode of socket " + path);
}

namespace {

// The daemon's end of the start-up pipe (-1: not detached, or already reported).
int g_start_report_fd = -1;

void write_all(int fd, std::string_view text) {
    while (!text.empty()) {
        ssize_t n = write(fd, text.data(), text.size());
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return;
        text.remove_prefix(static_cast<std::size_t>(n));
    }
}

// The parent after fork(): read the daemon's report ("...lines...\nexit N\n")
// until the daemon closes its end, then leave with its verdict.
[[noreturn]] void wait_for_start_report(int fd, pid_t child) {
    std::string report;
    char buf[4096];
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        report.append(buf, static_cast<std::size_t>(n));
    }
    auto last = report.rfind("exit ");
    if (last != std::string::npos && (last == 0 || report[last - 1] == '\n')) {
        int code = std::atoi(report.c_str() + last + 5);
        write_all(STDERR_FILENO, std::string_view(report).substr(0, last));
        _exit(code);
    }
    // No verdict: the daemon died before it could give one.
    int status = 0;
    std::string why = "exited during start-up";
    if (waitpid(child, &status, 0) == child) {
        if (WIFSIGNALED(status))
            why = "was killed by signal " + std::to_string(WTERMSIG(status)) + " during start-up";
        else if (WIFEXITED(status))
            why = "exited with status " + std::to_string(WEXITSTATUS(status)) + " during start-up";
    }
    write_all(STDERR_FILENO, report + "rcptguard: the daemon " + why + " (see the mail log)\n");
    _exit(70);
}

}  // namespace

void report_start_success() {
    if (g_start_report_fd < 0) return;
    write_all(g_start_report_fd, "exit 0\n");
    close(g_start_report_fd);
    g_start_report_fd = -1;
}

void report_start_failure(const std::string& text, int exit_code) {
    std::string out = text;
    if (!out.empty() && out.back() != '\n') out += "\n";
    if (g_start_report_fd < 0) {
        write_all(STDERR_FILENO, out);
        return;
    }
    write_all(g_start_report_fd, out + "exit " + std::to_string(exit_code) + "\n");
    close(g_start_report_fd);
    g_start_report_fd = -1;
}

void daemonize() {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) throw sys_error("pipe");
    pid_t pid = fork();
    if (pid < 0) throw sys_error("fork");
    if (pid > 0) {
        close(fds[1]);
        wait_for_start_report(fds[0], pid);
    }
    close(fds[0]);
    g_start_report_fd = fds[1];
    if (setsid() < 0) throw sys_error("setsid");
    if (chdir("/") != 0) throw sys_error("chdir /");
    int fd = open("/dev/null", O_RDWR);
    if (fd < 0) throw sys_error("open /dev/null");
    dup2(fd, STDIN_FILENO);
    dup2(fd, STDOUT_FILENO);
    dup2(fd, STDERR_FILENO);
    if (fd > STDERR_FILENO) close(fd);
}

void drop_privileges(const Identity& id) {
    if (!id.change) return;
    if (initgroups(id.user.c_str(), id.gid) != 0) throw sys_error("initgroups " + id.user);
    if (setgid(id.gid) != 0) throw sys_error("setgid");
    if (setuid(id.uid) != 0) throw sys_error("setuid " + id.user);
    if (id.uid != 0 && setuid(0) == 0) throw std::runtime_error("could regain root after dropping privileges");
}

}  // namespace rcptguard
