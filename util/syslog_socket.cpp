// syslog_socket: see syslog_socket.hpp. Wire format checked against glibc
// 2.36's syslog() (doc/platform.md §11).
#include "util/syslog_socket.hpp"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>

namespace rcptguard {

namespace {

constexpr Millis kFirstBackoff{100};
constexpr Millis kMaxBackoff{10'000};
constexpr std::size_t kBatch = 64;         // messages per sendmmsg(2)
constexpr std::size_t kHeaderBytes = 300;  // "<191>" + the stamp below

int severity(LogLevel l) {
    switch (l) {
        case LogLevel::Error: return 3;    // LOG_ERR
        case LogLevel::Warning: return 4;  // LOG_WARNING
        case LogLevel::Notice: return 5;   // LOG_NOTICE
        case LogLevel::Info: return 6;     // LOG_INFO
        case LogLevel::Debug: return 7;    // LOG_DEBUG
    }
    return 6;
}

bool peer_gone(int e) { return e == ECONNREFUSED || e == ENOTCONN || e == ECONNRESET || e == EPIPE; }

}  // namespace

SyslogSocket::SyslogSocket(std::string path, std::string ident, int facility, const Clock& clock)
    : path_(std::move(path)), ident_(ident.substr(0, 200)), facility_(facility), clock_(clock) {}

SyslogSocket::~SyslogSocket() { disconnect(); }

void SyslogSocket::disconnect() noexcept {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
}

bool SyslogSocket::connect_now() noexcept {
    if (fd_ >= 0) return true;
    Millis now = clock_.now();
    if (backoff_.count() > 0 && now < next_attempt_) return false;
    ++connect_attempts_;
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (path_.size() >= sizeof addr.sun_path) return false;
    std::memcpy(addr.sun_path, path_.data(), path_.size());
    // Datagram first, as glibc does; a stream socket (EPROTOTYPE) second.
    for (int type : {SOCK_DGRAM, SOCK_STREAM}) {
        int fd = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);
        if (fd < 0) break;
        if (connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0) {
            fd_ = fd;
            stream_ = type == SOCK_STREAM;
            backoff_ = Millis(0);
            return true;
        }
        int e = errno;
        close(fd);
        if (e != EPROTOTYPE) break;
    }
    backoff_ = backoff_.count() == 0 ? kFirstBackoff : std::min(backoff_ * 2, kMaxBackoff);
    next_attempt_ = now + backoff_;
    return false;
}

std::size_t SyslogSocket::header(const LogRecord& r, char* buf, std::size_t size) noexcept {
    // "Mmm dd hh:mm:ss ident[pid]: " changes once a second: format it then,
    // and only the priority per line (snprintf per line cost more than the
    // rest of the line's handling together, measured with callgrind).
    if (r.unix_seconds != stamp_seconds_ || pid_ != stamp_pid_) {
        std::time_t t = static_cast<std::time_t>(r.unix_seconds);
        std::tm tm{};
        localtime_r(&t, &tm);
        // glibc formats "%h %e %T " in the C locale.
        static const char* const kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                              "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
        int n = std::snprintf(stamp_, sizeof stamp_, "%s %2d %02d:%02d:%02d %s[%ld]: ", kMonths[tm.tm_mon % 12],
                              tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ident_.c_str(), pid_);
        stamp_len_ = n < 0 ? 0 : std::min(static_cast<std::size_t>(n), sizeof stamp_ - 1);
        stamp_seconds_ = r.unix_seconds;
        stamp_pid_ = pid_;
    }
    int pri = (facility_ | severity(r.level)) & 0x3FF;
    char digits[4];
    std::size_t nd = 0;
    do {
        digits[nd++] = static_cast<char>('0' + pri % 10);
        pri /= 10;
    } while (pri > 0 && nd < sizeof digits);
    std::size_t len = 2 + nd + stamp_len_;
    if (len > size) return 0;
    std::size_t at = 0;
    buf[at++] = '<';
    while (nd > 0) buf[at++] = digits[--nd];
    buf[at++] = '>';
    std::memcpy(buf + at, stamp_, stamp_len_);
    return at + stamp_len_;
}

std::size_t SyslogSocket::send_datagrams(const LogRecord* records, std::size_t count) noexcept {
    char headers[kBatch][kHeaderBytes];
    iovec iov[kBatch][2];
    mmsghdr msgs[kBatch];
    std::size_t done = 0;
    while (done < count) {
        std::size_t n = std::min(kBatch, count - done);
        for (std::size_t i = 0; i < n; ++i) {
            const LogRecord& r = records[done + i];
            std::size_t h = header(r, headers[i], kHeaderBytes);
            iov[i][0] = {headers[i], h};
            iov[i][1] = {const_cast<char*>(r.text.data()), r.text.size()};
            msgs[i] = {};
            msgs[i].msg_hdr.msg_iov = iov[i];
            msgs[i].msg_hdr.msg_iovlen = 2;
        }
        int sent = sendmmsg(fd_, msgs, static_cast<unsigned>(n), MSG_NOSIGNAL);
        if (sent < 0) {
            if (errno == EINTR) continue;
            if (errno == EMSGSIZE) {  // one oversized line: drop it, keep the rest
                ++dropped_;
                ++done;
                continue;
            }
            return done;
        }
        done += static_cast<std::size_t>(sent);
    }
    return count;
}

std::size_t SyslogSocket::send_stream(const LogRecord* records, std::size_t count) noexcept {
    char head[kHeaderBytes];
    for (std::size_t i = 0; i < count; ++i) {
        std::size_t h = header(records[i], head, sizeof head);
        const std::string& t = records[i].text;
        // Each message ends with a NUL on a stream socket (glibc does the same).
        iovec iov[3] = {{head, h}, {const_cast<char*>(t.data()), t.size()}, {const_cast<char*>(""), 1}};
        msghdr m{};
        m.msg_iov = iov;
        m.msg_iovlen = 3;
        std::size_t left = h + t.size() + 1;
        while (left > 0) {
            ssize_t w = sendmsg(fd_, &m, MSG_NOSIGNAL);
            if (w < 0 && errno == EINTR) continue;
            if (w < 0) return i;
            left -= static_cast<std::size_t>(w);
            // Partial write: skip what went out.
            std::size_t skip = static_cast<std::size_t>(w);
            while (m.msg_iovlen > 0 && skip >= m.msg_iov[0].iov_len) {
                skip -= m.msg_iov[0].iov_len;
                ++m.msg_iov;
                --m.msg_iovlen;
            }
            if (m.msg_iovlen > 0) {
                m.msg_iov[0].iov_base = static_cast<char*>(m.msg_iov[0].iov_base) + skip;
                m.msg_iov[0].iov_len -= skip;
            }
        }
    }
    return count;
}

void SyslogSocket::send(const LogRecord* records, std::size_t count) noexcept {
    pid_ = static_cast<long>(getpid());  // once per batch: the daemon forks after the socket exists
    std::size_t done = 0;
    bool retried = false;
    while (done < count) {
        if (!connect_now()) break;
        done += stream_ ? send_stream(records + done, count - done) : send_datagrams(records + done, count - done);
        if (done == count) return;
        int e = errno;
        disconnect();
        // The syslog daemon restarted (its socket is new): one immediate
        // reconnect, as glibc does; anything else waits for the backoff.
        if (!peer_gone(e) || retried) {
            backoff_ = std::max(backoff_, kFirstBackoff);
            next_attempt_ = clock_.now() + backoff_;
            break;
        }
        retried = true;
    }
    dropped_ += count - done;
}

}  // namespace rcptguard
