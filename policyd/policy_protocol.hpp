// policy_protocol: Postfix's policy delegation protocol (SMTPD_POLICY_README):
// a request is "name=value" lines ended by an empty line; the answer is
// "action=..." and an empty line. Many requests follow each other on one
// connection.
//
// PolicyRequestParser is incremental (bytes arrive in any pieces) and bounded:
// a line over max_line_bytes, a request over max_request_bytes or a line that
// is not name=value is a protocol error - the caller closes the connection,
// and Postfix applies smtpd_policy_service_default_action (451 by default).
// Thread-safety: a parser belongs to one connection.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/recipients/recipient_rules.hpp"

namespace rcptguard {

// The attributes rcptguard asks of every request: the parser notes where
// each one's last line is, so asking costs no search (a request from Postfix
// has about 30 lines).
enum class PolicyAttr : std::uint8_t {
    Request,
    ProtocolState,
    Recipient,
    Sender,
    ClientAddress,
    ClientName,
    ClientPort,
    Instance,
    QueueId,
    SaslUsername,
    Other,  // not one of the above
};
constexpr std::size_t kPolicyAttrs = static_cast<std::size_t>(PolicyAttr::Other);
PolicyAttr policy_attr(std::string_view name);

// One request: its "name=value" lines as received, kept in one buffer.
class PolicyRequest {
public:
    PolicyRequest() { last_.fill(kNone); }
    // The value of the last line with this name; "" when there is none. Valid
    // while the request lives.
    std::string_view get(std::string_view name) const;
    std::string_view get(PolicyAttr a) const;
    std::size_t size() const { return attrs_.size(); }

private:
    friend class PolicyRequestParser;
    static constexpr std::uint16_t kNone = 0xFFFF;  // at most 512 lines
    std::string_view value(std::size_t i) const;
    struct Attr {
        std::uint32_t at;        // where the line starts in text_
        std::uint32_t name_len;  // the value follows after '='
        std::uint32_t end;
    };
    std::string text_;  // the lines, without their line ends, back to back
    std::vector<Attr> attrs_;
    std::array<std::uint16_t, kPolicyAttrs> last_;  // index into attrs_, or kNone
};

class PolicyRequestParser {
public:
    explicit PolicyRequestParser(std::size_t max_request_bytes = 64 * 1024, std::size_t max_line_bytes = 8192)
        : max_request_bytes_(max_request_bytes), max_line_bytes_(max_line_bytes) {}

    // Appends every request completed by data to *out; false on a protocol error.
    bool feed(std::string_view data, std::vector<PolicyRequest>* out);
    const std::string& error() const { return error_; }
    bool mid_request() const { return !current_.text_.empty(); }

private:
    // The line from line_start_ to the end of current_.text_ is complete.
    bool end_line(std::vector<PolicyRequest>* out);
    void make_room();

    std::size_t max_request_bytes_;
    std::size_t max_line_bytes_;
    PolicyRequest current_;
    std::size_t line_start_ = 0;
    std::size_t request_bytes_ = 0;
    std::string error_;
};

// "action=TEXT\n\n"
std::string policy_reply(std::string_view action);
// The action for a recipient decision: DUNNO (let later restrictions decide,
// never OK) or the refusal "550 5.1.1 User unknown" (Postfix adds
// "<address>: Recipient address rejected: " before the text itself).
std::string policy_action(const RcptDecision& d);

}  // namespace rcptguard
