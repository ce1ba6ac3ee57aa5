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
//
// A request is taken in two steps: prepare() follows it into its SMTP session
// and message and never waits; answer() judges it and may wait on a lookup -
// unless answers_at_once(), asked between the two, is true, when the caller
// may answer it on the spot instead of handing it to a worker thread. It is
// true when the harvest state is this host's own and the request needs no
// other server: every store of the session's runtime is on this host, the
// request asks no lookup, or the recipient's answers are all in the cache
// (then taken from there at once and kept for answer(), so an entry that
// expires in between cannot make answer() wait).
// Thread-safety: the calls are made one at a time (the next request is not
// prepared before the previous answer went out), possibly on different
// threads.
#pragma once

#include <memory>
#include <optional>
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

    void prepare(const PolicyRequest& r);
    bool answers_at_once(const PolicyRequest& r);
    PolicyAnswer answer(const PolicyRequest& r);
    // After a delayed answer went out.
    void delivered(Millis asked, Millis actual);

private:
    RuntimeHolder& runtimes_;
    Services& services_;
    std::unique_ptr<Connection> conn_;
    std::string session_key_;
    std::string instance_;
    std::optional<RcptPrecheck> precheck_;  // from answers_at_once(), for the answer() that follows
};

}  // namespace rcptguard
