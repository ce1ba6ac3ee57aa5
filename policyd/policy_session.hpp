// policy_session: one Postfix policy connection's view of the SMTP sessions
// that flow through it, mapped onto the same session core (Connection) the
// milter uses - so verdicts, tarpit, bans, monitor mode and logs are identical
// whichever door a question comes through.
//
// Postfix keeps one policy connection per smtpd process and asks about one SMTP
// session after another on it: a new client_address/client_port starts a new
// Connection (with the runtime snapshot of that moment); a new "instance"
// starts a new message. Requests other than RCPT, or without a recipient,
// answer DUNNO.
// Thread-safety: handle() and delivered() are called one at a time (the next
// request is not handed over before the previous answer went out).
#pragma once

#include <memory>
#include <string>

#include "core/runtime.hpp"
#include "core/services.hpp"
#include "core/session.hpp"
#include "policyd/policy_protocol.hpp"

namespace rcptguard {

struct PolicyAnswer {
    std::string action;  // for policy_reply()
    Millis delay{0};     // send the answer this much later (tarpit)
};

class PolicySession {
public:
    PolicySession(RuntimeHolder& runtimes, Services& services) : runtimes_(runtimes), services_(services) {}

    PolicyAnswer handle(const PolicyRequest& r);
    // After a delayed answer went out.
    void delivered(Millis asked, Millis actual);

private:
    RuntimeHolder& runtimes_;
    Services& services_;
    std::unique_ptr<Connection> conn_;
    std::string session_key_;
    std::string instance_;
};

}  // namespace rcptguard
