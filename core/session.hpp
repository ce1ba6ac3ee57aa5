// session: per-connection and per-message state of one MTA session, and the
// decisions taken in it - plain C++ that the libmilter callbacks (callbacks.cpp)
// drive and unit tests can call directly, without libmilter or sockets.
// session.cpp: MAIL and RCPT (verdicts, tarpit); session_batv.cpp: BATV
// tags; session_content.cpp: headers, body and end-of-message edits.
//
// A Connection lives from the MTA's connect to its close and keeps the Runtime
// snapshot it started with (a reload never changes the rules mid-session). One
// connection carries many messages: message state is reset by on_mail() and
// on_message_end() (end of message or abort); the tarpit state (bad
// recipients, time already spent waiting) is per connection.
// on_rcpt() never waits itself: it says how long to wait (tarpit), never more
// than half of the configured mta_timeout.
// Thread-safety: libmilter runs one connection's callbacks one at a time, but
// possibly on different threads; a Connection is never used concurrently.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/bounce/bounce_stripper.hpp"
#include "core/recipients/recipient_rules.hpp"
#include "core/runtime.hpp"
#include "core/services.hpp"

namespace rcptguard {

struct ClientInfo {
    std::string hostname;  // as the MTA reports it ("unknown" if none)
    std::string address;   // textual IP address, "" if not an IP connection
};

// A recipient already judged without waiting on another server
// (Connection::check_at_once): what was checked (after BATV) and the result.
struct RcptPrecheck {
    std::string address;
    RecipientCheck check;
};

struct RcptInput {
    std::string_view address;                // argv[0] of RCPT TO, exactly as the MTA passed it
    std::string_view queue_id;               // the "i" macro, "" before the MTA has one
    bool rejected_by_mta = false;            // SMFIP_RCPT_REJ: {rcpt_mailer} = "error"
    const RcptPrecheck* precheck = nullptr;  // check_at_once(address) of this connection, if taken
};

// What the front end must do at end of message: all header edits first, then
// the body replacement (Postfix refuses the other order).
struct EomEdits {
    std::string new_sender;  // "<...>" for smfi_chgfrom (BATV signing), "" = unchanged
    std::vector<std::pair<std::string, std::string>> rewrite_rcpts;  // (argv as received, "<plain>")
    std::vector<std::pair<std::string, std::string>> add_headers;
    bool replace_body = false;
    std::string new_body;  // CRLF, for smfi_replacebody in <= 65535-byte pieces
};

class Connection {
public:
    Connection(std::shared_ptr<const Runtime> runtime, ClientInfo client, Services& services);

    // auth_user: the {auth_authen} macro ("" when the client did not authenticate).
    void on_mail(std::string_view sender, std::string_view queue_id, std::string_view auth_user = {});
    // The verdict; a tarpit delay comes back in RcptDecision::delay and is the
    // front end's to wait (a milter thread sleeps, the policy service sets a
    // timer), after which it reports what it waited with waited().
    RcptDecision on_rcpt(const RcptInput& in);
    void waited(Millis asked, Millis actual);
    // The recipient policy's check of this recipient when it needs no other
    // server (cached answers, stores on this host), else nullopt; nothing
    // counted or logged. on_rcpt() with it in RcptInput::precheck then never
    // waits on a lookup (the policy service answers such requests on its I/O
    // thread).
    std::optional<RcptPrecheck> check_at_once(std::string_view address) const;
    // on_rcpt, then the wait on this thread (the milter's way).
    RcptDecision on_rcpt_and_wait(const RcptInput& in);

    // Message content, wanted only for bounces to strip: at DATA, false means
    // "accept the rest of the message unseen" (SMFIS_ACCEPT).
    bool wants_content() const { return stripper_ != nullptr || !rcpt_rewrites_.empty() || will_sign(); }
    void on_header(std::string_view name, std::string_view value);
    void on_end_of_headers();
    // false once no more body is needed (the milter may answer SMFIS_SKIP).
    bool on_body(std::string_view chunk);
    // skipped: the rest of the body was skipped after on_body() said false.
    // Never refuses the message: a bounce must go out (RFC 5321 6.1).
    EomEdits on_eom(bool skipped, std::string_view queue_id = {});
    void on_message_end();

    const Runtime& runtime() const { return *runtime_; }
    const ClientInfo& client() const { return client_; }
    const std::string& queue_id() const { return queue_id_; }
    const std::string& sender() const { return sender_; }
    bool null_sender() const { return null_sender_; }
    unsigned bad_recipients() const { return tarpit_.bad; }
    const TarpitSession& tarpit_state() const { return tarpit_; }

    // "host[address]" as Postfix writes it.
    const std::string& client_text() const { return client_text_; }

private:
    struct BatvOutcome {
        bool refused = false;
        RcptDecision decision;      // when refused
        std::string check_address;  // what the recipient policy checks next
    };
    BatvOutcome batv_rcpt(std::string_view raw);
    std::string batv_check_address(std::string_view raw) const;  // session_batv.cpp
    bool will_sign() const;
    void sign_sender(EomEdits& edits) const;           // session_batv.cpp
    void strip_bounce(bool skipped, EomEdits& edits);  // session_content.cpp
    RcptDecision refuse(const Reply& reply, const std::string& why, bool monitor);
    // monitor: the recipient's mode (a [domain] section may set its own);
    // by default the global one.
    void apply_tarpit(bool bad, Millis lookup_elapsed, RcptDecision* d, const bool* monitor = nullptr);
    // d is the decision the client gets; verdict_reply what the verdict alone
    // would have answered (the tarpit may have turned a 550 into a 421).
    void log_decision(const RecipientCheck& c, const RcptDecision& d, const Reply& verdict_reply) const;
    std::string replaced_note(const Reply& verdict_reply, const RcptDecision& d) const;
    std::string log_prefix(const char* component) const;

    std::shared_ptr<const Runtime> runtime_;
    ClientInfo client_;
    std::string client_text_;  // for the log, made once
    Services& services_;
    // Message state.
    std::string sender_;              // without <>
    std::string sender_text_ = "<>";  // display_address(sender_), for the log
    bool null_sender_ = false;
    bool via_smtp_ = true;  // false: the MTA's non-SMTP path (Postfix passes bracket-less addresses)
    std::unique_ptr<BounceStripper> stripper_;
    Address sender_address_;
    std::vector<std::string> recipients_;                             // canonical, accepted so far (BATV exemptions)
    std::vector<std::pair<std::string, std::string>> rcpt_rewrites_;  // BATV: tagged argv -> "<plain>"
    std::string queue_id_;
    std::string current_rcpt_;  // the recipient being judged, without <> (for the tarpit's replies)
    // Connection state.
    TarpitSession tarpit_;
};

}  // namespace rcptguard
