// milter_client: the MTA side of the milter protocol (version 6), for the
// load generator and protocol tests: option negotiation, connect, MAIL, RCPT,
// abort, quit, and replies. Honours what the milter negotiated: steps it
// declined (SMFIP_NO*) are not sent, and stages it answers with no reply
// (SMFIP_NR_*) are not waited for - exactly what Postfix does.
// Thread-safety: one MilterClient per thread/connection.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace rcptguard::bench {

struct MilterReply {
    char code = 0;     // 'c' continue, 'r' reject, 't' tempfail, 'y' reply text, 'a' accept, ...
    std::string text;  // for 'y': "550 5.1.1 ..."
    bool ok() const { return code != 0; }
    // "accept", "reject", "tempfail" from the SMTP point of view.
    std::string smtp_class() const;
};

class MilterClient {
public:
    MilterClient() = default;
    ~MilterClient();
    MilterClient(const MilterClient&) = delete;
    MilterClient& operator=(const MilterClient&) = delete;

    // spec: inet:PORT@HOST or unix:PATH. Returns "" or the error.
    std::string connect_to(const std::string& spec);
    // Offers all actions and steps like Postfix 3.7 does; returns "" or the error.
    std::string negotiate();
    MilterReply helo_connect(const std::string& hostname, const std::string& ipv4, const std::string& macros_j = "");
    MilterReply mail(const std::string& sender);
    MilterReply rcpt(const std::string& recipient, bool rejected_by_mta = false);
    void abort_message();
    void quit();

    std::uint32_t negotiated_steps() const { return steps_; }
    std::uint32_t negotiated_actions() const { return actions_; }
    int fd() const { return fd_; }

    // Raw access for protocol tests.
    bool send_packet(char cmd, const std::string& data);
    MilterReply read_reply();

private:
    bool send_macro(char stage, const std::vector<std::pair<std::string, std::string>>& macros);
    bool read_exact(void* buf, std::size_t n);

    int fd_ = -1;
    std::uint32_t steps_ = 0;
    std::uint32_t actions_ = 0;
};

}  // namespace rcptguard::bench
