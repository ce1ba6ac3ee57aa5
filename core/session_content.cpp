// session_content: the message content part of a Connection: headers and
// body fed to the bounce stripper, and the edits owed at end of message
// (BATV-signed sender, rewritten recipients, stripped bounce). See session.hpp.
#include "core/session.hpp"
#include "util/log.hpp"
#include "util/text.hpp"

namespace rcptguard {

void Connection::on_header(std::string_view name, std::string_view value) {
    if (stripper_) stripper_->header(name, value);
}

void Connection::on_end_of_headers() {
    if (stripper_) stripper_->end_of_headers();
}

bool Connection::on_body(std::string_view chunk) {
    return stripper_ && stripper_->body(chunk);  // BATV needs no body, only end of message
}

EomEdits Connection::on_eom(bool skipped, std::string_view queue_id) {
    EomEdits edits;
    if (!queue_id.empty()) queue_id_ = std::string(queue_id);
    sign_sender(edits);
    edits.rewrite_rcpts = rcpt_rewrites_;
    strip_bounce(skipped, edits);
    return edits;
}

void Connection::strip_bounce(bool skipped, EomEdits& edits) {
    if (!stripper_) return;
    StripResult r = stripper_->finish(!skipped);
    stripper_.reset();
    Metrics& m = services_.metrics;
    std::string who = log_prefix("bounce") + "from=<> client=" + client_text() + ": ";
    // The evidence is a fixed vocabulary (bounce_evidence.hpp), never message text.
    const std::string evidence = "evidence=" + r.evidence;
    if (r.action != StripResult::Action::Replace) {
        bump(m.bounces_unchanged);
        std::string line = who + "left unchanged (" + r.kind + "): " + printable(r.reason, 300) + "; " + evidence;
        if (r.could_not_parse)
            log_warning(line);
        else
            log_info(line);
        return;
    }
    std::string removed = std::to_string(r.bytes_removed) + (r.bytes_removed_exact ? "" : "+") + " bytes";
    if (runtime_->rules->settings().monitor) {
        log_info(who + "would strip (monitor mode) the returned original's body (" + r.kind + ", " + removed + "; " +
                 evidence + ")");
        return;
    }
    bump(m.bounces_stripped);
    bump(m.bounce_bytes_removed, r.bytes_removed);
    log_info(who + "stripped the returned original's body (" + r.kind + ", " + removed + "; " + evidence +
             "); its headers kept");
    edits.add_headers.emplace_back(r.trace_header_name, r.trace_header_value);
    edits.replace_body = true;
    edits.new_body = std::move(r.new_body);
}

}  // namespace rcptguard
