// smtp_connection: see smtp_connection.hpp.
#include "backends/smtp/smtp_connection.hpp"

#include "util/duration.hpp"

namespace rcptguard {

namespace {

using Clock = std::chrono::steady_clock;

constexpr bool kSetup = true;     // a step of open(): connect_timeout
constexpr bool kCommand = false;  // a step of a probe: command_timeout

}  // namespace

std::unique_ptr<SmtpConnection> SmtpConnection::open(const SmtpServer& server, const SmtpClientSettings& settings,
                                                     std::string* error, bool* tls_failed, bool use_tls) {
    if (tls_failed) *tls_failed = false;
    SmtpDeadline deadline = Clock::now() + settings.connect_timeout;
    IoStatus status = IoStatus::Failed;
    std::string why;
    std::unique_ptr<SmtpChannel> channel = SmtpChannel::connect(server.address, server.port, deadline, &status, &why);
    if (!channel) {
        *error = "connect: " +
                 (status == IoStatus::TimedOut
                      ? "no connection within " + format_duration(settings.connect_timeout) + " (connect_timeout)"
                      : why);
        return nullptr;
    }
    std::unique_ptr<SmtpConnection> c(new SmtpConnection(server, settings, std::move(channel)));
    bool failed_tls = false;
    if (!c->handshake(deadline, use_tls, error, &failed_tls)) {
        c->broken_ = true;
        if (tls_failed) *tls_failed = failed_tls;
        return nullptr;
    }
    return c;
}

SmtpConnection::~SmtpConnection() {
    // RFC 5321 §4.1.1.10. The answer is not awaited: closing must not wait
    // for a server that may be slow or gone.
    if (!broken_) channel_->send_now("QUIT\r\n");
}

bool SmtpConnection::send(std::string_view data, SmtpDeadline deadline, const char* what, bool setup,
                          std::string* error) {
    std::string why;
    IoStatus s = channel_->send(data, deadline, &why);
    if (s == IoStatus::Ok) return true;
    broken_ = true;
    if (s == IoStatus::TimedOut)
        *error = std::string(what) + ": could not send within " +
                 format_duration(setup ? settings_.connect_timeout : settings_.command_timeout) +
                 (setup ? " (connect_timeout)" : " (command_timeout)");
    else if (s == IoStatus::Closed)
        *error = std::string(what) + ": the server closed the connection (" + why + ")";
    else
        *error = std::string(what) + ": " + why;
    return false;
}

bool SmtpConnection::read_reply(SmtpDeadline deadline, const char* what, bool setup, SmtpReply* reply,
                                std::string* error) {
    for (;;) {
        std::string problem;
        switch (reader_.next(reply, &problem)) {
            case SmtpReplyReader::Step::Done: return true;
            case SmtpReplyReader::Step::Malformed:
                broken_ = true;
                *error = std::string(what) + ": malformed reply: " + problem;
                return false;
            case SmtpReplyReader::Step::More: break;
        }
        std::string bytes, why;
        IoStatus s = channel_->receive(&bytes, deadline, &why);
        if (s == IoStatus::Ok) {
            reader_.feed(bytes);
            continue;
        }
        broken_ = true;
        if (s == IoStatus::TimedOut)
            *error = std::string(what) + ": no reply within " +
                     format_duration(setup ? settings_.connect_timeout : settings_.command_timeout) +
                     (setup ? " (connect_timeout)" : " (command_timeout)");
        else if (s == IoStatus::Closed)
            *error = std::string(what) + ": the server closed the connection" + (why.empty() ? "" : " (" + why + ")");
        else
            *error = std::string(what) + ": " + why;
        return false;
    }
}

bool SmtpConnection::ehlo(SmtpDeadline deadline, std::string* error) {
    SmtpReply r;
    if (!send("EHLO " + settings_.helo_name + "\r\n", deadline, "EHLO", kSetup, error)) return false;
    if (!read_reply(deadline, "EHLO", kSetup, &r, error)) return false;
    if (r.code == 250) {
        extensions_ = parse_ehlo_reply(r);
        return true;
    }
    if (r.code / 100 != 5) {
        *error = "EHLO: " + r.summary();
        return false;
    }
    // RFC 5321 §4.1.4: a server that does not know EHLO gets HELO (and is
    // then used without extensions).
    if (!send("HELO " + settings_.helo_name + "\r\n", deadline, "HELO", kSetup, error)) return false;
    if (!read_reply(deadline, "HELO", kSetup, &r, error)) return false;
    if (r.code != 250) {
        *error = "HELO: " + r.summary();
        return false;
    }
    extensions_ = SmtpExtensions();
    return true;
}

bool SmtpConnection::handshake(SmtpDeadline deadline, bool use_tls, std::string* error, bool* tls_failed) {
    SmtpReply r;
    if (!read_reply(deadline, "greeting", kSetup, &r, error)) return false;
    if (r.code != 220) {
        *error = "greeting: " + r.summary();
        return false;
    }
    if (!ehlo(deadline, error)) return false;
    if (!use_tls || settings_.starttls == StartTlsPolicy::No || !settings_.tls) return true;
    bool required = settings_.starttls == StartTlsPolicy::Require;
    if (!extensions_.starttls) {
        if (!required) return true;
        *error = "STARTTLS: not offered by the server (starttls = require)";
        return false;
    }
    if (!send("STARTTLS\r\n", deadline, "STARTTLS", kSetup, error)) return false;
    if (!read_reply(deadline, "STARTTLS", kSetup, &r, error)) return false;
    if (r.code != 220) {
        if (!required) return true;  // opportunistic: the session goes on in plain text
        *error = "STARTTLS: " + r.summary();
        return false;
    }
    if (reader_.has_pending()) {
        // RFC 3207 §6: anything after the 220 but before the handshake could
        // have been injected by a man in the middle.
        *error = "STARTTLS: the server sent more after its 220, before the TLS handshake (refused)";
        return false;
    }
    std::string why;
    if (!channel_->start_tls(*settings_.tls, server_.address, deadline, &why)) {
        *tls_failed = true;
        *error = "STARTTLS: TLS handshake failed: " +
                 (why == "timed out"
                      ? "no handshake within " + format_duration(settings_.connect_timeout) + " (connect_timeout)"
                      : why);
        return false;
    }
    // RFC 3207 §4.2: forget what the server said before TLS, and ask again.
    extensions_ = SmtpExtensions();
    return ehlo(deadline, error);
}

SmtpProbeResult SmtpConnection::lost(std::string error) {
    broken_ = true;
    SmtpProbeResult r;
    r.outcome = SmtpProbeResult::Outcome::Lost;
    r.error = std::move(error);
    return r;
}

SmtpProbeResult SmtpConnection::probe(std::string_view sender, const std::vector<std::string>& recipients,
                                      bool smtputf8) {
    SmtpDeadline deadline = Clock::now() + settings_.command_timeout;
    std::string error;
    std::string mail = "MAIL FROM:" + std::string(sender) + (smtputf8 ? " SMTPUTF8" : "") + "\r\n";
    std::vector<std::string> rcpts;
    for (const std::string& r : recipients) rcpts.push_back("RCPT TO:<" + r + ">\r\n");
    // A 421 at any point: the server is closing the session (RFC 5321 §3.8).
    auto closing = [](const char* what, const SmtpReply& r) { return std::string(what) + ": " + r.summary(); };

    SmtpReply mail_reply;
    std::vector<SmtpReply> replies;
    if (extensions_.pipelining) {
        // RFC 2920 §3.1: RSET, MAIL and RCPT may all stand anywhere in a group.
        std::string group = mail;
        for (const std::string& r : rcpts) group += r;
        if (!send(group, deadline, "MAIL FROM", kCommand, &error)) return lost(error);
        if (rset_pending_) {
            SmtpReply r;
            if (!read_reply(deadline, "RSET", kCommand, &r, &error)) return lost(error);
            rset_pending_ = false;
            if (r.code != 250) return lost("RSET: " + r.summary());
        }
        if (!read_reply(deadline, "MAIL FROM", kCommand, &mail_reply, &error)) return lost(error);
        if (mail_reply.code == 421) return lost(closing("MAIL FROM", mail_reply));
        for (std::size_t i = 0; i < rcpts.size(); ++i) {
            SmtpReply r;
            if (!read_reply(deadline, "RCPT TO", kCommand, &r, &error)) return lost(error);
            if (r.code == 421) return lost(closing("RCPT TO", r));
            replies.push_back(std::move(r));
        }
    } else {
        if (!send(mail, deadline, "MAIL FROM", kCommand, &error)) return lost(error);
        if (!read_reply(deadline, "MAIL FROM", kCommand, &mail_reply, &error)) return lost(error);
        if (mail_reply.code == 421) return lost(closing("MAIL FROM", mail_reply));
        for (std::size_t i = 0; i < rcpts.size() && mail_reply.code / 100 == 2; ++i) {
            SmtpReply r;
            if (!send(rcpts[i], deadline, "RCPT TO", kCommand, &error)) return lost(error);
            if (!read_reply(deadline, "RCPT TO", kCommand, &r, &error)) return lost(error);
            if (r.code == 421) return lost(closing("RCPT TO", r));
            replies.push_back(std::move(r));
        }
    }
    ++probes_;
    if (mail_reply.code >= 400) ++refusals_;
    for (const SmtpReply& r : replies)
        if (r.code >= 400) ++refusals_;

    // RSET after every probe the connection survives (RFC 5321 §4.1.1.5).
    if (!spent()) {
        if (!send("RSET\r\n", deadline, "RSET", kCommand, &error)) {
            broken_ = true;
        } else if (extensions_.pipelining) {
            rset_pending_ = true;
        } else {
            SmtpReply r;
            if (!read_reply(deadline, "RSET", kCommand, &r, &error) || r.code != 250) broken_ = true;
        }
    }

    SmtpProbeResult result;
    if (mail_reply.code / 100 != 2) {
        result.outcome = SmtpProbeResult::Outcome::Refused;
        result.error = "MAIL FROM answered " + mail_reply.summary();
        return result;
    }
    result.outcome = SmtpProbeResult::Outcome::Answered;
    result.rcpt_replies = std::move(replies);
    return result;
}

bool SmtpConnection::spent() const {
    return broken_ || probes_ >= settings_.probes_per_connection ||
           (settings_.refusals_per_connection > 0 && refusals_ >= settings_.refusals_per_connection);
}

}  // namespace rcptguard
