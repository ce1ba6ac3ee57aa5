// smtp_channel: the byte stream under one call-ahead SMTP connection: a
// non-blocking TCP socket, optionally upgraded to TLS after STARTTLS
// (RFC 3207) with OpenSSL.
//
// Every wait - connect, send, receive, the TLS handshake - ends at a deadline
// the caller gives, enforced with poll(2) on the non-blocking socket; signals
// and alarm() are never used. Writes use MSG_NOSIGNAL and OpenSSL only ever
// sees memory BIOs (the socket I/O is ours), so a server that closed the
// connection gives an error, never SIGPIPE, whatever the process's signal
// settings (rcptguard-ctl and the unit tests do not ignore SIGPIPE;
// doc/platform.md §13.4).
//
// TLS: TlsClientContext is the OpenSSL context of one backend, made while the
// configuration is read. With verify, the server's certificate must chain to a
// CA in the CA file and carry the IP address the backend connects to (in a
// subjectAltName); TLS 1.2 or later either way. Without verify (opportunistic
// STARTTLS) the session is encrypted but anyone in the path could pose as the
// server, as with Postfix's "may" level.
//
// Thread-safety: a TlsClientContext is shared read-only by all connections of
// a backend (OpenSSL contexts may be used from many threads once set up); a
// channel is used by one thread at a time.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "util/network.hpp"
#include "util/unique_fd.hpp"

struct ssl_ctx_st;  // OpenSSL's SSL_CTX
struct ssl_st;      // OpenSSL's SSL
struct bio_st;      // OpenSSL's BIO

namespace rcptguard {

using SmtpDeadline = std::chrono::steady_clock::time_point;

class TlsClientContext {
public:
    // nullptr and *error when the CA file cannot be loaded (verify only).
    static std::shared_ptr<const TlsClientContext> create(bool verify, const std::string& ca_file, std::string* error);
    ~TlsClientContext();
    TlsClientContext(const TlsClientContext&) = delete;
    TlsClientContext& operator=(const TlsClientContext&) = delete;

    bool verify() const { return verify_; }
    const std::string& ca_file() const { return ca_file_; }
    ssl_ctx_st* get() const { return ctx_; }

private:
    TlsClientContext(ssl_ctx_st* ctx, bool verify, std::string ca_file)
        : ctx_(ctx), verify_(verify), ca_file_(std::move(ca_file)) {}
    ssl_ctx_st* ctx_;
    bool verify_;
    std::string ca_file_;
};

enum class IoStatus {
    Ok,
    Closed,    // the server closed the connection (or the TLS session)
    TimedOut,  // the deadline passed
    Failed,    // an error; the message says which
};

class SmtpChannel {
public:
    // A TCP connection to address:port, or nullptr with *status (TimedOut or
    // Failed) and *error ("Connection refused").
    static std::unique_ptr<SmtpChannel> connect(const IpAddress& address, int port, SmtpDeadline deadline,
                                                IoStatus* status, std::string* error);
    ~SmtpChannel();
    SmtpChannel(const SmtpChannel&) = delete;
    SmtpChannel& operator=(const SmtpChannel&) = delete;

    // Sends all of data (through TLS once it is on).
    IoStatus send(std::string_view data, SmtpDeadline deadline, std::string* error);
    // Appends the bytes that arrive next (at least one) to *out.
    IoStatus receive(std::string* out, SmtpDeadline deadline, std::string* error);
    // The TLS handshake, after the server's 220 to STARTTLS; afterwards send()
    // and receive() go through TLS. false and *error if it failed (the
    // connection is then unusable).
    bool start_tls(const TlsClientContext& tls, const IpAddress& peer, SmtpDeadline deadline, std::string* error);
    bool tls() const { return ssl_ != nullptr; }
    // Sends data if the socket takes it at once; never waits, ignores errors
    // (QUIT as a connection is closed).
    void send_now(std::string_view data) noexcept;

private:
    explicit SmtpChannel(UniqueFd fd) : fd_(std::move(fd)) {}
    IoStatus raw_send(std::string_view data, SmtpDeadline deadline, std::string* error);
    IoStatus raw_receive(std::string* out, SmtpDeadline deadline, std::string* error);
    // Moves what OpenSSL wrote into its output BIO to the socket.
    IoStatus flush_tls(SmtpDeadline deadline, std::string* error);
    // Reads from the socket into OpenSSL's input BIO.
    IoStatus fill_tls(SmtpDeadline deadline, std::string* error);
    std::string tls_failure(int ret, const TlsClientContext* tls) const;

    UniqueFd fd_;
    ssl_st* ssl_ = nullptr;
    bio_st* tls_in_ = nullptr;   // owned by ssl_
    bio_st* tls_out_ = nullptr;  // owned by ssl_
};

}  // namespace rcptguard
