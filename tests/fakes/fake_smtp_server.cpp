// fake_smtp_server: see fake_smtp_server.hpp.
#include "tests/fakes/fake_smtp_server.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <stdexcept>

#include "util/text.hpp"

namespace rcptguard::testing {

const char FakeSmtpServer::kClose[] = "\x01close";

FakeSmtpServer::FakeSmtpServer() : FakeSmtpServer(Options()) {}

FakeSmtpServer::FakeSmtpServer(Options options) : options_(std::move(options)) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (listen_fd_ < 0) throw std::runtime_error("socket failed");
    int one = 1;
    ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 || ::listen(listen_fd_, 64) != 0)
        throw std::runtime_error("bind/listen failed");
    socklen_t len = sizeof sa;
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&sa), &len);
    port_ = ntohs(sa.sin_port);
    acceptor_ = std::thread([this] { accept_loop(); });
}

FakeSmtpServer::~FakeSmtpServer() { stop(); }

void FakeSmtpServer::stop() {
    if (stopping_.exchange(true)) return;
    hold(false);
    if (acceptor_.joinable()) acceptor_.join();
    ::close(listen_fd_);
    drop_sessions();
    std::vector<std::thread> threads;
    {
        std::lock_guard<std::mutex> l(mutex_);
        threads.swap(sessions_);
    }
    for (auto& t : threads) t.join();
}

void FakeSmtpServer::add_mailbox(const std::string& address) {
    std::lock_guard<std::mutex> l(mutex_);
    mailboxes_.insert(to_lower_ascii(address));
}

void FakeSmtpServer::add_catch_all(const std::string& domain) {
    std::lock_guard<std::mutex> l(mutex_);
    catch_all_.insert(to_lower_ascii(domain));
}

void FakeSmtpServer::set_script(Script script) {
    std::lock_guard<std::mutex> l(mutex_);
    script_ = std::move(script);
}

void FakeSmtpServer::set_greeting(const std::string& bytes) {
    std::lock_guard<std::mutex> l(mutex_);
    options_.greeting = bytes;
}

void FakeSmtpServer::hold(bool on) {
    {
        std::lock_guard<std::mutex> l(mutex_);
        held_ = on;
    }
    held_cv_.notify_all();
}

void FakeSmtpServer::drop_sessions() {
    std::lock_guard<std::mutex> l(mutex_);
    for (int fd : session_fds_) ::shutdown(fd, SHUT_RDWR);
}

std::vector<std::string> FakeSmtpServer::commands() const {
    std::lock_guard<std::mutex> l(mutex_);
    return commands_;
}

std::vector<std::string> FakeSmtpServer::commands_starting(const std::string& prefix) const {
    std::vector<std::string> out;
    for (const auto& c : commands())
        if (starts_with_icase(c, prefix)) out.push_back(c);
    return out;
}

void FakeSmtpServer::wait_while_held() {
    std::unique_lock<std::mutex> l(mutex_);
    held_cv_.wait(l, [this] { return !held_ || stopping_.load(); });
}

bool FakeSmtpServer::send_reply(int fd, const std::string& bytes) {
    wait_while_held();
    if (options_.reply_delay.count() > 0) std::this_thread::sleep_for(options_.reply_delay);
    std::size_t off = 0;
    while (off < bytes.size()) {
        ssize_t n = ::send(fd, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
        if (n <= 0) return false;
        off += static_cast<std::size_t>(n);
    }
    return true;
}

void FakeSmtpServer::accept_loop() {
    while (!stopping_.load()) {
        pollfd p{listen_fd_, POLLIN, 0};
        if (::poll(&p, 1, 50) <= 0) continue;
        int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (fd < 0) continue;
        // Replies go out one by one: without this, Nagle's algorithm holds the
        // second until the client's delayed ACK of the first.
        int one = 1;
        ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        ++connections_;
        int now_open = ++open_;
        for (int m = max_open_.load(); now_open > m && !max_open_.compare_exchange_weak(m, now_open);) {}
        std::lock_guard<std::mutex> l(mutex_);
        session_fds_.insert(fd);
        sessions_.emplace_back([this, fd] { serve(fd); });
    }
}

std::string FakeSmtpServer::default_reply(const std::string& line, bool* close) {
    std::string verb = to_lower_ascii(line.substr(0, line.find_first_of(" :")));
    if (verb == "ehlo") {
        if (!options_.ehlo) return "502 5.5.2 Error: command not recognized\r\n";
        std::string r = "250-fake.test\r\n";
        if (options_.pipelining) r += "250-PIPELINING\r\n";
        if (options_.starttls) r += "250-STARTTLS\r\n";
        if (options_.smtputf8) r += "250-SMTPUTF8\r\n";
        return r + "250 ENHANCEDSTATUSCODES\r\n";
    }
    if (verb == "helo") return "250 fake.test\r\n";
    if (verb == "mail") return "250 2.1.0 Ok\r\n";
    if (verb == "rset" || verb == "noop") return "250 2.0.0 Ok\r\n";
    if (verb == "starttls") return "454 4.7.0 TLS not available\r\n";
    if (verb == "quit") {
        *close = true;
        return "221 2.0.0 Bye\r\n";
    }
    if (verb == "rcpt") {
        auto open = line.find('<');
        auto shut = line.rfind('>');
        if (open == std::string::npos || shut == std::string::npos || shut < open)
            return "501 5.1.3 Bad recipient address syntax\r\n";
        std::string addr = to_lower_ascii(line.substr(open + 1, shut - open - 1));
        std::string domain = addr.substr(addr.rfind('@') + 1);
        std::lock_guard<std::mutex> l(mutex_);
        if (mailboxes_.count(addr) || catch_all_.count(domain)) return "250 2.1.5 Ok\r\n";
        return "550 5.1.1 <" + addr + ">: Recipient address rejected: User unknown\r\n";
    }
    return "502 5.5.2 Error: command not recognized\r\n";
}

void FakeSmtpServer::serve(int fd) {
    std::string greeting;
    {
        std::lock_guard<std::mutex> l(mutex_);
        greeting = options_.greeting;
    }
    bool alive = greeting == kClose ? false : send_reply(fd, greeting);
    std::string buffer;
    while (alive && !stopping_.load()) {
        pollfd p{fd, POLLIN, 0};
        int r = ::poll(&p, 1, 50);
        if (r == 0) continue;
        char buf[4096];
        ssize_t n = r > 0 ? ::recv(fd, buf, sizeof buf, 0) : -1;
        if (n <= 0) break;
        buffer.append(buf, static_cast<std::size_t>(n));
        for (std::size_t nl; alive && (nl = buffer.find('\n')) != std::string::npos;) {
            std::string line = buffer.substr(0, nl);
            buffer.erase(0, nl + 1);
            if (!line.empty() && line.back() == '\r') line.pop_back();
            Script script;
            {
                std::lock_guard<std::mutex> l(mutex_);
                commands_.push_back(line);
                script = script_;
            }
            bool close = false;
            std::optional<std::string> reply;
            if (script) reply = script(line);
            if (!reply) reply = default_reply(line, &close);
            if (*reply == kClose) {
                alive = false;
                break;
            }
            alive = send_reply(fd, *reply) && !close;
        }
        if (!alive) break;
    }
    {
        std::lock_guard<std::mutex> l(mutex_);
        session_fds_.erase(fd);
    }
    ::close(fd);
    --open_;
}

}  // namespace rcptguard::testing
