// libFuzzer target: a downstream server's replies (backends/smtp/smtp_reply),
// fed in pieces as a connection delivers them. No crash, no hang; a reply
// handed out is well-formed (one code 200..599 for all its lines, at most
// kMaxReplyLines lines of at most kMaxReplyLineBytes, no NUL), its summary is
// valid UTF-8 without control characters and bounded, and only 250/251 or
// 550/551/553 with 5.1.x are ever verdicts.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "backends/smtp/smtp_reply.hpp"
#include "util/text.hpp"

using namespace rcptguard;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string_view in(reinterpret_cast<const char*>(data), size);
    std::size_t step = size ? 1 + data[0] % 61 : 1;
    SmtpReplyReader reader;
    for (std::size_t off = 0; off < in.size(); off += step) {
        reader.feed(in.substr(off, step));
        for (;;) {
            SmtpReply r;
            std::string problem;
            SmtpReplyReader::Step s = reader.next(&r, &problem);
            if (s == SmtpReplyReader::Step::More) break;
            if (s == SmtpReplyReader::Step::Malformed) {
                if (problem.empty()) std::abort();
                return 0;
            }
            if (r.code < 200 || r.code > 599 || r.lines.empty() || r.lines.size() > kMaxReplyLines) std::abort();
            for (const std::string& l : r.lines)
                if (l.size() > kMaxReplyLineBytes || l.find('\0') != std::string::npos) std::abort();
            std::string summary = r.summary();
            if (summary.size() > 303) std::abort();
            // printable(): valid UTF-8, control characters escaped as \xNN.
            if (!is_valid_utf8(summary)) std::abort();
            for (char c : summary)
                if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) std::abort();
            RcptVerdict v = classify_rcpt_reply(r);
            if (v == RcptVerdict::Accepted && r.code != 250 && r.code != 251) std::abort();
            if (v == RcptVerdict::Unknown && (r.enhanced.rfind("5.1.", 0) != 0 || r.code / 100 != 5)) std::abort();
            (void)parse_ehlo_reply(r);
        }
    }
    return 0;
}
