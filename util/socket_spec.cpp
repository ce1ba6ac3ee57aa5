// socket_spec: see socket_spec.hpp.
#include "util/socket_spec.hpp"

#include <netdb.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "util/network.hpp"
#include "util/text.hpp"
#include "util/unique_fd.hpp"

namespace rcptguard {

namespace {

bool all_digits(std::string_view s) {
    if (s.empty()) return false;
    for (char c : s)
        if (c < '0' || c > '9') return false;
    return true;
}

std::string check_unix_path(const std::string& path) {
    if (path.empty() || path.front() != '/') return "unix socket path must be absolute";
    // sockaddr_un.sun_path holds 108 bytes on Linux; stay well inside it.
    if (path.size() > 100) return "unix socket path longer than 100 characters";
    return "";
}

}  // namespace

std::runtime_error system_error_now(const std::string& what) {
    return std::runtime_error(what + ": " + std::strerror(errno));
}

std::string check_milter_socket_spec(const std::string& spec) {
    auto colon = spec.find(':');
    if (colon == std::string::npos) return "expected unix:PATH, inet:PORT@HOST or inet6:PORT@HOST";
    std::string proto = spec.substr(0, colon);
    std::string rest = spec.substr(colon + 1);
    if (proto == "unix" || proto == "local") return check_unix_path(rest);
    if (proto == "inet" || proto == "inet6") {
        auto at = rest.find('@');
        std::string port = rest.substr(0, at);
        if (!all_digits(port) || port.size() > 5 || std::stoi(port) < 1 || std::stoi(port) > 65535)
            return "port must be a number from 1 to 65535 (inet:PORT@HOST)";
        if (at == std::string::npos || at + 1 >= rest.size())
            return "name the address to listen on (inet:PORT@127.0.0.1); listening on all "
                   "interfaces is never the default";
        return "";
    }
    return "unknown socket type '" + printable(proto, 20) + "' (expected unix, inet or inet6)";
}

std::string check_policy_socket_spec(const std::string& spec) {
    if (spec.compare(0, 5, "unix:") == 0) return check_unix_path(spec.substr(5));
    if (spec.compare(0, 5, "inet:") == 0) {
        std::string host;
        int port = 0;
        if (std::string e = parse_host_port(spec.substr(5), &host, &port); !e.empty())
            return e + " (Postfix's notation: inet:ADDRESS:PORT, e.g. inet:127.0.0.1:10040)";
        return "";
    }
    return "expected inet:ADDRESS:PORT or unix:PATH";
}

bool unix_socket_path_is_stale(const std::string& path) {
    struct stat st;
    if (lstat(path.c_str(), &st) != 0) return false;
    if (!S_ISSOCK(st.st_mode)) throw std::runtime_error(path + " exists and is not a socket: refusing to remove it");
    // A socket file: stale (left by a crash or a root-run instance) or live?
    UniqueFd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd) throw system_error_now("socket");
    struct sockaddr_un sun = {};
    sun.sun_family = AF_UNIX;
    std::strncpy(sun.sun_path, path.c_str(), sizeof sun.sun_path - 1);
    bool live = connect(fd.get(), reinterpret_cast<struct sockaddr*>(&sun), sizeof sun) == 0;
    if (live) throw std::runtime_error("socket " + path + " is in use by another running process");
    return true;
}

std::string tcp_listen_problem(const std::string& host, int port) {
    struct addrinfo hints = {};
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    struct addrinfo* res = nullptr;
    std::string service = std::to_string(port);
    int rc = getaddrinfo(host.empty() ? nullptr : host.c_str(), service.c_str(), &hints, &res);
    if (rc != 0) return std::string("cannot resolve ") + host + ": " + gai_strerror(rc);
    std::string problem;
    for (struct addrinfo* ai = res; ai; ai = ai->ai_next) {
        UniqueFd fd(socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol));
        int one = 1;
        if (!fd || setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
            bind(fd.get(), ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd.get(), 1) != 0) {
            problem = std::strerror(errno);
            continue;
        }
        problem.clear();
        break;
    }
    freeaddrinfo(res);
    return problem;
}

std::string milter_listen_problem(const std::string& spec) {
    auto colon = spec.find(':');
    if (colon == std::string::npos) return "";
    std::string proto = spec.substr(0, colon);
    std::string rest = spec.substr(colon + 1);
    if (proto == "inet" || proto == "inet6") {
        auto at = rest.find('@');
        if (at == std::string::npos) return "";
        int port = 0;
        try {
            port = std::stoi(rest.substr(0, at));
        } catch (const std::exception&) {
            return "";
        }
        return tcp_listen_problem(rest.substr(at + 1), port);
    }
    // unix: bind where libmilter would have; a socket made here is ours and
    // removed again (nothing of libmilter's is there after its failure).
    UniqueFd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd) return std::strerror(errno);
    struct sockaddr_un sun = {};
    sun.sun_family = AF_UNIX;
    std::strncpy(sun.sun_path, rest.c_str(), sizeof sun.sun_path - 1);
    if (bind(fd.get(), reinterpret_cast<struct sockaddr*>(&sun), sizeof sun) != 0) return std::strerror(errno);
    unlink(rest.c_str());
    return "";
}

}  // namespace rcptguard
