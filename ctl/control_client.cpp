// control_client: see control_client.hpp.
#include "ctl/control_client.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <cerrno>
#include <cstring>

#include "util/unique_fd.hpp"

namespace rcptguard {

namespace {

constexpr std::size_t kMaxAnswerBytes = 16 << 20;

bool wait_for(int fd, short events, std::chrono::steady_clock::time_point deadline) {
    for (;;) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) return false;
        pollfd p{fd, events, 0};
        int n = ::poll(&p, 1, static_cast<int>(left.count()));
        if (n > 0) return true;
        if (n < 0 && errno != EINTR) return false;
    }
}

}  // namespace

ControlReply ask_daemon(const std::string& socket_path, const std::string& request, std::chrono::milliseconds timeout) {
    ControlReply r;
    auto deadline = std::chrono::steady_clock::now() + timeout;
    UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (!fd) {
        r.error = std::string("socket: ") + std::strerror(errno);
        return r;
    }
    struct sockaddr_un sun = {};
    sun.sun_family = AF_UNIX;
    if (socket_path.size() >= sizeof sun.sun_path) {
        r.error = socket_path + ": path too long";
        return r;
    }
    std::strncpy(sun.sun_path, socket_path.c_str(), sizeof sun.sun_path - 1);
    if (::connect(fd.get(), reinterpret_cast<struct sockaddr*>(&sun), sizeof sun) != 0 && errno != EINPROGRESS &&
        errno != EAGAIN) {
        r.error = socket_path + ": " + std::strerror(errno);
        return r;
    }
    std::string line = request + "\n";
    std::size_t sent = 0;
    while (sent < line.size()) {
        if (!wait_for(fd.get(), POLLOUT, deadline)) {
            r.error = socket_path + ": no answer in time";
            return r;
        }
        ssize_t n = ::send(fd.get(), line.data() + sent, line.size() - sent, MSG_NOSIGNAL);
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
        if (n <= 0) {
            r.error = socket_path + ": " + std::strerror(errno);
            return r;
        }
        sent += static_cast<std::size_t>(n);
    }
    std::string in;
    for (;;) {
        std::size_t end = in.find("\n.\n");
        if (end != std::string::npos || in == ".\n") {
            in.resize(end == std::string::npos ? 0 : end + 1);
            break;
        }
        if (!wait_for(fd.get(), POLLIN, deadline)) {
            r.error = socket_path + ": no complete answer in time";
            return r;
        }
        char buf[65536];
        ssize_t n = ::recv(fd.get(), buf, sizeof buf, 0);
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
        if (n <= 0) {
            r.error = socket_path + ": the daemon closed the connection before the end of its answer";
            return r;
        }
        in.append(buf, static_cast<std::size_t>(n));
        if (in.size() > kMaxAnswerBytes) {
            r.error = socket_path + ": answer too large";
            return r;
        }
    }
    r.reached = true;
    std::size_t nl = in.find('\n');
    std::string first = in.substr(0, nl);
    r.body = nl == std::string::npos ? "" : in.substr(nl + 1);
    if (first == "ok") {
        r.ok = true;
    } else {
        r.error = first.rfind("error: ", 0) == 0 ? first.substr(7) : "unexpected answer: " + first.substr(0, 200);
    }
    return r;
}

}  // namespace rcptguard
