// query: see query.hpp.
#include "query.hpp"

#include "reply.hpp"
#include "text.hpp"

namespace rcptguard {

int run_query(const Runtime& rt, std::string_view address, std::ostream& out) {
    const RecipientPolicy& policy = *rt.policy;
    RecipientCheck c = policy.check(address);
    Reply would = policy.enforce_reply(c);
    std::string who = display_address(c.address.original);
    std::string mode_note = policy.settings().monitor ? " (mode = monitor: only logged, mail accepted)" : "";
    switch (c.verdict) {
        case Verdict::Valid:
            out << who << ": valid: "
                << (c.key.empty() ? c.reason : "found " + printable(c.key) + " in backend " + c.backend)
                << "\n";
            return kQueryValid;
        case Verdict::NotOurs:
            out << who << ": not ours: "
                << (c.reason.empty() ? "domain " + printable(c.address.domain) + " is not in 'domains'"
                                     : c.reason)
                << ": no opinion\n";
            return kQueryNotOurs;
        case Verdict::Unknown:
            out << who << ": unknown: would reply " << would.to_string() << mode_note << "\n";
            return kQueryUnknown;
        case Verdict::BadSyntax:
            out << who << ": bad syntax (" << c.reason << "): would reply " << would.to_string()
                << mode_note << "\n";
            return kQueryUnknown;
        case Verdict::TempFail:
            out << who << ": temporary failure: backend " << c.backend << ": " << printable(c.reason, 300)
                << ": would reply " << would.to_string()
                << (policy.settings().accept_on_backend_error ? " (on_backend_error = accept: mail accepted)"
                                                              : mode_note)
                << "\n";
            return kQueryTempFail;
    }
    return kQueryTempFail;
}

}  // namespace rcptguard
