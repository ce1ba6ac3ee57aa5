// bounce_message: turns a message file into what an MTA hands a milter, and
// the milter's verdict back into the message the MTA would deliver. Shared
// by the bounce unit tests and the bounce_strip tool so both see messages
// exactly alike.
// Thread-safety: pure functions.
// Failure: cannot fail; text that has no header section gives empty fields.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/bounce/bounce_stripper.hpp"

namespace rcptguard::testing {

struct MilterMessage {
    std::string header_section;  // the header lines as they were, each ending in CRLF
    std::string separator;       // "\r\n", or "" when the header section ran into the body
    // Fields as a milter receives them: value without the leading blanks and
    // the CRLF, folded lines joined by "\n".
    std::vector<std::pair<std::string, std::string>> fields;
    std::string body;  // CRLF
};

// What an MTA does before a milter sees the message: drops an mbox "From "
// line and turns LF-only, CR-only and mixed line endings into CRLF.
std::string normalise_for_milter(std::string_view raw);

// Splits as Postfix's cleanup does: the header section ends at an empty line,
// or at the first line that is neither a field nor a continuation (which then
// starts the body).
MilterMessage split_for_milter(std::string crlf_text);

// The delivered message: the input unchanged, or its header section plus the
// trace header (appended, as smfi_addheader does) and the new body.
std::string assemble(const MilterMessage& m, const StripResult& r);

// Runs a stripper over m, feeding the body in chunks whose sizes come from
// next_chunk_size (called with the bytes left; must return 1..left). With
// skip, feeding stops when body() returns false, as SMFIS_SKIP would.
StripResult strip(const MilterMessage& m, const BounceOptions& options,
                  const std::function<std::size_t(std::size_t)>& next_chunk_size, bool skip);

}  // namespace rcptguard::testing
