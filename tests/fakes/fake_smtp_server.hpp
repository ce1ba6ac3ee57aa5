// fake_smtp_server: a scriptable SMTP server on 127.0.0.1 inside the test
// process, for the call-ahead backend's unit tests (the integration tests use
// a real Postfix). By default it behaves like a server that filters
// recipients: 250 for its mailboxes (compared without regard to case) and for
// any address in a catch-all domain, "550 5.1.1" for the rest, 250 to MAIL,
// RSET and NOOP, 221 to QUIT. A script can replace any reply with arbitrary
// bytes (hostile replies), close the connection, and hold() stops every
// reply (a hung server).
// Each connection is served by its own thread; counts (connections, the most
// open at once, every command) are kept for the tests.
// Thread-safety: every member from any thread; stop() (also the destructor)
// closes everything and joins the threads.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace rcptguard::testing {

class FakeSmtpServer {
public:
    struct Options {
        std::string greeting = "220 fake.test ESMTP test server\r\n";
        bool ehlo = true;  // false: 502 to EHLO, like a server from before ESMTP
        bool pipelining = true;
        bool starttls = false;  // offered (answered 454 unless a script says otherwise)
        bool smtputf8 = false;
        std::chrono::milliseconds reply_delay{0};  // before every reply
    };
    // The reply to one command line (without CRLF): the exact bytes to send, or
    // kClose to close the connection, or nullopt for the default reply.
    using Script = std::function<std::optional<std::string>(const std::string& line)>;
    static const char kClose[];

    FakeSmtpServer();
    explicit FakeSmtpServer(Options options);
    ~FakeSmtpServer();
    FakeSmtpServer(const FakeSmtpServer&) = delete;
    FakeSmtpServer& operator=(const FakeSmtpServer&) = delete;

    int port() const { return port_; }
    std::string host() const { return "127.0.0.1:" + std::to_string(port_); }

    void add_mailbox(const std::string& address);
    void add_catch_all(const std::string& domain);
    void set_script(Script script);
    void set_greeting(const std::string& bytes);
    // While held, no reply (nor greeting) is sent.
    void hold(bool on);
    // Closes every open session from the server's side (idle connections die).
    void drop_sessions();
    void stop();

    int connections() const { return connections_.load(); }
    int max_open() const { return max_open_.load(); }
    int open() const { return open_.load(); }
    std::vector<std::string> commands() const;
    // Commands that start with prefix (case-insensitive), e.g. "RCPT TO:".
    std::vector<std::string> commands_starting(const std::string& prefix) const;

private:
    void accept_loop();
    void serve(int fd);
    std::string default_reply(const std::string& line, bool* close);
    bool send_reply(int fd, const std::string& bytes);
    void wait_while_held();

    Options options_;
    int listen_fd_ = -1;
    int port_ = 0;
    std::atomic<bool> stopping_{false};
    std::thread acceptor_;
    mutable std::mutex mutex_;
    std::condition_variable held_cv_;
    bool held_ = false;
    std::set<std::string> mailboxes_;
    std::set<std::string> catch_all_;
    Script script_;
    std::vector<std::string> commands_;
    std::vector<std::thread> sessions_;
    std::set<int> session_fds_;
    std::atomic<int> connections_{0};
    std::atomic<int> open_{0};
    std::atomic<int> max_open_{0};
};

}  // namespace rcptguard::testing
