// milter_client: see milter_client.hpp. Packet layout from libmilter's
// mfdef.h: a 4-byte length (network order) covering the command byte and the
// data, the command byte, the data.
#include "bench/milter_client.hpp"

#include <arpa/inet.h>
#include <libmilter/mfdef.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace rcptguard::bench {

std::string MilterReply::smtp_class() const {
    switch (code) {
        case 'c':
        case 'a': return "accept";
        case 'r': return "reject";
        case 't': return "tempfail";
        case 'y': return !text.empty() && text[0] == '5' ? "reject" : "tempfail";
        default: return "error";
    }
}

MilterClient::~MilterClient() {
    if (fd_ >= 0) close(fd_);
}

std::string MilterClient::connect_to(const std::string& spec) {
    if (spec.compare(0, 5, "unix:") == 0) {
        fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_un sun = {};
        sun.sun_family = AF_UNIX;
        std::strncpy(sun.sun_path, spec.c_str() + 5, sizeof sun.sun_path - 1);
        if (::connect(fd_, reinterpret_cast<struct sockaddr*>(&sun), sizeof sun) != 0)
            return spec + ": " + std::strerror(errno);
        return "";
    }
    if (spec.compare(0, 5, "inet:") != 0) return "expected inet:PORT@HOST or unix:PATH";
    auto at = spec.find('@');
    int port = std::stoi(spec.substr(5, at - 5));
    std::string host = at == std::string::npos ? "127.0.0.1" : spec.substr(at + 1);
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sin = {};
    sin.sin_family = AF_INET;
    sin.sin_port = htons(static_cast<std::uint16_t>(port));
    if (inet_pton(AF_INET, host.c_str(), &sin.sin_addr) != 1) return "bad address " + host;
    int one = 1;
    setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (::connect(fd_, reinterpret_cast<struct sockaddr*>(&sin), sizeof sin) != 0)
        return spec + ": " + std::strerror(errno);
    return "";
}

bool MilterClient::send_packet(char cmd, const std::string& data) {
    std::string pkt(5, '\0');
    std::uint32_t len = htonl(static_cast<std::uint32_t>(data.size() + 1));
    std::memcpy(&pkt[0], &len, 4);
    pkt[4] = cmd;
    pkt += data;
    std::size_t off = 0;
    while (off < pkt.size()) {
        ssize_t n = ::send(fd_, pkt.data() + off, pkt.size() - off, MSG_NOSIGNAL);
        if (n <= 0) {
            if (n < 0 && errno == EINTR) continue;
            return false;
        }
        off += static_cast<std::size_t>(n);
    }
    return true;
}

bool MilterClient::read_exact(void* buf, std::size_t n) {
    auto* p = static_cast<char*>(buf);
    while (n > 0) {
        ssize_t r = ::recv(fd_, p, n, 0);
        if (r <= 0) {
            if (r < 0 && errno == EINTR) continue;
            return false;
        }
        p += r;
        n -= static_cast<std::size_t>(r);
    }
    return true;
}

MilterReply MilterClient::read_reply() {
    for (;;) {
        std::uint32_t len = 0;
        if (!read_exact(&len, 4)) return {};
        len = ntohl(len);
        if (len == 0 || len > (1u << 24)) return {};
        std::string body(len, '\0');
        if (!read_exact(&body[0], len)) return {};
        MilterReply r;
        r.code = body[0];
        if (r.code == SMFIR_PROGRESS) continue;  // keep waiting, as an MTA does
        r.text = body.substr(1);
        while (!r.text.empty() && r.text.back() == '\0') r.text.pop_back();
        return r;
    }
}

std::string MilterClient::negotiate() {
    std::string d(12, '\0');
    std::uint32_t v[3] = {htonl(6), htonl(0x1FF), htonl(0x1FFFFF)};
    std::memcpy(&d[0], v, 12);
    if (!send_packet(SMFIC_OPTNEG, d)) return "send failed";
    MilterReply r = read_reply();
    if (r.code != SMFIC_OPTNEG || r.text.size() < 12) return "bad negotiation reply";
    std::uint32_t a, s;
    std::memcpy(&a, r.text.data() + 4, 4);
    std::memcpy(&s, r.text.data() + 8, 4);
    actions_ = ntohl(a);
    steps_ = ntohl(s);
    return "";
}

bool MilterClient::send_macro(char stage, const std::vector<std::pair<std::string, std::string>>& macros) {
    std::string d(1, stage);
    for (const auto& kv : macros) {
        d += kv.first;
        d.push_back('\0');
        d += kv.second;
        d.push_back('\0');
    }
    return send_packet(SMFIC_MACRO, d);
}

MilterReply MilterClient::helo_connect(const std::string& hostname, const std::string& ipv4, const std::string& j) {
    if (steps_ & SMFIP_NOCONNECT) return MilterReply{'c', {}};
    if (!j.empty()) send_macro(SMFIC_CONNECT, {{"j", j}});
    std::string d = hostname;
    d.push_back('\0');
    d.push_back(SMFIA_INET);
    std::uint16_t port = htons(25);
    d.append(reinterpret_cast<const char*>(&port), 2);
    d += ipv4;
    d.push_back('\0');
    if (!send_packet(SMFIC_CONNECT, d)) return {};
    if (steps_ & SMFIP_NR_CONN) return MilterReply{'c', {}};
    return read_reply();
}

MilterReply MilterClient::mail(const std::string& sender) {
    if (steps_ & SMFIP_NOMAIL) return MilterReply{'c', {}};
    std::string d = sender;
    d.push_back('\0');
    if (!send_packet(SMFIC_MAIL, d)) return {};
    if (steps_ & SMFIP_NR_MAIL) return MilterReply{'c', {}};
    return read_reply();
}

MilterReply MilterClient::rcpt(const std::string& recipient, bool rejected_by_mta) {
    if (steps_ & SMFIP_NORCPT) return MilterReply{'c', {}};
    if (rejected_by_mta && !(steps_ & SMFIP_RCPT_REJ)) return MilterReply{'c', {}};
    send_macro(SMFIC_RCPT, {{"{rcpt_mailer}", rejected_by_mta ? "error" : "smtp"}});
    std::string d = recipient;
    d.push_back('\0');
    if (!send_packet(SMFIC_RCPT, d)) return {};
    if (steps_ & SMFIP_NR_RCPT) return MilterReply{'c', {}};
    return read_reply();
}

void MilterClient::abort_message() { send_packet(SMFIC_ABORT, ""); }

void MilterClient::quit() {
    send_packet(SMFIC_QUIT, "");
    close(fd_);
    fd_ = -1;
}

}  // namespace rcptguard::bench
