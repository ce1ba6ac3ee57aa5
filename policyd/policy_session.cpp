// policy_session: see policy_session.hpp.
#include "policyd/policy_session.hpp"

#include "util/log.hpp"

namespace rcptguard {

void PolicySession::prepare(const PolicyRequest& r) {
    bump(services_.metrics.policy_requests);
    if (r.get(PolicyAttr::Request) != "smtpd_access_policy") return;
    std::string_view name = r.get(PolicyAttr::ClientName), address = r.get(PolicyAttr::ClientAddress);
    std::string key;
    key.append(address).append("|").append(r.get(PolicyAttr::ClientPort)).append("|").append(name);
    if (!conn_ || key != session_key_) {
        conn_ = std::make_unique<Connection>(runtimes_.get(), ClientInfo{std::string(name), std::string(address)},
                                             services_);
        session_key_ = key;
        instance_.clear();
    }
    std::string_view instance = r.get(PolicyAttr::Instance);
    if (instance != instance_ || instance.empty()) {
        conn_->on_message_end();
        conn_->on_mail(r.get(PolicyAttr::Sender), r.get(PolicyAttr::QueueId), r.get(PolicyAttr::SaslUsername));
        instance_ = instance;
    }
}

namespace {

// The recipient of an RCPT-stage question; "" for anything else (DUNNO).
std::string_view rcpt_of(const PolicyRequest& r) {
    if (r.get(PolicyAttr::Request) != "smtpd_access_policy" || r.get(PolicyAttr::ProtocolState) != "RCPT") return {};
    return r.get(PolicyAttr::Recipient);
}

}  // namespace

bool PolicySession::answers_at_once(const PolicyRequest& r) {
    precheck_.reset();
    if (services_.tarpit.clients().shared()) return false;
    if (!conn_ || conn_->runtime().lookups_local) return true;
    std::string_view recipient = rcpt_of(r);
    if (recipient.empty()) return true;
    precheck_ = conn_->check_at_once(recipient);
    return precheck_.has_value();
}

PolicyAnswer PolicySession::answer(const PolicyRequest& r) {
    std::optional<RcptPrecheck> precheck = std::move(precheck_);
    precheck_.reset();
    std::string_view recipient = rcpt_of(r);
    if (!conn_ || recipient.empty()) return {"DUNNO", Millis(0)};
    RcptInput in;
    in.address = recipient;
    in.queue_id = r.get(PolicyAttr::QueueId);
    if (precheck) in.precheck = &*precheck;
    RcptDecision d = conn_->on_rcpt(in);
    return {policy_action(d), d.delay};
}

void PolicySession::delivered(Millis asked, Millis actual) {
    if (conn_) conn_->waited(asked, actual);
}

}  // namespace rcptguard
