// smtp_channel: see smtp_channel.hpp.
#include "backends/smtp/smtp_channel.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

namespace rcptguard {

namespace {

// 1: fd is ready for events; 0: the deadline passed; -1: poll failed (errno).
int wait_ready(int fd, short events, SmtpDeadline deadline) {
    for (;;) {
        auto left = deadline - std::chrono::steady_clock::now();
        if (left <= left.zero()) return 0;
        // Rounded up, so a wait never ends a moment before the deadline and spins.
        auto ms = std::chrono::ceil<std::chrono::milliseconds>(left).count();
        pollfd p{fd, events, 0};
        int r = ::poll(&p, 1, ms > 60'000 ? 60'000 : static_cast<int>(ms));
        if (r > 0) return 1;  // also POLLERR/POLLHUP: the next call says what happened
        if (r < 0 && errno != EINTR) return -1;
    }
}

std::string openssl_errors() {
    std::string s;
    while (unsigned long e = ERR_get_error()) {
        char buf[256];
        ERR_error_string_n(e, buf, sizeof buf);
        if (!s.empty()) s += "; ";
        s += buf;
    }
    return s;
}

}  // namespace

// --- TlsClientContext -----------------------------------------------------------------

std::shared_ptr<const TlsClientContext> TlsClientContext::create(bool verify, const std::string& ca_file,
                                                                 std::string* error) {
    ERR_clear_error();
    SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx) {
        *error = "cannot create a TLS context: " + openssl_errors();
        return nullptr;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    if (verify) {
        if (SSL_CTX_load_verify_locations(ctx, ca_file.c_str(), nullptr) != 1) {
            *error = "cannot load CA certificates from " + ca_file + ": " + openssl_errors();
            SSL_CTX_free(ctx);
            return nullptr;
        }
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
    } else {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
    }
    return std::shared_ptr<const TlsClientContext>(new TlsClientContext(ctx, verify, ca_file));
}

TlsClientContext::~TlsClientContext() { SSL_CTX_free(ctx_); }

// --- SmtpChannel ----------------------------------------------------------------------

std::unique_ptr<SmtpChannel> SmtpChannel::connect(const IpAddress& address, int port, SmtpDeadline deadline,
                                                  IoStatus* status, std::string* error) {
    sockaddr_storage sa{};
    socklen_t len = 0;
    if (address.v6) {
        auto* s6 = reinterpret_cast<sockaddr_in6*>(&sa);
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons(static_cast<std::uint16_t>(port));
        std::memcpy(&s6->sin6_addr, address.bytes.data(), 16);
        len = sizeof *s6;
    } else {
        auto* s4 = reinterpret_cast<sockaddr_in*>(&sa);
        s4->sin_family = AF_INET;
        s4->sin_port = htons(static_cast<std::uint16_t>(port));
        std::memcpy(&s4->sin_addr, address.bytes.data(), 4);
        len = sizeof *s4;
    }
    *status = IoStatus::Failed;
    UniqueFd fd(::socket(sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!fd) {
        *error = std::string("socket: ") + std::strerror(errno);
        return nullptr;
    }
    // Commands are a few bytes each and wait for their answer: no Nagle delay.
    int one = 1;
    ::setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&sa), len) != 0) {
        if (errno != EINPROGRESS) {
            *error = std::strerror(errno);
            return nullptr;
        }
        int r = wait_ready(fd.get(), POLLOUT, deadline);
        if (r == 0) {
            *status = IoStatus::TimedOut;
            *error = "timed out";
            return nullptr;
        }
        int so_error = 0;
        socklen_t so_len = sizeof so_error;
        if (r < 0 || ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &so_error, &so_len) != 0) so_error = errno;
        if (so_error != 0) {
            *error = std::strerror(so_error);
            return nullptr;
        }
    }
    *status = IoStatus::Ok;
    return std::unique_ptr<SmtpChannel>(new SmtpChannel(std::move(fd)));
}

SmtpChannel::~SmtpChannel() {
    if (ssl_) SSL_free(ssl_);  // frees both BIOs
}

IoStatus SmtpChannel::raw_send(std::string_view data, SmtpDeadline deadline, std::string* error) {
    while (!data.empty()) {
        ssize_t n = ::send(fd_.get(), data.data(), data.size(), MSG_NOSIGNAL);
        if (n > 0) {
            data.remove_prefix(static_cast<std::size_t>(n));
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            int r = wait_ready(fd_.get(), POLLOUT, deadline);
            if (r == 0) return IoStatus::TimedOut;
            if (r < 0) {
                *error = std::strerror(errno);
                return IoStatus::Failed;
            }
            continue;
        }
        if (n < 0 && (errno == EPIPE || errno == ECONNRESET)) {
            *error = std::strerror(errno);
            return IoStatus::Closed;
        }
        *error = n < 0 ? std::strerror(errno) : "send returned nothing";
        return IoStatus::Failed;
    }
    return IoStatus::Ok;
}

IoStatus SmtpChannel::raw_receive(std::string* out, SmtpDeadline deadline, std::string* error) {
    char buf[16384];
    for (;;) {
        ssize_t n = ::recv(fd_.get(), buf, sizeof buf, 0);
        if (n > 0) {
            out->append(buf, static_cast<std::size_t>(n));
            return IoStatus::Ok;
        }
        if (n == 0) return IoStatus::Closed;
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            int r = wait_ready(fd_.get(), POLLIN, deadline);
            if (r == 0) return IoStatus::TimedOut;
            if (r < 0) {
                *error = std::strerror(errno);
                return IoStatus::Failed;
            }
            continue;
        }
        *error = std::strerror(errno);
        return errno == ECONNRESET ? IoStatus::Closed : IoStatus::Failed;
    }
}

IoStatus SmtpChannel::flush_tls(SmtpDeadline deadline, std::string* error) {
    char buf[16384];
    while (BIO_ctrl_pending(tls_out_) > 0) {
        int n = BIO_read(tls_out_, buf, sizeof buf);
        if (n <= 0) break;
        IoStatus s = raw_send(std::string_view(buf, static_cast<std::size_t>(n)), deadline, error);
        if (s != IoStatus::Ok) return s;
    }
    return IoStatus::Ok;
}

IoStatus SmtpChannel::fill_tls(SmtpDeadline deadline, std::string* error) {
    std::string bytes;
    IoStatus s = raw_receive(&bytes, deadline, error);
    if (s != IoStatus::Ok) return s;
    if (BIO_write(tls_in_, bytes.data(), static_cast<int>(bytes.size())) != static_cast<int>(bytes.size())) {
        *error = "TLS buffer: " + openssl_errors();
        return IoStatus::Failed;
    }
    return IoStatus::Ok;
}

IoStatus SmtpChannel::send(std::string_view data, SmtpDeadline deadline, std::string* error) {
    if (!ssl_) return raw_send(data, deadline, error);
    if (data.empty()) return IoStatus::Ok;
    ERR_clear_error();
    // With memory BIOs SSL_write takes everything at once (the output BIO grows).
    int n = SSL_write(ssl_, data.data(), static_cast<int>(data.size()));
    if (n <= 0) {
        *error = tls_failure(n, nullptr);
        return IoStatus::Failed;
    }
    return flush_tls(deadline, error);
}

IoStatus SmtpChannel::receive(std::string* out, SmtpDeadline deadline, std::string* error) {
    if (!ssl_) return raw_receive(out, deadline, error);
    char buf[16384];
    for (;;) {
        ERR_clear_error();
        int n = SSL_read(ssl_, buf, sizeof buf);
        if (n > 0) {
            out->append(buf, static_cast<std::size_t>(n));
            return IoStatus::Ok;
        }
        int e = SSL_get_error(ssl_, n);
        // TLS 1.3 servers send session tickets after the handshake: records
        // that carry no data, so the read asks for more.
        IoStatus s = flush_tls(deadline, error);
        if (s != IoStatus::Ok) return s;
        if (e == SSL_ERROR_WANT_READ) {
            s = fill_tls(deadline, error);
            if (s != IoStatus::Ok) return s;
            continue;
        }
        if (e == SSL_ERROR_ZERO_RETURN) return IoStatus::Closed;
        *error = tls_failure(n, nullptr);
        return IoStatus::Failed;
    }
}

bool SmtpChannel::start_tls(const TlsClientContext& tls, const IpAddress& peer, SmtpDeadline deadline,
                            std::string* error) {
    ERR_clear_error();
    ssl_ = SSL_new(tls.get());
    tls_in_ = BIO_new(BIO_s_mem());
    tls_out_ = BIO_new(BIO_s_mem());
    if (!ssl_ || !tls_in_ || !tls_out_) {
        *error = "cannot set up TLS: " + openssl_errors();
        BIO_free(tls_in_);
        BIO_free(tls_out_);
        if (ssl_) SSL_free(ssl_);
        ssl_ = nullptr;
        tls_in_ = tls_out_ = nullptr;
        return false;
    }
    // An empty input BIO means "wait for more", not end of stream.
    BIO_set_mem_eof_return(tls_in_, -1);
    SSL_set_bio(ssl_, tls_in_, tls_out_);
    SSL_set_connect_state(ssl_);
    // The certificate must name the address we connected to (hosts are IP
    // addresses: rcptguard never resolves names on the mail path).
    if (tls.verify() && X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl_), peer.to_string().c_str()) != 1) {
        *error = "cannot set the name to check: " + openssl_errors();
        return false;
    }
    for (;;) {
        ERR_clear_error();
        int r = SSL_do_handshake(ssl_);
        IoStatus s = flush_tls(deadline, error);
        if (s == IoStatus::TimedOut) *error = "timed out";
        if (s != IoStatus::Ok) return false;
        if (r == 1) return true;
        if (SSL_get_error(ssl_, r) != SSL_ERROR_WANT_READ) {
            *error = tls_failure(r, &tls);
            return false;
        }
        s = fill_tls(deadline, error);
        if (s == IoStatus::TimedOut) *error = "timed out";
        if (s == IoStatus::Closed) *error = "the server closed the connection during the handshake";
        if (s != IoStatus::Ok) return false;
    }
}

std::string SmtpChannel::tls_failure(int ret, const TlsClientContext* tls) const {
    if (tls && tls->verify()) {
        long v = SSL_get_verify_result(ssl_);
        if (v != X509_V_OK)
            return std::string("the server's certificate was not accepted: ") + X509_verify_cert_error_string(v) +
                   " (checked against tls_ca_file " + tls->ca_file() + ")";
    }
    std::string errors = openssl_errors();
    if (!errors.empty()) return errors;
    return "TLS error " + std::to_string(SSL_get_error(ssl_, ret));
}

void SmtpChannel::send_now(std::string_view data) noexcept {
    if (!fd_) return;
    if (ssl_) {
        ERR_clear_error();
        if (SSL_write(ssl_, data.data(), static_cast<int>(data.size())) <= 0) return;
        char buf[4096];
        int n = BIO_read(tls_out_, buf, sizeof buf);
        if (n > 0) (void)::send(fd_.get(), buf, static_cast<std::size_t>(n), MSG_NOSIGNAL | MSG_DONTWAIT);
        ERR_clear_error();
        return;
    }
    (void)::send(fd_.get(), data.data(), data.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
}

}  // namespace rcptguard
