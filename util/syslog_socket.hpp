// syslog_socket: rcptguard's own connection to the local syslog daemon
// (/dev/log), replacing glibc's syslog() on the daemon's log path.
//
// glibc's syslog() takes one process-wide lock per line, formats into a
// freshly allocated buffer and, while /dev/log is missing, tries to connect
// again on every call. This keeps one socket open, sends a whole batch of
// lines with one sendmmsg(2), and after a failed connect waits (100 ms,
// doubling up to 10 s) before it tries again.
//
// The bytes on the wire are what glibc 2.36 sends for
// openlog(ident, LOG_PID, facility) + syslog(level, "%s", text) (RFC 3164
// style, doc/platform.md §11):
//   "<PRI>Mmm dd hh:mm:ss ident[pid]: text"
// PRI = facility | severity, the timestamp in local time, no trailing newline
// or NUL on a datagram socket; on a stream socket each message ends with a
// NUL, as glibc does.
//
// Failures: a daemon that went away (ECONNREFUSED, ENOTCONN, ECONNRESET,
// EPIPE) gets one immediate reconnect and resend; if /dev/log cannot be
// reached the lines are dropped (as glibc drops them) and counted, and the
// next attempt waits for the backoff. A syslog daemon that does not read
// blocks send(): the caller waits (the log queue holds lines meanwhile).
//
// Thread-safety: one thread at a time (the log queue's sink lock).
#pragma once

#include <cstdint>
#include <string>

#include "util/clock.hpp"
#include "util/log_queue.hpp"

namespace rcptguard {

class SyslogSocket {
public:
    // Does not connect yet; the first send() does (or connect_now()).
    SyslogSocket(std::string path, std::string ident, int facility, const Clock& clock);
    ~SyslogSocket();
    SyslogSocket(const SyslogSocket&) = delete;
    SyslogSocket& operator=(const SyslogSocket&) = delete;

    void send(const LogRecord* records, std::size_t count) noexcept;
    // Tries to connect unless the backoff says wait; true if connected.
    bool connect_now() noexcept;

    bool connected() const { return fd_ >= 0; }
    std::uint64_t dropped() const { return dropped_; }
    std::uint64_t connect_attempts() const { return connect_attempts_; }

private:
    void disconnect() noexcept;
    // Sends records [from, count) on a datagram socket; returns how many were
    // sent before an error (errno set) or count.
    std::size_t send_datagrams(const LogRecord* records, std::size_t count) noexcept;
    std::size_t send_stream(const LogRecord* records, std::size_t count) noexcept;
    // "<PRI>Mmm dd hh:mm:ss ident[pid]: " into buf; returns its length.
    std::size_t header(const LogRecord& r, char* buf, std::size_t size) noexcept;

    const std::string path_;
    const std::string ident_;
    const int facility_;
    const Clock& clock_;
    int fd_ = -1;
    bool stream_ = false;
    Millis next_attempt_{0};
    Millis backoff_{0};
    std::uint64_t dropped_ = 0;
    std::uint64_t connect_attempts_ = 0;
    // "Mmm dd hh:mm:ss ident[pid]: " for the last second seen (localtime_r and
    // snprintf are not free).
    std::int64_t stamp_seconds_ = -1;
    long stamp_pid_ = -1;
    char stamp_[256] = {0};
    std::size_t stamp_len_ = 0;
    long pid_ = 0;
};

}  // namespace rcptguard
