// smtp_connection: one kept-open SMTP session with a downstream server, used
// for recipient probes (call-ahead): greeting, EHLO (HELO if EHLO is
// refused), STARTTLS as configured, then any number of probes, each
// "MAIL FROM:<sender>" plus one "RCPT TO:<recipient>" per recipient asked,
// followed by RSET. No message is ever sent (no DATA).
//
// With PIPELINING (RFC 2920, doc/platform.md §13.2) a probe is one round trip: the RSET after the
// previous probe is sent at once but its reply is read together with the
// replies to the next MAIL and RCPTs. Without it, each command waits for its
// reply, and the RSET's reply is read before the probe returns.
//
// Timeouts: open() - connect, greeting, EHLO, STARTTLS, the TLS handshake and
// the second EHLO - must finish within connect_timeout; a probe's replies
// within command_timeout.
//
// probe() answers:
// - Answered: MAIL FROM was accepted and each RCPT got a reply (of any code;
//   classify_rcpt_reply() in smtp_reply.hpp judges them).
// - Refused: the server refused MAIL FROM (for instance it does not take the
//   null sender): no verdict; the connection stays usable.
// - Lost: no usable answer - a timeout, the connection closed or reset, a
//   malformed reply (smtp_reply.hpp), a 421 (the server is closing the
//   session), an RSET that was not accepted: the connection must be dropped.
// A connection is spent() after probes_per_connection probes or
// refusals_per_connection refused MAIL/RCPT commands (servers slow down or
// cut off sessions with many refused recipients, doc/platform.md §13.3), or
// once anything went wrong; its owner then
// closes it. The destructor sends QUIT without waiting for the answer.
//
// Nothing the server sends is trusted: replies are bounded and checked
// (smtp_reply.hpp), and bytes the server sends after its 220 to STARTTLS but
// before the handshake are refused (a plaintext injection, RFC 3207 §6).
// Thread-safety: one thread at a time (the backend's pool hands it out).
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "backends/smtp/smtp_channel.hpp"
#include "backends/smtp/smtp_reply.hpp"
#include "util/network.hpp"

namespace rcptguard {

// One downstream server.
struct SmtpServer {
    std::string name;  // "192.0.2.25:25", "[2001:db8::25]:25": in logs, and the host-health key
    IpAddress address;
    int port = 25;
};

enum class StartTlsPolicy {
    No,             // never
    Opportunistic,  // when offered, without checking the certificate; plain text otherwise
    Require,        // always, with the certificate checked; a server without STARTTLS is not used
};

struct SmtpClientSettings {
    std::string helo_name;
    StartTlsPolicy starttls = StartTlsPolicy::No;
    std::shared_ptr<const TlsClientContext> tls;  // set unless starttls = no
    std::chrono::milliseconds connect_timeout{5000};
    std::chrono::milliseconds command_timeout{10000};
    int probes_per_connection = 100;
    int refusals_per_connection = 8;  // 0: no limit
};

struct SmtpProbeResult {
    enum class Outcome { Answered, Refused, Lost };
    Outcome outcome = Outcome::Lost;
    std::vector<SmtpReply> rcpt_replies;  // Answered: one per recipient, in order
    std::string error;                    // Refused and Lost: what happened
};

class SmtpConnection {
public:
    // A ready session, or nullptr and *error ("connect: Connection refused",
    // "greeting: 554 5.3.2 No service", "STARTTLS: the server's certificate was
    // not accepted: ..."). *tls_failed tells that the failure was the TLS
    // handshake (opportunistic STARTTLS then tries again without it).
    // use_tls false: no STARTTLS whatever the settings say.
    static std::unique_ptr<SmtpConnection> open(const SmtpServer& server, const SmtpClientSettings& settings,
                                                std::string* error, bool* tls_failed = nullptr, bool use_tls = true);
    ~SmtpConnection();
    SmtpConnection(const SmtpConnection&) = delete;
    SmtpConnection& operator=(const SmtpConnection&) = delete;

    // sender with its brackets ("<>", "<probe@example.com>"); recipients
    // without ("user@example.com"), each already checked to be an address.
    // smtputf8 adds the SMTPUTF8 parameter (RFC 6531) to MAIL FROM.
    SmtpProbeResult probe(std::string_view sender, const std::vector<std::string>& recipients, bool smtputf8);

    bool spent() const;
    bool tls() const { return channel_->tls(); }
    bool offers_smtputf8() const { return extensions_.smtputf8; }
    bool pipelining() const { return extensions_.pipelining; }
    const SmtpServer& server() const { return server_; }

private:
    SmtpConnection(const SmtpServer& server, const SmtpClientSettings& settings, std::unique_ptr<SmtpChannel> ch)
        : server_(server), settings_(settings), channel_(std::move(ch)) {}
    // The next reply, or false and *error naming what (e.g. "RCPT TO") and
    // why; setup: a step of open() (connect_timeout), else of a probe
    // (command_timeout). A failure marks the connection broken.
    bool read_reply(SmtpDeadline deadline, const char* what, bool setup, SmtpReply* reply, std::string* error);
    bool send(std::string_view data, SmtpDeadline deadline, const char* what, bool setup, std::string* error);
    bool handshake(SmtpDeadline deadline, bool use_tls, std::string* error, bool* tls_failed);
    bool ehlo(SmtpDeadline deadline, std::string* error);
    SmtpProbeResult lost(std::string error);

    SmtpServer server_;
    SmtpClientSettings settings_;
    std::unique_ptr<SmtpChannel> channel_;
    SmtpReplyReader reader_;
    SmtpExtensions extensions_;
    int probes_ = 0;
    int refusals_ = 0;
    bool rset_pending_ = false;  // an RSET was sent whose reply is still to be read
    bool broken_ = false;        // unusable: never reuse, no QUIT
};

}  // namespace rcptguard
