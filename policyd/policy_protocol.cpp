// policy_protocol: see policy_protocol.hpp.
#include "policyd/policy_protocol.hpp"

#include "util/text.hpp"

namespace rcptguard {

namespace {

constexpr std::size_t kMaxName = 64;
constexpr std::size_t kMaxAttributes = 512;  // fits PolicyRequest's 16-bit line index

// The characters of an attribute name: letters, digits, '_' and '-'.
constexpr std::array<bool, 256> name_chars() {
    std::array<bool, 256> t{};
    for (int c = 'a'; c <= 'z'; ++c) t[static_cast<std::size_t>(c)] = true;
    for (int c = 'A'; c <= 'Z'; ++c) t[static_cast<std::size_t>(c)] = true;
    for (int c = '0'; c <= '9'; ++c) t[static_cast<std::size_t>(c)] = true;
    t['_'] = t['-'] = true;
    return t;
}
constexpr std::array<bool, 256> kNameChar = name_chars();

// The length of the valid name before the line's '=', or npos when the line
// is not name=value (no '=', an empty or too long name, a bad character).
std::size_t name_length(std::string_view l) {
    std::size_t n = 0;
    std::size_t limit = l.size() < kMaxName + 1 ? l.size() : kMaxName + 1;
    while (n < limit && kNameChar[static_cast<unsigned char>(l[n])]) ++n;
    if (n == 0 || n > kMaxName || n == l.size() || l[n] != '=') return std::string_view::npos;
    return n;
}

}  // namespace

PolicyAttr policy_attr(std::string_view n) {
    // By length first: at most two comparisons for any name.
    switch (n.size()) {
        case 6:
            if (n == "sender") return PolicyAttr::Sender;
            break;
        case 7:
            if (n == "request") return PolicyAttr::Request;
            break;
        case 8:
            if (n == "queue_id") return PolicyAttr::QueueId;
            if (n == "instance") return PolicyAttr::Instance;
            break;
        case 9:
            if (n == "recipient") return PolicyAttr::Recipient;
            break;
        case 11:
            if (n == "client_name") return PolicyAttr::ClientName;
            if (n == "client_port") return PolicyAttr::ClientPort;
            break;
        case 13:
            if (n == "sasl_username") return PolicyAttr::SaslUsername;
            break;
        case 14:
            if (n == "protocol_state") return PolicyAttr::ProtocolState;
            if (n == "client_address") return PolicyAttr::ClientAddress;
            break;
        default: break;
    }
    return PolicyAttr::Other;
}

std::string_view PolicyRequest::value(std::size_t i) const {
    const Attr& a = attrs_[i];
    return std::string_view(text_).substr(a.at + a.name_len + 1, a.end - a.at - a.name_len - 1);
}

std::string_view PolicyRequest::get(PolicyAttr a) const {
    if (a == PolicyAttr::Other) return {};
    std::uint16_t i = last_[static_cast<std::size_t>(a)];
    return i == kNone ? std::string_view() : value(i);
}

std::string_view PolicyRequest::get(std::string_view name) const {
    if (PolicyAttr a = policy_attr(name); a != PolicyAttr::Other) return get(a);
    std::string_view text(text_);
    for (std::size_t i = attrs_.size(); i-- > 0;)
        if (text.substr(attrs_[i].at, attrs_[i].name_len) == name) return value(i);
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
    std::size_t eq = name_length(l);
    if (eq == std::string_view::npos) {
        error_ = "not a name=value line: '" + printable(l, 60) + "'";
        return false;
    }
    if (current_.attrs_.size() >= kMaxAttributes) {
        error_ = "more than " + std::to_string(kMaxAttributes) + " attributes in one request";
        return false;
    }
    if (PolicyAttr a = policy_attr(l.substr(0, eq)); a != PolicyAttr::Other)
        current_.last_[static_cast<std::size_t>(a)] = static_cast<std::uint16_t>(current_.attrs_.size());
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
