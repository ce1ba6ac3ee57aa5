// policy_protocol: see policy_protocol.hpp.
#include "policyd/policy_protocol.hpp"

#include "util/text.hpp"

namespace rcptguard {

namespace {

bool valid_name(std::string_view n) {
    if (n.empty() || n.size() > 64) return false;
    for (char c : n)
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
            return false;
    return true;
}

}  // namespace

bool PolicyRequestParser::take_line(std::vector<PolicyRequest>* out) {
    std::string_view l(line_);
    if (!l.empty() && l.back() == '\r') l.remove_suffix(1);
    if (l.empty()) {
        if (!current_.attrs.empty()) out->push_back(std::move(current_));
        current_ = PolicyRequest{};
        request_bytes_ = 0;
        line_.clear();
        return true;
    }
    auto eq = l.find('=');
    if (eq == std::string_view::npos || !valid_name(l.substr(0, eq))) {
        error_ = "not a name=value line: '" + printable(l, 60) + "'";
        return false;
    }
    if (current_.attrs.size() >= 512) {
        error_ = "more than 512 attributes in one request";
        return false;
    }
    current_.attrs[std::string(l.substr(0, eq))] = std::string(l.substr(eq + 1));
    line_.clear();
    return true;
}

bool PolicyRequestParser::feed(std::string_view data, std::vector<PolicyRequest>* out) {
    if (!error_.empty()) return false;
    while (!data.empty()) {
        auto nl = data.find('\n');
        std::string_view piece = data.substr(0, nl);
        if (line_.size() + piece.size() > max_line_bytes_) {
            error_ = "attribute line longer than " + std::to_string(max_line_bytes_) + " bytes";
            return false;
        }
        request_bytes_ += piece.size() + (nl == std::string_view::npos ? 0 : 1);
        if (request_bytes_ > max_request_bytes_) {
            error_ = "request larger than " + std::to_string(max_request_bytes_) + " bytes";
            return false;
        }
        line_.append(piece);
        if (nl == std::string_view::npos) return true;
        if (line_.find('\0') != std::string::npos) {
            error_ = "NUL byte in a request";
            return false;
        }
        data.remove_prefix(nl + 1);
        if (!take_line(out)) return false;
    }
    return true;
}

std::string policy_reply(std::string_view action) { return "action=" + std::string(action) + "\n\n"; }

std::string policy_action(const RcptDecision& d) {
    if (d.action == RcptAction::Continue) return "DUNNO";
    // Postfix treats "NNN x.y.z text" like an access(5) result and sends
    // "NNN x.y.z <address>: Recipient address rejected: text" itself: the
    // phrase alone, so the client reads what the milter would have sent.
    return d.reply.code + " " + d.reply.xcode + " " + ascii_reply_text(d.reply.phrase, kMaxReplyText / 2);
}

}  // namespace rcptguard
