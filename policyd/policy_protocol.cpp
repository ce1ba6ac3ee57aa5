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

std::string_view PolicyRequest::get(std::string_view name) const {
    std::string_view text(text_);
    for (auto it = attrs_.rbegin(); it != attrs_.rend(); ++it)
        if (text.substr(it->at, it->name_len) == name)
            return text.substr(it->at + it->name_len + 1, it->end - it->at - it->name_len - 1);
    return {};
}

void PolicyRequestParser::make_room() {
    // Room for a request as Postfix sends it (about 30 lines, 600 bytes),
    // taken at once rather than by doubling; nothing when it is there.
    current_.text_.reserve(1024);
    current_.attrs_.reserve(32);
}

bool PolicyRequestParser::end_line(std::vector<PolicyRequest>* out) {
    std::string& text = current_.text_;
    if (text.size() > line_start_ && text.back() == '\r') text.pop_back();
    std::string_view l = std::string_view(text).substr(line_start_);
    if (l.find('\0') != std::string_view::npos) {
        error_ = "NUL byte in a request";
        return false;
    }
    if (l.empty()) {
        if (!current_.attrs_.empty()) out->push_back(std::move(current_));
        current_ = PolicyRequest{};
        make_room();
        line_start_ = 0;
        request_bytes_ = 0;
        return true;
    }
    auto eq = l.find('=');
    if (eq == std::string_view::npos || !valid_name(l.substr(0, eq))) {
        error_ = "not a name=value line: '" + printable(l, 60) + "'";
        return false;
    }
    if (current_.attrs_.size() >= 512) {
        error_ = "more than 512 attributes in one request";
        return false;
    }
    // Offsets fit: a request is at most max_request_bytes_ long.
    current_.attrs_.push_back({static_cast<std::uint32_t>(line_start_), static_cast<std::uint32_t>(eq),
                               static_cast<std::uint32_t>(text.size())});
    line_start_ = text.size();
    return true;
}

bool PolicyRequestParser::feed(std::string_view data, std::vector<PolicyRequest>* out) {
    if (!error_.empty()) return false;
    make_room();
    while (!data.empty()) {
        auto nl = data.find('\n');
        std::string_view piece = data.substr(0, nl);
        if (current_.text_.size() - line_start_ + piece.size() > max_line_bytes_) {
            error_ = "attribute line longer than " + std::to_string(max_line_bytes_) + " bytes";
            return false;
        }
        request_bytes_ += piece.size() + (nl == std::string_view::npos ? 0 : 1);
        if (request_bytes_ > max_request_bytes_) {
            error_ = "request larger than " + std::to_string(max_request_bytes_) + " bytes";
            return false;
        }
        current_.text_.append(piece);
        if (nl == std::string_view::npos) return true;
        data.remove_prefix(nl + 1);
        if (!end_line(out)) return false;
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
