// policy_session: see policy_session.hpp.
#include "policyd/policy_session.hpp"

#include "util/log.hpp"

namespace rcptguard {

void PolicySession::prepare(const PolicyRequest& r) {
    bump(services_.metrics.policy_requests);
    if (r.get("request") != "smtpd_access_policy") return;
    std::string key = r.get("client_address") + "|" + r.get("client_port") + "|" + r.get("client_name");
    if (!conn_ || key != session_key_) {
        conn_ = std::make_unique<Connection>(runtimes_.get(), ClientInfo{r.get("client_name"), r.get("client_address")},
                                             services_);
        session_key_ = key;
        instance_.clear();
    }
    std::string instance = r.get("instance");
    if (instance != instance_ || instance.empty()) {
        conn_->on_message_end();
        conn_->on_mail(r.get("sender"), r.get("queue_id"), r.get("sasl_username"));
        instance_ = instance;
    }
}

bool PolicySession::answers_at_once() const {
    return !services_.tarpit.clients().shared() && (!conn_ || conn_->runtime().lookups_local);
}

PolicyAnswer PolicySession::answer(const PolicyRequest& r) {
    if (!conn_ || r.get("request") != "smtpd_access_policy") return {"DUNNO", Millis(0)};
    std::string recipient = r.get("recipient");
    if (r.get("protocol_state") != "RCPT" || recipient.empty()) return {"DUNNO", Millis(0)};
    RcptInput in;
    in.address = recipient;
    std::string qid = r.get("queue_id");
    in.queue_id = qid;
    RcptDecision d = conn_->on_rcpt(in);
    return {policy_action(d), d.delay};
}

void PolicySession::delivered(Millis asked, Millis actual) {
    if (conn_) conn_->waited(asked, actual);
}

}  // namespace rcptguard
