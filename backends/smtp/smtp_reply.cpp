// smtp_reply: see smtp_reply.hpp.
#include "backends/smtp/smtp_reply.hpp"

#include "util/text.hpp"

namespace rcptguard {

namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// 1 to 3 digits at text[*pos] (RFC 3463 §2: subject and detail are 1*3digit).
bool digits_1_to_3(std::string_view text, std::size_t* pos) {
    std::size_t start = *pos;
    while (*pos < text.size() && *pos - start < 4 && is_digit(text[*pos])) ++*pos;
    std::size_t n = *pos - start;
    return n >= 1 && n <= 3;
}

}  // namespace

bool parse_reply_line(std::string_view line, SmtpReplyLine* out, std::string* problem) {
    // RFC 5321 §4.2: the first digit is 2 to 5, the second 0 to 5.
    if (line.size() < 3 || line[0] < '2' || line[0] > '5' || line[1] < '0' || line[1] > '5' || !is_digit(line[2])) {
        *problem = "not an SMTP reply: '" + printable(line, 60) + "'";
        return false;
    }
    out->code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
    if (line.size() == 3) {
        out->last = true;
        out->text = {};
        return true;
    }
    if (line[3] != ' ' && line[3] != '-') {
        *problem = "not an SMTP reply: '" + printable(line, 60) + "'";
        return false;
    }
    out->last = line[3] == ' ';
    out->text = line.substr(4);
    return true;
}

std::string enhanced_code(std::string_view text, int code) {
    // RFC 3463 §2: class "." subject "." detail; the class repeats the reply's
    // first digit (RFC 2034 §4), and only 2, 4 and 5 exist.
    int cls = code / 100;
    if (text.size() < 5 || text[0] != static_cast<char>('0' + cls) || (cls != 2 && cls != 4 && cls != 5) ||
        text[1] != '.')
        return "";
    std::size_t pos = 2;
    if (!digits_1_to_3(text, &pos) || pos >= text.size() || text[pos] != '.') return "";
    ++pos;
    if (!digits_1_to_3(text, &pos)) return "";
    if (pos < text.size() && text[pos] != ' ') return "";
    return std::string(text.substr(0, pos));
}

std::string SmtpReply::summary(std::size_t max_bytes) const {
    std::string s = std::to_string(code);
    bool first = true;
    for (const std::string& l : lines) {
        if (l.empty()) continue;
        s += first ? " " : " / ";
        s += l;
        first = false;
        if (s.size() > max_bytes) break;
    }
    return printable(s, max_bytes);
}

SmtpReplyReader::Step SmtpReplyReader::next(SmtpReply* reply, std::string* problem) {
    for (;;) {
        std::size_t from = scanned_ > pos_ ? scanned_ : pos_;
        std::size_t nl = buffer_.find('\n', from);
        if (nl == std::string::npos) {
            scanned_ = buffer_.size();
            if (buffer_.size() - pos_ > kMaxReplyLineBytes) {
                *problem = "a reply line longer than " + std::to_string(kMaxReplyLineBytes) + " bytes";
                return Step::Malformed;
            }
            return Step::More;
        }
        std::string_view line(buffer_.data() + pos_, nl - pos_);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (line.size() > kMaxReplyLineBytes) {
            *problem = "a reply line longer than " + std::to_string(kMaxReplyLineBytes) + " bytes";
            return Step::Malformed;
        }
        if (line.find('\0') != std::string_view::npos) {
            *problem = "a NUL byte in the reply '" + printable(line, 60) + "'";
            return Step::Malformed;
        }
        SmtpReplyLine l;
        if (!parse_reply_line(line, &l, problem)) return Step::Malformed;
        if (partial_.lines.empty()) {
            partial_.code = l.code;
            partial_.enhanced = enhanced_code(l.text, l.code);
        } else if (l.code != partial_.code) {
            *problem = "a multi-line reply whose lines carry different codes (" + std::to_string(partial_.code) +
                       ", then " + std::to_string(l.code) + ")";
            return Step::Malformed;
        }
        if (partial_.lines.size() >= kMaxReplyLines) {
            *problem = "a reply of more than " + std::to_string(kMaxReplyLines) + " lines";
            return Step::Malformed;
        }
        partial_.lines.emplace_back(l.text);
        pos_ = nl + 1;
        scanned_ = pos_;
        if (l.last) {
            *reply = std::move(partial_);
            partial_ = SmtpReply();
            buffer_.erase(0, pos_);
            pos_ = scanned_ = 0;
            return Step::Done;
        }
    }
}

RcptVerdict classify_rcpt_reply(const SmtpReply& reply) {
    if (reply.code == 250 || reply.code == 251) return RcptVerdict::Accepted;
    // RFC 3463 §3.2: X.1.X is "addressing status"; with 550 (mailbox
    // unavailable), 551 (user not local) or 553 (mailbox name not allowed) it
    // says the address does not lead to a mailbox. A policy refusal (5.7.x)
    // or a system problem (5.3.x) does not.
    if ((reply.code == 550 || reply.code == 551 || reply.code == 553) && reply.enhanced.rfind("5.1.", 0) == 0)
        return RcptVerdict::Unknown;
    return RcptVerdict::Other;
}

SmtpExtensions parse_ehlo_reply(const SmtpReply& reply) {
    SmtpExtensions e;
    if (reply.code != 250) return e;
    // The first line greets with the server's name; each further line is one
    // extension keyword with its parameters.
    for (std::size_t i = 1; i < reply.lines.size(); ++i) {
        std::string_view l = reply.lines[i];
        std::string_view keyword = l.substr(0, l.find(' '));
        if (iequals_ascii(keyword, "PIPELINING")) e.pipelining = true;
        if (iequals_ascii(keyword, "STARTTLS")) e.starttls = true;
        if (iequals_ascii(keyword, "SMTPUTF8")) e.smtputf8 = true;
    }
    return e;
}

}  // namespace rcptguard
