// policy_load: a load generator for Postfix policy servers
// (SMTPD_POLICY_README): many concurrent connections, each kept open as
// Postfix's smtpd keeps its policy connection, sending RCPT-stage requests
// with the attributes Postfix 3.7 sends, a configurable mix of valid and
// unknown recipients; reports requests per second and latency percentiles.
// It measures the policy protocol alone, as bench/milter_load measures the
// milter protocol: rcptguard's policy service beside bench/null_policy
// without Postfix's own work in the figures.
//
//   policy_load --server HOST:PORT [--connections 20] [--requests 100000]
//               [--valid-ratio 0.5] [--users 1000] [--domain example.test] [--check]
//
// Valid recipients are u<i>@DOMAIN (i < users), unknown ones nx<i>@DOMAIN.
// An answer "action=DUNNO" (or OK, or anything not below) counts as accept,
// "action=5..", REJECT or DEFER_IF_PERMIT as reject, "action=4..", DEFER or
// DEFER_IF_REJECT as tempfail. With --check, every valid recipient must be
// accepted and every unknown one rejected; any other answer (or a lost
// connection) makes the exit status 1.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

#include "bench/load_run.hpp"

using namespace rcptguard::bench;
using Clock = std::chrono::steady_clock;

namespace {

struct Options {
    LoadOptions load;  // total: --requests
    std::string host;
    int port = 0;
};

int connect_to(const Options& o, std::string* error) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        *error = std::string("socket: ") + std::strerror(errno);
        return -1;
    }
    struct sockaddr_in sin = {};
    sin.sin_family = AF_INET;
    sin.sin_port = htons(static_cast<std::uint16_t>(o.port));
    if (inet_pton(AF_INET, o.host.c_str(), &sin.sin_addr) != 1 ||
        connect(fd, reinterpret_cast<struct sockaddr*>(&sin), sizeof sin) != 0) {
        *error = "connect " + o.host + ":" + std::to_string(o.port) + ": " + std::strerror(errno);
        close(fd);
        return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

// The attributes Postfix 3.7's smtpd sends at RCPT TO (smtpd_check.c), in
// its order, with values a real session would have.
std::string request(int id, long count, const std::string& recipient) {
    std::string client = "192.0.2." + std::to_string(1 + id % 250);
    std::string r;
    r.reserve(900);
    r += "request=smtpd_access_policy\nprotocol_state=RCPT\nprotocol_name=ESMTP\n";
    r += "helo_name=client" + std::to_string(id) + ".test\nqueue_id=\n";
    r += "sender=sender" + std::to_string(id) + "@client.test\nrecipient=" + recipient + "\n";
    r += "recipient_count=" + std::to_string(count) + "\nclient_address=" + client + "\n";
    r += "client_name=unknown\nreverse_client_name=unknown\ninstance=" + std::to_string(id) + ".1.1\n";
    r += "sasl_method=\nsasl_username=\nsasl_sender=\nsize=0\nccert_subject=\nccert_issuer=\n";
    r += "ccert_fingerprint=\nccert_pubkey_fingerprint=\nencryption_protocol=\nencryption_cipher=\n";
    r += "encryption_keysize=0\netrn_domain=\nstress=\nserver_address=127.0.0.1\nserver_port=25\n";
    r += "policy_context=\ncompatibility_level=3.6\nmail_version=3.7.11\n\n";
    return r;
}

bool send_all(int fd, const std::string& data) {
    std::size_t off = 0;
    while (off < data.size()) {
        ssize_t n = send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        off += static_cast<std::size_t>(n);
    }
    return true;
}

// Reads one answer (up to the blank line) into *action; false on a lost
// connection or a malformed answer.
bool read_answer(int fd, std::string* buf, std::string* action) {
    for (;;) {
        std::size_t end = buf->find("\n\n");
        if (end != std::string::npos) {
            std::string answer = buf->substr(0, end);
            buf->erase(0, end + 2);
            if (answer.compare(0, 7, "action=") != 0) return false;
            std::size_t line_end = answer.find('\n');  // the first line is the action
            *action = answer.substr(7, line_end == std::string::npos ? std::string::npos : line_end - 7);
            return true;
        }
        char chunk[4096];
        ssize_t n = recv(fd, chunk, sizeof chunk, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        buf->append(chunk, static_cast<std::size_t>(n));
    }
}

std::string verdict_class(const std::string& action) {
    auto starts = [&](const char* p) { return action.compare(0, std::strlen(p), p) == 0; };
    if (!action.empty() && action[0] == '5') return "reject";
    if (!action.empty() && action[0] == '4') return "tempfail";
    if (starts("REJECT") || starts("DEFER_IF_PERMIT")) return "reject";
    if (starts("DEFER")) return "tempfail";  // DEFER, DEFER_IF_REJECT
    return "accept";
}

void run_connection_worker(const Options& o, long my_requests, int id, LoadResult* out) {
    std::uint64_t rnd = random_seed(id);
    out->latency_us.reserve(static_cast<std::size_t>(my_requests));
    long done = 0;
    while (done < my_requests) {
        std::string err;
        int fd = connect_to(o, &err);
        if (fd < 0) {
            ++out->errors;
            if (out->first_error.empty()) out->first_error = err;
            if (out->errors > 100) return;
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
            continue;
        }
        std::string buf;
        for (; done < my_requests; ++done) {
            Recipient next = next_recipient(o.load, &rnd);
            bool valid = next.valid;
            const std::string& addr = next.address;
            std::string req = request(id, done % 10 + 1, addr);
            std::string action;
            auto t0 = Clock::now();
            if (!send_all(fd, req) || !read_answer(fd, &buf, &action)) {
                ++out->errors;
                if (out->first_error.empty()) out->first_error = "no answer to a request (connection lost)";
                break;  // a new connection for the rest, as smtpd would open one
            }
            auto us = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t0).count();
            out->latency_us.push_back(static_cast<std::uint32_t>(us));
            std::string cls = verdict_class(action);
            if (cls == "accept")
                ++out->accept;
            else if (cls == "reject")
                ++out->reject;
            else
                ++out->tempfail;
            if (o.load.check && cls != (valid ? "accept" : "reject")) {
                if (out->wrong == 0)
                    out->first_error = addr + ": expected " + (valid ? "accept" : "reject") + ", got action=" + action;
                ++out->wrong;
            }
        }
        close(fd);
        if (out->errors > 100) return;
    }
}

bool parse(int argc, char** argv, Options* o) {
    const char* usage =
        "policy_load --server HOST:PORT [--connections N] [--requests N] [--valid-ratio R] [--users N] "
        "[--domain D] [--check]";
    bool ok = parse_load_options(argc, argv, "policy_load", "--requests", usage, &o->load,
                                 [o](const std::string& option, const std::function<std::string()>& value) {
                                     if (option != "--server") return false;
                                     std::string v = value();
                                     std::size_t colon = v.rfind(':');
                                     if (colon == std::string::npos) return true;  // port stays 0: usage
                                     o->host = v.substr(0, colon);
                                     o->port = std::atoi(v.c_str() + colon + 1);
                                     return true;
                                 });
    if (ok && (o->host.empty() || o->port < 1 || o->port > 65535)) {
        std::fprintf(stderr, "usage: %s\n", usage);
        return false;
    }
    return ok;
}

}  // namespace

int main(int argc, char** argv) {
    Options o;
    if (!parse(argc, argv, &o)) return 64;
    return run_load("policy_load", "requests", o.load.connections, o.load.total,
                    [&o](long share, int id, LoadResult* out) { run_connection_worker(o, share, id, out); });
}
