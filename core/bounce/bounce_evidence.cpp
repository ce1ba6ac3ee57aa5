// bounce_evidence: see bounce_evidence.hpp.
#include "core/bounce/bounce_evidence.hpp"

#include <utility>

namespace rcptguard::bounce {

std::string Evidence::text() const {
    static constexpr std::pair<Clue, const char*> kNames[] = {
        {Clue::NullSender, "null-sender"},       {Clue::ReportType, "report-type"},
        {Clue::StatusPart, "status-part"},       {Clue::MarkerLine, "marker-line"},
        {Clue::AutoSubmitted, "auto-submitted"}, {Clue::FromMailerDaemon, "from-mailer-daemon"},
        {Clue::BounceSubject, "bounce-subject"}, {Clue::FailedRecipients, "x-failed-recipients"},
        {Clue::FailureText, "failure-text"},
    };
    std::string out;
    for (const auto& [clue, name] : kNames) {
        if (!has(clue)) continue;
        if (!out.empty()) out += ',';
        out += name;
    }
    return out.empty() ? "none" : out;
}

}  // namespace rcptguard::bounce
