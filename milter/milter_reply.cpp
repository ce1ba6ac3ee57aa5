// milter_reply: see milter_reply.hpp.
#include "milter/milter_reply.hpp"

namespace rcptguard {

std::string escape_percent(std::string_view s) {
    if (s.find('%') == std::string_view::npos) return std::string(s);  // the usual case
    std::string out;
    out.reserve(s.size() + 8);
    for (char c : s) {
        out.push_back(c);
        if (c == '%') out.push_back('%');
    }
    return out;
}

std::string milter_reply_text(const Reply& r) {
    std::string t = r.text();
    if (t.find('%') == std::string::npos) return t;  // the usual case: no second copy
    return escape_percent(t);
}

}  // namespace rcptguard
