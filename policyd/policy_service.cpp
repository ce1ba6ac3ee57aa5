// policy_service: see policy_service.hpp.
#include "policy_service.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <queue>
#include <stdexcept>
#include <thread>

#include "daemon.hpp"
#include "log.hpp"
#include "policy_session.hpp"
#include "tarpit/network.hpp"

namespace rcptguard {

namespace {

std::runtime_error sys_error(const std::string& what) { return std::runtime_error(what + ": " + std::strerror(errno)); }

struct Job {
    std::uint64_t conn_id;
    std::shared_ptr<PolicySession> session;
    PolicyRequest request;
};

struct Done {
    std::uint64_t conn_id;
    PolicyAnswer answer;
};

struct Client {
    int fd = -1;
    PolicyRequestParser parser;
    std::shared_ptr<PolicySession> session;
    std::deque<PolicyRequest> pending;
    std::string out;
    bool busy = false;     // a request is with a worker or waiting on a timer
    bool closing = false;  // peer gone or protocol error: close once idle
};

struct Timer {
    Millis due;
    std::uint64_t conn_id;
    PolicyAnswer answer;
    bool operator>(const Timer& o) const { return due > o.due; }
};

class Server {
public:
    Server(int listen_fd, RuntimeHolder& runtimes, Services& services, unsigned workers)
        : listen_fd_(listen_fd), runtimes_(runtimes), services_(services) {
        epoll_ = epoll_create1(EPOLL_CLOEXEC);
        wake_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (epoll_ < 0 || wake_ < 0) throw sys_error("policy service: epoll/eventfd");
        add(listen_fd_, EPOLLIN, kListen);
        add(wake_, EPOLLIN, kWake);
        for (unsigned i = 0; i < workers; ++i) std::thread(&Server::worker, this).detach();
    }

    [[noreturn]] void run() {
        for (;;) {
            int timeout = next_timeout_ms();
            epoll_event ev[64];
            int n = epoll_wait(epoll_, ev, 64, timeout);
            if (n < 0 && errno != EINTR) log_error(std::string("policy service: epoll_wait: ") + std::strerror(errno));
            for (int i = 0; i < n; ++i) {
                std::uint64_t id = ev[i].data.u64;
                if (id == kListen)
                    accept_all();
                else if (id == kWake)
                    collect();
                else
                    on_client(id, ev[i].events);
            }
            fire_timers();
        }
    }

private:
    static constexpr std::uint64_t kListen = 0, kWake = 1;

    void add(int fd, std::uint32_t events, std::uint64_t id) {
        epoll_event ev{};
        ev.events = events;
        ev.data.u64 = id;
        epoll_ctl(epoll_, EPOLL_CTL_ADD, fd, &ev);
    }

    void accept_all() {
        for (;;) {
            int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
            if (fd < 0) {
                if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                    log_warning(std::string("policy service: accept: ") + std::strerror(errno));
                return;
            }
            std::uint64_t id = next_id_++;
            auto c = std::make_unique<Client>();
            c->fd = fd;
            c->session = std::make_shared<PolicySession>(runtimes_, services_);
            clients_[id] = std::move(c);
            add(fd, EPOLLIN | EPOLLRDHUP, id);
            bump(services_.metrics.policy_connections_total);
            services_.metrics.policy_connections.fetch_add(1, std::memory_order_relaxed);
        }
    }

    void close_client(std::uint64_t id) {
        auto it = clients_.find(id);
        if (it == clients_.end()) return;
        epoll_ctl(epoll_, EPOLL_CTL_DEL, it->second->fd, nullptr);
        close(it->second->fd);
        clients_.erase(it);
        services_.metrics.policy_connections.fetch_sub(1, std::memory_order_relaxed);
    }

    void on_client(std::uint64_t id, std::uint32_t events) {
        auto it = clients_.find(id);
        if (it == clients_.end()) return;
        Client& c = *it->second;
        if (events & EPOLLOUT) flush(id, c);
        if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
            char buf[16384];
            for (;;) {
                ssize_t n = read(c.fd, buf, sizeof buf);
                if (n > 0) {
                    std::vector<PolicyRequest> got;
                    if (!c.parser.feed(std::string_view(buf, static_cast<std::size_t>(n)), &got)) {
                        log_warning("policy service: closing a connection: " + c.parser.error());
                        bump(services_.metrics.policy_protocol_errors);
                        c.closing = true;
                        break;
                    }
                    for (auto& r : got) c.pending.push_back(std::move(r));
                    continue;
                }
                if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) c.closing = true;
                if (n < 0 && errno == EINTR) continue;
                break;
            }
        }
        if (c.closing && !c.busy) {
            close_client(id);
            return;
        }
        dispatch(id, c);
    }

    void dispatch(std::uint64_t id, Client& c) {
        if (c.busy || c.pending.empty() || c.closing) return;
        c.busy = true;
        Job j{id, c.session, std::move(c.pending.front())};
        c.pending.pop_front();
        {
            std::lock_guard<std::mutex> lock(jobs_mutex_);
            jobs_.push_back(std::move(j));
        }
        jobs_cv_.notify_one();
    }

    void worker() {
        for (;;) {
            Job j;
            {
                std::unique_lock<std::mutex> lock(jobs_mutex_);
                jobs_cv_.wait(lock, [this] { return !jobs_.empty(); });
                j = std::move(jobs_.front());
                jobs_.pop_front();
            }
            PolicyAnswer a;
            try {
                a = j.session->handle(j.request);
            } catch (const std::exception& e) {
                log_error(std::string("policy service: internal error: ") + e.what());
                a = {"451 4.3.0 Temporary failure, try again later", Millis(0)};
            }
            {
                std::lock_guard<std::mutex> lock(done_mutex_);
                done_.push_back({j.conn_id, std::move(a)});
            }
            std::uint64_t one = 1;
            ssize_t ignored = write(wake_, &one, sizeof one);
            (void)ignored;
        }
    }

    void collect() {
        std::uint64_t n;
        ssize_t ignored = read(wake_, &n, sizeof n);
        (void)ignored;
        std::deque<Done> done;
        {
            std::lock_guard<std::mutex> lock(done_mutex_);
            done.swap(done_);
        }
        for (auto& d : done) {
            if (d.answer.delay.count() > 0) {
                timers_.push(Timer{services_.clock.now() + d.answer.delay, d.conn_id, std::move(d.answer)});
                continue;
            }
            answer(d.conn_id, d.answer, Millis(0));
        }
    }

    // Sends an answer and hands the connection its next request.
    void answer(std::uint64_t id, const PolicyAnswer& a, Millis waited) {
        auto it = clients_.find(id);
        if (it == clients_.end()) return;
        Client& c = *it->second;
        if (a.delay.count() > 0) c.session->delivered(a.delay, waited);
        c.busy = false;
        if (c.closing) {
            close_client(id);
            return;
        }
        c.out += policy_reply(a.action);
        flush(id, c);
        auto again = clients_.find(id);
        if (again != clients_.end()) dispatch(id, *again->second);
    }

    void flush(std::uint64_t id, Client& c) {
        while (!c.out.empty()) {
            ssize_t n = send(c.fd, c.out.data(), c.out.size(), MSG_NOSIGNAL);
            if (n > 0) {
                c.out.erase(0, static_cast<std::size_t>(n));
                continue;
            }
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
                epoll_event ev{};
                ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP;
                ev.data.u64 = id;
                epoll_ctl(epoll_, EPOLL_CTL_MOD, c.fd, &ev);
                return;
            }
            if (n < 0 && errno == EINTR) continue;
            c.closing = true;
            return;
        }
        epoll_event ev{};
        ev.events = EPOLLIN | EPOLLRDHUP;
        ev.data.u64 = id;
        epoll_ctl(epoll_, EPOLL_CTL_MOD, c.fd, &ev);
    }

    int next_timeout_ms() const {
        if (timers_.empty()) return -1;
        Millis left = timers_.top().due - services_.clock.now();
        return left.count() <= 0 ? 0 : static_cast<int>(left.count());
    }

    void fire_timers() {
        Millis now = services_.clock.now();
        while (!timers_.empty() && timers_.top().due <= now) {
            Timer t = timers_.top();
            timers_.pop();
            answer(t.conn_id, t.answer, t.answer.delay);
        }
    }

    int listen_fd_;
    RuntimeHolder& runtimes_;
    Services& services_;
    int epoll_ = -1;
    int wake_ = -1;
    std::uint64_t next_id_ = 2;
    std::map<std::uint64_t, std::unique_ptr<Client>> clients_;  // I/O thread only
    std::priority_queue<Timer, std::vector<Timer>, std::greater<Timer>> timers_;
    std::mutex jobs_mutex_;
    std::condition_variable jobs_cv_;
    std::deque<Job> jobs_;
    std::mutex done_mutex_;
    std::deque<Done> done_;
};

}  // namespace

std::string check_policy_socket_spec(const std::string& spec) {
    if (spec.compare(0, 5, "unix:") == 0) {
        std::string path = spec.substr(5);
        if (path.empty() || path.front() != '/') return "unix socket path must be absolute";
        if (path.size() > 100) return "unix socket path longer than 100 characters";
        return "";
    }
    if (spec.compare(0, 5, "inet:") == 0) {
        std::string host;
        int port = 0;
        if (std::string e = parse_host_port(spec.substr(5), &host, &port); !e.empty())
            return e + " (Postfix's notation: inet:ADDRESS:PORT, e.g. inet:127.0.0.1:10040)";
        return "";
    }
    return "expected inet:ADDRESS:PORT or unix:PATH";
}

int open_policy_socket(const std::string& spec, unsigned mode, gid_t group) {
    if (spec.compare(0, 5, "unix:") == 0) {
        std::string path = spec.substr(5);
        if (unix_socket_path_is_stale(path)) unlink(path.c_str());
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        struct sockaddr_un sun = {};
        sun.sun_family = AF_UNIX;
        std::strncpy(sun.sun_path, path.c_str(), sizeof sun.sun_path - 1);
        mode_t old = umask(0077);
        int rc = bind(fd, reinterpret_cast<struct sockaddr*>(&sun), sizeof sun);
        umask(old);
        if (rc != 0) throw sys_error("policy service: bind " + path);
        if (group != static_cast<gid_t>(-1) && chown(path.c_str(), static_cast<uid_t>(-1), group) != 0)
            throw sys_error("policy service: chown " + path);
        if (chmod(path.c_str(), mode) != 0) throw sys_error("policy service: chmod " + path);
        if (listen(fd, 128) != 0) throw sys_error("policy service: listen " + path);
        return fd;
    }
    std::string host;
    int port = 0;
    if (!parse_host_port(spec.substr(5), &host, &port).empty()) throw std::runtime_error("bad policy_socket " + spec);
    auto ip = IpAddress::parse(host);
    int fd = socket(ip->v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    int rc;
    if (ip->v6) {
        struct sockaddr_in6 sin6 = {};
        sin6.sin6_family = AF_INET6;
        sin6.sin6_port = htons(static_cast<std::uint16_t>(port));
        std::memcpy(&sin6.sin6_addr, ip->bytes.data(), 16);
        rc = bind(fd, reinterpret_cast<struct sockaddr*>(&sin6), sizeof sin6);
    } else {
        struct sockaddr_in sin = {};
        sin.sin_family = AF_INET;
        sin.sin_port = htons(static_cast<std::uint16_t>(port));
        std::memcpy(&sin.sin_addr, ip->bytes.data(), 4);
        rc = bind(fd, reinterpret_cast<struct sockaddr*>(&sin), sizeof sin);
    }
    if (rc != 0) throw sys_error("policy service: bind " + spec);
    if (listen(fd, 128) != 0) throw sys_error("policy service: listen " + spec);
    return fd;
}

void start_policy_service(int listen_fd, RuntimeHolder& runtimes, Services& services, unsigned workers) {
    auto* server = new Server(listen_fd, runtimes, services, workers);  // runs until the process exits
    std::thread([server] { server->run(); }).detach();
}

}  // namespace rcptguard
