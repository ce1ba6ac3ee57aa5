// fake_libmilter: just enough of libmilter's C API for unit tests of the
// libmilter door (milter/callbacks.cpp) without an MTA or a socket:
// smfi_register() keeps the callback table, a FakeMilterContext is the SMFICTX
// the tests hand to the callbacks, and every smfi_* call the door makes is
// recorded on it (replies, header and body edits, macro lookups).
// Thread-safety: one test thread at a time.
#pragma once

#include <libmilter/mfapi.h>

#include <map>
#include <string>
#include <vector>

// libmilter's context type is opaque to filters; the fake defines it.
struct smfi_str {
    void* priv = nullptr;
    std::map<std::string, std::string> macros;        // "i", "{rcpt_mailer}", ...
    std::string reply_code, reply_xcode, reply_text;  // the last smfi_setreply
    std::vector<std::string> calls;                   // "addheader Name: value", "replacebody N", ...
};

namespace rcptguard::testing {

using FakeMilterContext = smfi_str;

// The table given to smfi_register (empty before the door registered).
const smfiDesc& registered_milter();

}  // namespace rcptguard::testing
