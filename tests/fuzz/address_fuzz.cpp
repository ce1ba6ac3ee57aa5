// libFuzzer target: address normalisation and the replies built from it.
// Any input must parse without crashing, and every reply rcptguard could send
// for it must be well formed and ASCII (a malformed reply makes Postfix drop
// the milter). Both forms of an internationalised domain must lead back to
// the same canonical form, and the log rendering must be valid UTF-8.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "core/reply.hpp"
#include "milter/milter_reply.hpp"
#include "util/address.hpp"
#include "util/text.hpp"

using namespace rcptguard;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string raw(reinterpret_cast<const char*>(data), size);
    for (bool fold : {true, false}) {
        AddressOptions o;
        o.fold_local_case = fold;
        o.recipient_delimiters = fold ? "+" : "+-";
        Address a = parse_address(raw, o);
        if (a.status == AddressStatus::Mailbox) {
            auto keys = lookup_keys(a, o);
            if (keys.empty() || keys.front() != a.canonical()) std::abort();
            if (a.canonical().size() > kMaxAddressLength) std::abort();
            // Normalisation is idempotent: the canonical form parses to itself.
            Address again = parse_address(a.canonical(), o);
            if (again.status != AddressStatus::Mailbox || again.canonical() != a.canonical()) std::abort();
            // The U-label form is the same domain, and written with it the
            // address has the same canonical form.
            std::string unicode = unicode_domain(a.domain);
            if (canonical_domain(unicode) != a.domain) std::abort();
            Address u = parse_address(a.local + "@" + unicode, o);
            if (u.status != AddressStatus::Mailbox || u.canonical() != a.canonical()) std::abort();
            if (lookup_keys(u, o) != keys) std::abort();
        }
        if (!is_valid_utf8(printable(raw))) std::abort();
        for (const Reply& r :
             {unknown_user_reply(a.original, "User unknown"),
              lookup_tempfail_reply(a.original, "Temporary lookup failure"), bad_syntax_reply(a.original)}) {
            if (!reply_is_well_formed(r)) std::abort();
            std::string w = milter_reply_text(r);
            if (w.find('\r') != std::string::npos || w.find('\n') != std::string::npos) std::abort();
            if (w.size() > kMaxReplyText) std::abort();
            for (char c : w)
                if (c < 0x20 || c > 0x7E) std::abort();
        }
        std::string err;
        std::string entry = normalize_entry(raw, o, &err);
        if (entry.empty() && err.empty()) std::abort();
    }
    return 0;
}
