// smtp_backend: call-ahead ("type = smtp"): asks the downstream mail server
// itself whether it has a mailbox, with an SMTP probe - MAIL FROM, RCPT TO,
// RSET, never DATA - as Postfix's reject_unverified_recipient does. For a
// gateway in front of a server whose users rcptguard cannot read (no
// directory access, a hosted or customer's Exchange).
//
// lookup(key):
// - only full addresses are probed, exactly as the key reads; lookup_any()
//   probes only its first key (the full address): +detail and catch-all
//   handling are the downstream's, so the other keys are never sent. A
//   catch-all key ("@domain") given to lookup() is NotFound without probing.
//   A key that is not a well-formed address (a NUL, a control character, no
//   '@') is NotFound without probing: no server has such a mailbox.
// - 250/251 to RCPT -> Found; 550, 551 or 553 with an enhanced code 5.1.x ->
//   NotFound; anything else -> TempFail with the server and its reply
//   (printable, bounded) in the reason: a 4xx, a policy (5.7.x) or system
//   (5.3.x) refusal, a 5xx without an enhanced code, a refused MAIL FROM, a
//   timeout, a refused, reset or closed connection, a 421, a malformed reply
//   (smtp_reply.hpp). A verdict only ever comes from a server that answered.
// - Blind MX (blind_mx.hpp): once per blind_check_interval per domain a probe
//   also asks for a local part that cannot exist; if the server accepts it,
//   that domain's recipients are answered Found without probing (with
//   LookupResult::unverified set, which the metrics count) and a warning with
//   advice is logged, once per check.
// - A non-ASCII address needs SMTPUTF8; a server that does not offer it
//   gives TempFail.
//
// Hosts: tried in order. Each has its own pool (util/connection_pool.hpp) of at
// most max_connections kept-open connections (smtp_connection.hpp), so a
// flood of recipients never opens more than that: when all are busy a probe
// waits up to command_timeout for one, then answers TempFail. A connection is
// closed after probes_per_connection probes, refusals_per_connection refused
// commands, or idle_timeout without use (maintain()). A host that failed (no
// connection, greeting or EHLO refused, TLS failed, timeout, connection lost
// on a new connection) is skipped for retry_after (util/host_health.hpp) and
// the next host is tried; a pooled connection that turns out dead is dropped
// with the idle ones opened before it and the probe is tried once more on a
// new connection. A host that answered the probe - whatever it said - ends
// the search.
//
// generation() moves when a blind domain starts filtering, so the cache
// forgets the recipients it was told to accept unchecked.
// Thread-safety: lookup() from any thread; maintain() from one.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "backends/backend.hpp"
#include "backends/smtp/blind_mx.hpp"
#include "backends/smtp/smtp_connection.hpp"
#include "util/connection_pool.hpp"
#include "util/host_health.hpp"

namespace rcptguard {

struct SmtpOptions {
    std::vector<SmtpServer> hosts;
    SmtpClientSettings client;
    std::string probe_sender = "<>";  // the MAIL FROM path, with its brackets
    int max_connections = 4;          // per host
    std::chrono::milliseconds blind_check_interval{3'600'000};
    std::chrono::milliseconds retry_after{2000};
    std::chrono::milliseconds idle_timeout{60'000};
};

class SmtpBackend final : public Backend {
public:
    SmtpBackend(std::string name, SmtpOptions opts);
    ~SmtpBackend() override;

    LookupResult lookup(std::string_view key) const noexcept override;
    LookupResult lookup_any(const std::vector<std::string>& keys, std::size_t* matched) const noexcept override;
    void maintain() noexcept override;
    unsigned long generation() const noexcept override { return generation_.load(std::memory_order_relaxed); }

    // Opens a connection to the first host that answers (greeting, EHLO,
    // STARTTLS as configured): "" if one did (the connection stays in its
    // pool), else why none did (for the start-up warning and "rcptguard -n").
    std::string probe() const;

    // Connections open now to each host (idle or in use), for the tests.
    std::vector<int> open_connections() const;

private:
    using Pool = ConnectionPool<SmtpConnection>;
    struct Host {
        SmtpServer server;
        std::unique_ptr<Pool> pool;
    };
    struct Asked;
    Asked ask(const std::vector<std::string>& recipients, bool smtputf8) const;
    std::unique_ptr<SmtpConnection> connect(const SmtpServer& server, std::string* error) const;
    LookupResult unverified(const std::string& domain) const;

    SmtpOptions opts_;
    std::vector<Host> hosts_;
    mutable HostHealth health_;
    mutable BlindMxDetector blind_;
    mutable std::atomic<unsigned long> generation_{0};
};

}  // namespace rcptguard
