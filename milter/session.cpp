// session: see session.hpp.
#include "session.hpp"

#include "log.hpp"
#include "reply.hpp"
#include "text.hpp"

namespace rcptguard {

Connection::Connection(std::shared_ptr<const Runtime> runtime, ClientInfo client)
    : runtime_(std::move(runtime)), client_(std::move(client)) {}

std::string Connection::client_text() const {
    return printable(client_.hostname.empty() ? "unknown" : client_.hostname, 128) + "[" +
           printable(client_.address, 64) + "]";
}

std::string Connection::log_prefix() const {
    return (queue_id_.empty() ? std::string("NOQUEUE") : printable(queue_id_, 32)) + ": rcpt: ";
}

void Connection::on_mail(std::string_view sender, std::string_view queue_id) {
    Address from = parse_address(sender, runtime_->policy->settings().address);
    sender_ = std::move(from.original);
    null_sender_ = from.status == AddressStatus::Null;
    queue_id_ = std::string(queue_id);
    in_message_ = true;
}

void Connection::on_message_end() {
    sender_.clear();
    null_sender_ = false;
    queue_id_.clear();
    in_message_ = false;
}

RcptDecision Connection::on_rcpt(const RcptInput& in) {
    if (!in.queue_id.empty()) queue_id_ = std::string(in.queue_id);
    if (in.rejected_by_mta) {
        // The MTA refused this recipient before asking us; it still counts as
        // a bad recipient of this client, and our answer would be ignored.
        ++bad_recipients_;
        log_debug(log_prefix() + display_address(in.address) + ": rejected by the MTA");
        return {};
    }
    const RecipientPolicy& policy = *runtime_->policy;
    RecipientCheck check = policy.check(in.address);
    RcptDecision d = policy.decide(check);
    if (check.verdict == Verdict::Unknown || check.verdict == Verdict::BadSyntax) ++bad_recipients_;
    log_decision(check, d);
    return d;
}

void Connection::log_decision(const RecipientCheck& c, const RcptDecision& d) const {
    std::string who = display_address(c.address.original);
    std::string tail = "; client=" + client_text() + " from=" + display_address(sender_);
    switch (c.verdict) {
        case Verdict::Valid:
            if (log_enabled(LogLevel::Debug))
                log_debug(log_prefix() + who + ": accept: " +
                          (c.key.empty() ? c.reason : "found " + printable(c.key) + " in backend " + c.backend) +
                          tail);
            return;
        case Verdict::NotOurs:
            if (log_enabled(LogLevel::Debug))
                log_debug(log_prefix() + who + ": no opinion: " +
                          (c.reason.empty() ? "not one of our domains" : c.reason));
            return;
        case Verdict::Unknown:
        case Verdict::BadSyntax:
        case Verdict::TempFail:
            break;
    }
    std::string cause;
    if (c.verdict == Verdict::TempFail)
        cause = ": backend " + c.backend + ": " + printable(c.reason, 300);
    else if (c.verdict == Verdict::BadSyntax)
        cause = ": " + c.reason;
    if (d.accepted_on_error) {
        log_warning(log_prefix() + who + ": accept despite lookup failure (on_backend_error = accept)" +
                    cause + tail);
    } else if (d.monitored) {
        log_info(log_prefix() + who + ": would reject (monitor mode): " + d.would_reply.to_string() +
                 cause + tail);
    } else if (d.action == RcptAction::TempFail) {
        log_warning(log_prefix() + who + ": defer: " + d.reply.to_string() + cause + tail);
    } else {
        log_info(log_prefix() + who + ": reject: " + d.reply.to_string() + cause + tail);
    }
}

}  // namespace rcptguard
