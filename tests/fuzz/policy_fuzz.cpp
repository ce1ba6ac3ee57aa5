// libFuzzer target: the policy delegation protocol parser and the requests it
// yields, fed in pieces as a network connection would deliver them. No crash,
// no hang; every completed request maps to a one-line action.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "policyd/policy_protocol.hpp"

using namespace rcptguard;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string_view in(reinterpret_cast<const char*>(data), size);
    std::size_t step = size ? 1 + data[0] % 97 : 1;
    PolicyRequestParser p(4096, 1024);
    std::vector<PolicyRequest> out;
    for (std::size_t off = 0; off < in.size(); off += step)
        if (!p.feed(in.substr(off, step), &out)) break;
    for (const auto& r : out) {
        RcptDecision d;
        d.action = r.get("recipient").size() % 2 ? RcptAction::Reject : RcptAction::Continue;
        d.reply = unknown_user_reply(r.get("recipient"), "Recipient address rejected: User unknown");
        std::string a = policy_action(d);
        if (a.find('\n') != std::string::npos || a.find('\r') != std::string::npos) std::abort();
    }
    return 0;
}
