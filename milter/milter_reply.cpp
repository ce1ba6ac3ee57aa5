// milter_reply: see milter_reply.hpp.
#include "milter/milter_reply.hpp"

namespace rcptguard {

std::string escape_percent(std::string s) {
    if (s.find('%') == std::string::npos) return s;  // the usual case: no copy
    std::string out;
    out.reserve(s.size() + 8);
    for (char c : s) {
        out.push_back(c);
        if (c == '%') out.push_back('%');
    }
    return out;
}

std::string milter_reply_text(const Reply& r) { return escape_percent(r.text()); }

}  // namespace rcptguard
