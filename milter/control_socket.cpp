// control_socket: see control_socket.hpp.
#include "milter/control_socket.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>
#include <vector>

#include "util/log.hpp"
#include "util/socket_spec.hpp"
#include "util/unique_fd.hpp"

namespace rcptguard {

namespace {

constexpr std::size_t kMaxClients = 16;
constexpr std::chrono::seconds kClientTimeout{10};
constexpr std::chrono::seconds kBusyTimeout{2};

struct Client {
    UniqueFd fd;
    std::string in;
    std::string out;
    std::size_t sent = 0;
    bool answered = false;
    bool draining = false;  // answer sent and write side shut: reading what is left until the client hangs up
    bool busy = false;      // turned away: too many clients
    std::chrono::steady_clock::time_point deadline;
};

class ControlService {
public:
    ControlService(int fd, ControlContext ctx) : listen_fd_(fd), ctx_(std::move(ctx)) {}

    [[noreturn]] void run() {
        for (;;) {
            std::vector<pollfd> fds;
            fds.push_back(pollfd{listen_fd_.get(), POLLIN, 0});
            for (auto& c : clients_)
                fds.push_back(pollfd{c.fd.get(), static_cast<short>(c.answered ? POLLOUT : POLLIN), 0});
            int n = ::poll(fds.data(), fds.size(), 1000);
            if (n < 0 && errno != EINTR) {
                log_error(std::string("control socket: poll: ") + std::strerror(errno));
                std::this_thread::sleep_for(std::chrono::seconds(1));
                continue;
            }
            auto now = std::chrono::steady_clock::now();
            for (std::size_t i = 1; i < fds.size(); ++i)
                if (fds[i].revents) serve(clients_[i - 1], fds[i].revents);
            std::erase_if(clients_, [&](const Client& c) { return !c.fd || now > c.deadline; });
            if (fds[0].revents & POLLIN) accept_one(now);
        }
    }

private:
    void accept_one(std::chrono::steady_clock::time_point now) {
        UniqueFd fd(::accept4(listen_fd_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
        if (!fd) return;
        std::size_t serving = 0;
        for (const auto& c : clients_) serving += c.busy ? 0 : 1;
        // Past kMaxClients: told so (and given a moment to read it); past
        // twice that, closed at once.
        if (clients_.size() >= 2 * kMaxClients) return;
        Client c;
        c.fd = std::move(fd);
        c.busy = serving >= kMaxClients;
        c.deadline = now + (c.busy ? kBusyTimeout : kClientTimeout);
        clients_.push_back(std::move(c));
        if (clients_.back().busy) answer(clients_.back(), "error: busy, try again\n.\n");
    }

    void serve(Client& c, short revents) {
        if (c.draining) {
            // Closing with unread input would make the kernel reset the
            // connection, and the client could lose the answer (doc/platform.md
            // §14.3): read what is left (and drop it) until the client hangs up.
            char buf[4096];
            ssize_t n = ::recv(c.fd.get(), buf, sizeof buf, 0);
            if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) c.fd.reset();
            return;
        }
        if (!c.answered) {
            char buf[512];
            ssize_t n = ::recv(c.fd.get(), buf, sizeof buf, 0);
            if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
            if (n > 0) c.in.append(buf, static_cast<std::size_t>(n));
            std::size_t nl = c.in.find('\n');
            if (nl == std::string::npos && c.in.size() > kMaxRequestBytes) {
                answer(c, "error: request too long\n.\n");
            } else if (nl != std::string::npos) {
                answer(c, control_answer(std::string_view(c.in).substr(0, nl), ctx_));
            } else if (n == 0 && !c.in.empty()) {
                answer(c, control_answer(c.in, ctx_));  // the last line without its line end
            } else if (n <= 0) {
                c.fd.reset();  // gone (or half-closed) before a whole line: nothing to answer
                return;
            }
            if (!(revents & POLLOUT)) return;
        }
        while (c.sent < c.out.size()) {
            ssize_t n = ::send(c.fd.get(), c.out.data() + c.sent, c.out.size() - c.sent, MSG_NOSIGNAL);
            if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
            if (n <= 0) {
                c.fd.reset();
                return;
            }
            c.sent += static_cast<std::size_t>(n);
        }
        ::shutdown(c.fd.get(), SHUT_WR);
        c.draining = true;
    }

    void answer(Client& c, std::string text) {
        c.out = std::move(text);
        c.answered = true;
        c.in.clear();
        // Most answers fit the socket buffer: try at once.
        serve(c, POLLOUT);
    }

    UniqueFd listen_fd_;
    ControlContext ctx_;
    std::vector<Client> clients_;
};

}  // namespace

int open_control_socket(const std::string& path, uid_t owner, gid_t group) {
    auto fail = [&path](const std::string& step) {
        return system_error_now("control_socket " + path + ": cannot listen: " + step);
    };
    // A missing directory (/run is emptied at boot) is made as for the pid
    // file and the milter socket, 0750 and the socket's owner, so that the
    // daemon's group can reach the socket inside.
    std::size_t slash = path.find_last_of('/');
    std::string dir = slash == std::string::npos ? "" : path.substr(0, slash);
    struct stat st;
    if (!dir.empty() && ::stat(dir.c_str(), &st) != 0) {
        if (::mkdir(dir.c_str(), 0750) != 0) throw fail("cannot create directory " + dir);
        if ((owner != static_cast<uid_t>(-1) || group != static_cast<gid_t>(-1)) &&
            ::chown(dir.c_str(), owner, group) != 0)
            throw fail("cannot set the owner of directory " + dir);
    }
    if (unix_socket_path_is_stale(path)) ::unlink(path.c_str());
    UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!fd) throw fail("socket");
    struct sockaddr_un sun = {};
    sun.sun_family = AF_UNIX;
    std::strncpy(sun.sun_path, path.c_str(), sizeof sun.sun_path - 1);
    mode_t old = umask(0077);
    int rc = ::bind(fd.get(), reinterpret_cast<struct sockaddr*>(&sun), sizeof sun);
    umask(old);
    if (rc != 0) throw fail("bind");
    if ((owner != static_cast<uid_t>(-1) || group != static_cast<gid_t>(-1)) &&
        ::chown(path.c_str(), owner, group) != 0)
        throw fail("chown");
    if (::chmod(path.c_str(), 0660) != 0) throw fail("chmod");
    if (::listen(fd.get(), 16) != 0) throw fail("listen");
    return fd.release();
}

void start_control_service(int listen_fd, ControlContext ctx) {
    auto* service = new ControlService(listen_fd, std::move(ctx));  // runs until the process exits
    std::thread([service] { service->run(); }).detach();
}

}  // namespace rcptguard
