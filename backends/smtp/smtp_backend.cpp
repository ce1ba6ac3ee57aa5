// smtp_backend: see smtp_backend.hpp. Pool and retry rules from
// doc/platform.md §8.4 (bounded check-out, a dead pooled connection retried
// once on a new one, then TempFail - never a guessed verdict); what
// downstream servers do in §13.
#include "backends/smtp/smtp_backend.hpp"

#include "util/address.hpp"
#include "util/duration.hpp"
#include "util/log.hpp"
#include "util/text.hpp"

namespace rcptguard {

namespace {

using Clock = std::chrono::steady_clock;

// True when key is a mailbox address in canonical form, safe to put between
// the brackets of RCPT TO: the core only ever passes such keys, but a key
// with a NUL, CR or LF, or anything else that is not an address, must never
// reach the wire.
bool sendable(std::string_view key) {
    if (key.empty() || key.front() == '@') return false;
    AddressOptions exact;
    exact.fold_local_case = false;
    exact.recipient_delimiters.clear();
    Address a = parse_address(key, exact);
    return a.status == AddressStatus::Mailbox && a.canonical() == key;
}

bool is_ascii(std::string_view s) {
    for (char c : s)
        if (static_cast<unsigned char>(c) >= 0x80) return false;
    return true;
}

void append(std::string* list, const std::string& item) {
    if (!list->empty()) *list += "; ";
    *list += item;
}

BlindMxDetector::Finding finding_of(const SmtpReply& r) {
    switch (classify_rcpt_reply(r)) {
        case RcptVerdict::Accepted: return BlindMxDetector::Finding::Accepted;
        case RcptVerdict::Unknown: return BlindMxDetector::Finding::Unknown;
        case RcptVerdict::Other: break;
    }
    return BlindMxDetector::Finding::Inconclusive;
}

// Hands a blind-MX check back as "no answer" unless it was completed, also
// when the lookup ends early.
class CheckGuard {
public:
    CheckGuard(BlindMxDetector& d, const std::string& domain, bool active)
        : detector_(d), domain_(domain), active_(active) {}
    ~CheckGuard() {
        if (!active_) return;
        try {
            detector_.check_done(domain_, BlindMxDetector::Finding::NoAnswer, Clock::now());
        } catch (...) {}
    }
    CheckGuard(const CheckGuard&) = delete;
    CheckGuard& operator=(const CheckGuard&) = delete;
    BlindMxDetector::Change done(BlindMxDetector::Finding f) {
        active_ = false;
        return detector_.check_done(domain_, f, Clock::now());
    }

private:
    BlindMxDetector& detector_;
    const std::string& domain_;
    bool active_;
};

}  // namespace

struct SmtpBackend::Asked {
    bool answered = false;  // replies holds one reply per recipient
    std::string host;       // the host that answered
    std::vector<SmtpReply> replies;
    std::string error;  // !answered: why, for the TempFail
};

SmtpBackend::SmtpBackend(std::string name, SmtpOptions opts)
    : Backend(std::move(name), "smtp"),
      opts_(std::move(opts)),
      health_(opts_.retry_after),
      blind_(opts_.blind_check_interval) {
    for (const SmtpServer& s : opts_.hosts)
        hosts_.push_back(Host{s, std::make_unique<Pool>(opts_.max_connections, opts_.idle_timeout)});
}

SmtpBackend::~SmtpBackend() = default;

std::unique_ptr<SmtpConnection> SmtpBackend::connect(const SmtpServer& server, std::string* error) const {
    bool tls_failed = false;
    std::unique_ptr<SmtpConnection> c = SmtpConnection::open(server, opts_.client, error, &tls_failed);
    if (c || !tls_failed || opts_.client.starttls != StartTlsPolicy::Opportunistic) return c;
    // Opportunistic TLS falls back to plain text on a new connection, as
    // Postfix's "may" level does.
    std::string first = *error;
    c = SmtpConnection::open(server, opts_.client, error, nullptr, false);
    if (c)
        log_warning("backend " + name() + ": " + server.name + ": " + first +
                    "; going on without TLS (starttls = opportunistic)");
    else
        *error = first + "; without TLS: " + *error;
    return c;
}

SmtpBackend::Asked SmtpBackend::ask(const std::vector<std::string>& recipients, bool smtputf8) const {
    std::string problems;  // every host not used, in order, for the reason
    std::string failed;    // the hosts tried now that failed, for the warning
    for (const Host& h : hosts_) {
        const std::string& host = h.server.name;
        std::string why;
        if (!health_.may_try(host, Clock::now(), &why)) {
            append(&problems, host + ": " + why);
            continue;
        }
        std::string earlier;  // a pooled connection's failure, when retrying
        for (int attempt = 0; attempt < 2; ++attempt) {
            auto so_far = [&](const std::string& e) {
                return host + ": " + (earlier.empty() ? e : earlier + "; retried on a new connection: " + e);
            };
            bool open_failed = false;
            auto open = [&](std::string* e) {
                std::unique_ptr<SmtpConnection> c = connect(h.server, e);
                if (!c) {
                    open_failed = true;
                    health_.failed(host, *e, Clock::now());
                }
                return c;
            };
            std::string error;
            Pool::Lease c = h.pool->checkout(Clock::now() + opts_.client.command_timeout, open, &error);
            if (!c && !open_failed)
                return {false,
                        host,
                        {},
                        host + ": all " + std::to_string(opts_.max_connections) + " connections busy for " +
                            format_duration(opts_.client.command_timeout) + " (max_connections)"};
            if (!c) {
                append(&problems, so_far(error));
                append(&failed, so_far(error));
                break;
            }
            if (smtputf8 && !c->offers_smtputf8())
                return {
                    false, host, {}, host + ": the address needs SMTPUTF8 (RFC 6531), which the server does not offer"};
            SmtpProbeResult p = c->probe(opts_.probe_sender, recipients, smtputf8);
            if (p.outcome == SmtpProbeResult::Outcome::Lost) {
                // A pooled connection may just be stale (the server closed it
                // while it was idle): once more on a new one; the idle ones
                // opened before it share its fate.
                bool retry = c.reused() && attempt == 0;
                c.discard(true);
                if (retry) {
                    earlier = p.error;
                    continue;
                }
                health_.failed(host, p.error, Clock::now());
                append(&problems, so_far(p.error));
                append(&failed, so_far(p.error));
                break;
            }
            if (!c.reused()) health_.succeeded(host);
            if (c->spent()) c.discard();
            if (!failed.empty()) log_warning("backend " + name() + ": " + failed + "; using " + host);
            if (p.outcome == SmtpProbeResult::Outcome::Refused) return {false, host, {}, host + ": " + p.error};
            return {true, host, std::move(p.rcpt_replies), ""};
        }
    }
    return {false, "", {}, problems.empty() ? "no host configured" : problems};
}

LookupResult SmtpBackend::unverified(const std::string& domain) const {
    return LookupResult::found_unverified("the downstream accepts every recipient of " + domain +
                                          " (blind MX): not verified");
}

LookupResult SmtpBackend::lookup(std::string_view key) const noexcept {
    try {
        if (!sendable(key)) {
            // A catch-all key, or something no server can have a mailbox for.
            log_debug("backend " + name() + ": <" + printable(key) + ">: not probed: not an address");
            return LookupResult::not_found();
        }
        const std::string address(key);
        const std::string domain = address.substr(address.rfind('@') + 1);
        BlindMxDetector::Plan plan = blind_.plan(domain, Clock::now());
        if (plan.blind && !plan.check) return unverified(domain);
        std::vector<std::string> recipients;
        if (plan.check) recipients.push_back(blind_probe_address(domain));
        recipients.push_back(address);
        CheckGuard check(blind_, domain, plan.check);

        Asked a = ask(recipients, !is_ascii(address));
        if (!a.answered) return LookupResult::tempfail(a.error);
        if (plan.check) {
            const SmtpReply& nx = a.replies.front();
            BlindMxDetector::Finding f = finding_of(nx);
            BlindMxDetector::Change change = check.done(f);
            if (change.blind) {
                log_warning("backend " + name() + ": " + a.host + " accepted <" + printable(recipients.front()) +
                            ">, an address that cannot exist (" + nx.summary(120) +
                            "): it accepts every recipient of " + domain +
                            " (a blind MX), so asking it proves nothing; recipients of " + domain +
                            " are accepted unchecked until the next check in " + format_duration(blind_.interval()) +
                            " (blind_check_interval). Make that server reject unknown recipients at RCPT time "
                            "(Exchange: Recipient Filtering; Postfix: relay_recipient_maps or local_recipient_maps), "
                            "or let rcptguard read its users (type = ldap)");
                return unverified(domain);
            }
            if (change.stopped_blind) {
                generation_.fetch_add(1, std::memory_order_relaxed);
                log_notice("backend " + name() + ": " + a.host + " now rejects unknown recipients of " + domain +
                           ": probing them again");
            }
            if (f == BlindMxDetector::Finding::Inconclusive)
                log_info("backend " + name() + ": " + a.host + ": cannot tell whether it accepts every recipient of " +
                         domain + ": <" + printable(recipients.front()) + "> got " + nx.summary(120) +
                         "; checked again in " + format_duration(blind_.interval()));
        }
        const SmtpReply& r = a.replies.back();
        switch (classify_rcpt_reply(r)) {
            case RcptVerdict::Accepted:
                log_debug("backend " + name() + ": " + a.host + ": <" + printable(address) + ">: " + r.summary() +
                          ": found");
                return LookupResult::found();
            case RcptVerdict::Unknown:
                log_info("backend " + name() + ": " + a.host + ": <" + printable(address) + ">: " + r.summary() +
                         ": unknown");
                return LookupResult::not_found();
            case RcptVerdict::Other: break;
        }
        return LookupResult::tempfail(a.host + ": RCPT TO answered " + r.summary());
    } catch (...) {
        return LookupResult::tempfail("out of memory");
    }
}

LookupResult SmtpBackend::lookup_any(const std::vector<std::string>& keys, std::size_t* matched) const noexcept {
    // Only the full address: the downstream applies its own +detail and
    // catch-all rules, and the other keys are not addresses it would see.
    if (keys.empty()) return LookupResult::not_found();
    LookupResult r = lookup(keys.front());
    if (r.status == LookupStatus::Found && matched) *matched = 0;
    return r;
}

void SmtpBackend::maintain() noexcept {
    auto now = Pool::Clock::now();
    for (const Host& h : hosts_) h.pool->close_idle(now);
}

std::string SmtpBackend::probe() const {
    std::string problems;
    for (const Host& h : hosts_) {
        std::string error;
        std::unique_ptr<SmtpConnection> c = connect(h.server, &error);
        if (c) {
            if (!problems.empty()) log_warning("backend " + name() + ": " + problems + "; using " + h.server.name);
            h.pool->add_idle(std::move(c));
            return "";
        }
        append(&problems, h.server.name + ": " + error);
    }
    return problems;
}

std::vector<int> SmtpBackend::open_connections() const {
    std::vector<int> n;
    for (const Host& h : hosts_) n.push_back(h.pool->open_count());
    return n;
}

}  // namespace rcptguard
