// policy_service: see policy_service.hpp.
#include "policyd/policy_service.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
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

#include "policyd/policy_session.hpp"
#include "util/log.hpp"
#include "util/network.hpp"
#include "util/socket_spec.hpp"
#include "util/unique_fd.hpp"

namespace rcptguard {

namespace {

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
    UniqueFd fd;
    PolicyRequestParser parser;
    std::shared_ptr<PolicySession> session;
    std::deque<PolicyRequest> pending;
    std::string out;
    bool busy = false;       // a request is with a worker or waiting on a timer
    bool watch_out = false;  // epoll also waits for room to send (an answer is left over)
    bool closing = false;    // peer gone or protocol error: close once idle
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
        epoll_.reset(epoll_create1(EPOLL_CLOEXEC));
        if (!epoll_) throw system_error_now("policy service: epoll_create1");
        wake_.reset(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
        if (!wake_) throw system_error_now("policy service: eventfd");
        open_reserve();
        if (!add(listen_fd_, EPOLLIN, kListen)) throw system_error_now("policy service: epoll_ctl (listener)");
        if (!add(wake_.get(), EPOLLIN, kWake)) throw system_error_now("policy service: epoll_ctl (wake-up)");
        for (unsigned i = 0; i < workers; ++i) std::thread(&Server::worker, this).detach();
    }

    [[noreturn]] void run() {
        for (;;) {
            int timeout = next_timeout_ms();
            epoll_event ev[64];
            int n = epoll_wait(epoll_.get(), ev, 64, timeout);
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
            resume_listener_when_due();
        }
    }

private:
    static constexpr std::uint64_t kListen = 0, kWake = 1;

    bool add(int fd, std::uint32_t events, std::uint64_t id) {
        epoll_event ev{};
        ev.events = events;
        ev.data.u64 = id;
        return epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &ev) == 0;
    }

    bool watch(int fd, std::uint32_t events, std::uint64_t id) {
        epoll_event ev{};
        ev.events = events;
        ev.data.u64 = id;
        return epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, fd, &ev) == 0;
    }

    // A descriptor kept in reserve: when the process runs out of them, the
    // listener stays readable and epoll would report it again and again.
    // Giving up the reserve lets us accept that connection and close it at
    // once (Postfix then applies smtpd_policy_service_default_action and
    // reconnects), instead of spinning on a connection we cannot take.
    void open_reserve() { reserve_.reset(::open("/dev/null", O_RDONLY | O_CLOEXEC)); }

    // True if a waiting connection was taken off the queue and closed.
    bool refuse_one_connection() {
        if (!reserve_) open_reserve();
        if (!reserve_) return false;
        reserve_.reset();
        UniqueFd doomed(accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC));
        bool refused = static_cast<bool>(doomed);
        doomed.reset();
        open_reserve();
        return refused;
    }

    // When not even a connection to refuse can be taken (another thread used
    // the reserve descriptor), the listener is left out of epoll for a moment
    // rather than reported readable again and again.
    void pause_listener() {
        if (listener_paused_) return;
        epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, listen_fd_, nullptr);
        listener_paused_ = true;
        listener_resume_at_ = services_.clock.now() + Millis(100);
    }

    void resume_listener_when_due() {
        if (!listener_paused_ || services_.clock.now() < listener_resume_at_) return;
        if (!add(listen_fd_, EPOLLIN, kListen)) {
            listener_resume_at_ = services_.clock.now() + Millis(100);
            return;
        }
        listener_paused_ = false;
        if (!reserve_) open_reserve();
    }

    void accept_all() {
        for (;;) {
            UniqueFd fd(accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
            if (!fd) {
                int err = errno;
                if (err == EAGAIN || err == EWOULDBLOCK || err == EINTR || err == ECONNABORTED) return;
                bump(services_.metrics.policy_accept_failures);
                warn_accept_failure(err);
                if ((err == EMFILE || err == ENFILE) && refuse_one_connection()) continue;
                pause_listener();
                return;
            }
            std::uint64_t id = next_id_++;
            if (!add(fd.get(), EPOLLIN | EPOLLRDHUP, id)) {
                bump(services_.metrics.policy_accept_failures);
                warn_accept_failure(errno);
                continue;  // fd closes here
            }
            auto c = std::make_unique<Client>();
            c->fd = std::move(fd);
            c->session = std::make_shared<PolicySession>(runtimes_, services_);
            clients_[id] = std::move(c);
            bump(services_.metrics.policy_connections_total);
            services_.metrics.policy_connections.fetch_add(1, std::memory_order_relaxed);
        }
    }

    // At most one warning a second: a flood of failures must not flood the log.
    void warn_accept_failure(int err) {
        Millis now = services_.clock.now();
        ++accept_failures_unreported_;
        if (now - last_accept_warning_ < Millis(1000)) return;
        last_accept_warning_ = now;
        std::string advice = (err == EMFILE || err == ENFILE)
                                 ? ": out of file descriptors, the connection was closed at once (Postfix "
                                   "retries; raise the limit, e.g. LimitNOFILE in the unit, or lower Postfix's "
                                   "smtpd process count)"
                                 : "";
        log_error("policy service: cannot accept a connection: " + std::string(std::strerror(err)) + advice + " (" +
                  std::to_string(accept_failures_unreported_) + " since the last report)");
        accept_failures_unreported_ = 0;
    }

    void close_client(std::uint64_t id) {
        auto it = clients_.find(id);
        if (it == clients_.end()) return;
        epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, it->second->fd.get(), nullptr);
        clients_.erase(it);  // closes the descriptor
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
                ssize_t n = read(c.fd.get(), buf, sizeof buf);
                if (n > 0) {
                    std::vector<PolicyRequest> got;
                    if (!c.parser.feed(std::string_view(buf, static_cast<std::size_t>(n)), &got)) {
                        log_warning("policy service: closing a connection: " + c.parser.error());
                        bump(services_.metrics.policy_protocol_errors);
                        c.closing = true;
                        break;
                    }
                    for (auto& r : got) c.pending.push_back(std::move(r));
                    // A short read took all there was: epoll (level-triggered)
                    // reports anything later, and a read that would only say
                    // EAGAIN is saved on every request.
                    if (static_cast<std::size_t>(n) < sizeof buf) break;
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

    // Takes the connection's waiting requests in order: each one that cannot
    // wait on another server (a store on this host, or answers in the cache)
    // is answered here and now (a queue hand-off to a worker and back costs
    // more than the lookup); the first that may
    // wait goes to a worker, and the connection's next request waits for its
    // answer. A loop, not a recursion: a client may send many at once.
    void dispatch(std::uint64_t id, Client& c) {
        while (!c.busy && !c.pending.empty() && !c.closing) {
            c.busy = true;
            PolicyRequest r = std::move(c.pending.front());
            c.pending.pop_front();
            bool at_once = false;
            try {
                c.session->prepare(r);
                at_once = c.session->answers_at_once(r);
            } catch (const std::exception& e) {
                log_error(std::string("policy service: internal error: ") + e.what());
                if (!send_answer(id, c, internal_error(), Millis(0))) return;
                continue;
            }
            if (!at_once) {
                {
                    std::lock_guard<std::mutex> lock(jobs_mutex_);
                    jobs_.push_back(Job{id, c.session, std::move(r)});
                }
                jobs_cv_.notify_one();
                return;
            }
            PolicyAnswer a = answer_safely(*c.session, r);
            if (a.delay.count() > 0) {
                timers_.push(Timer{services_.clock.now() + a.delay, id, std::move(a)});
                return;
            }
            if (!send_answer(id, c, a, Millis(0))) return;
        }
    }

    static PolicyAnswer internal_error() { return {"451 4.3.0 Temporary failure, try again later", Millis(0)}; }

    static PolicyAnswer answer_safely(PolicySession& session, const PolicyRequest& r) {
        try {
            return session.answer(r);
        } catch (const std::exception& e) {
            log_error(std::string("policy service: internal error: ") + e.what());
            return internal_error();
        }
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
            PolicyAnswer a = answer_safely(*j.session, j.request);
            {
                std::lock_guard<std::mutex> lock(done_mutex_);
                done_.push_back({j.conn_id, std::move(a)});
            }
            std::uint64_t one = 1;
            ssize_t ignored = write(wake_.get(), &one, sizeof one);
            (void)ignored;
        }
    }

    void collect() {
        std::uint64_t n;
        ssize_t ignored = read(wake_.get(), &n, sizeof n);
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
        if (send_answer(id, c, a, waited)) dispatch(id, c);
    }

    // Sends the answer to the request in work; false if the connection was
    // closed (c is gone then).
    bool send_answer(std::uint64_t id, Client& c, const PolicyAnswer& a, Millis waited) {
        if (a.delay.count() > 0) c.session->delivered(a.delay, waited);
        c.busy = false;
        if (!c.closing) {
            c.out += policy_reply(a.action);
            flush(id, c);
        }
        if (c.closing) {  // the peer is gone or the socket cannot be watched
            close_client(id);
            return false;
        }
        return true;
    }

    void flush(std::uint64_t id, Client& c) {
        while (!c.out.empty()) {
            ssize_t n = send(c.fd.get(), c.out.data(), c.out.size(), MSG_NOSIGNAL);
            if (n > 0) {
                c.out.erase(0, static_cast<std::size_t>(n));
                continue;
            }
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
                if (!c.watch_out && !watch(c.fd.get(), EPOLLIN | EPOLLOUT | EPOLLRDHUP, id)) c.closing = true;
                c.watch_out = true;
                return;
            }
            if (n < 0 && errno == EINTR) continue;
            c.closing = true;
            return;
        }
        // All sent: stop waiting for room, if we were (one system call saved per answer otherwise).
        if (c.watch_out && !watch(c.fd.get(), EPOLLIN | EPOLLRDHUP, id)) c.closing = true;
        c.watch_out = false;
    }

    int next_timeout_ms() const {
        Millis now = services_.clock.now();
        long long ms = -1;
        if (!timers_.empty()) ms = std::max<long long>(0, (timers_.top().due - now).count());
        if (listener_paused_) {
            long long pause = std::max<long long>(0, (listener_resume_at_ - now).count());
            ms = ms < 0 ? pause : std::min(ms, pause);
        }
        return static_cast<int>(ms);
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
    UniqueFd epoll_;
    UniqueFd wake_;
    UniqueFd reserve_;  // see open_reserve()
    bool listener_paused_ = false;
    Millis listener_resume_at_{0};
    Millis last_accept_warning_{-1000000};
    unsigned accept_failures_unreported_ = 0;
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

int open_policy_socket(const std::string& spec, unsigned mode, gid_t group) {
    auto fail = [&spec](const std::string& step) {
        return system_error_now("policy_socket " + spec + ": cannot listen: " + step);
    };
    if (spec.compare(0, 5, "unix:") == 0) {
        std::string path = spec.substr(5);
        if (unix_socket_path_is_stale(path)) unlink(path.c_str());
        UniqueFd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
        if (!fd) throw fail("socket");
        struct sockaddr_un sun = {};
        sun.sun_family = AF_UNIX;
        std::strncpy(sun.sun_path, path.c_str(), sizeof sun.sun_path - 1);
        mode_t old = umask(0077);
        int rc = bind(fd.get(), reinterpret_cast<struct sockaddr*>(&sun), sizeof sun);
        umask(old);
        if (rc != 0) throw fail("bind");
        if (group != static_cast<gid_t>(-1) && chown(path.c_str(), static_cast<uid_t>(-1), group) != 0)
            throw fail("chown");
        if (chmod(path.c_str(), mode) != 0) throw fail("chmod");
        if (listen(fd.get(), 128) != 0) throw fail("listen");
        return fd.release();
    }
    std::string host;
    int port = 0;
    if (std::string e = parse_host_port(spec.substr(5), &host, &port); !e.empty())
        throw std::runtime_error("policy_socket " + spec + ": " + e);
    auto ip = IpAddress::parse(host);
    if (!ip) throw std::runtime_error("policy_socket " + spec + ": not an IP address");
    UniqueFd fd(socket(ip->v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!fd) throw fail("socket");
    int one = 1;
    if (setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0) throw fail("setsockopt");
    int rc;
    if (ip->v6) {
        struct sockaddr_in6 sin6 = {};
        sin6.sin6_family = AF_INET6;
        sin6.sin6_port = htons(static_cast<std::uint16_t>(port));
        std::memcpy(&sin6.sin6_addr, ip->bytes.data(), 16);
        rc = bind(fd.get(), reinterpret_cast<struct sockaddr*>(&sin6), sizeof sin6);
    } else {
        struct sockaddr_in sin = {};
        sin.sin_family = AF_INET;
        sin.sin_port = htons(static_cast<std::uint16_t>(port));
        std::memcpy(&sin.sin_addr, ip->bytes.data(), 4);
        rc = bind(fd.get(), reinterpret_cast<struct sockaddr*>(&sin), sizeof sin);
    }
    if (rc != 0) throw fail("bind");
    if (listen(fd.get(), 128) != 0) throw fail("listen");
    return fd.release();
}

void start_policy_service(int listen_fd, RuntimeHolder& runtimes, Services& services, unsigned workers) {
    auto* server = new Server(listen_fd, runtimes, services, workers);  // runs until the process exits
    std::thread([server] { server->run(); }).detach();
}

}  // namespace rcptguard
