// recipient_list: the format of a recipient list file (the file backend's
// data, and what rcptguard-ctl import reads).
//
// One entry per line: "user@domain" or a catch-all "@domain"; '#' starts a
// comment line; anything after the first whitespace is ignored, so a Postfix
// map source file ("user@domain  OK") can be used as is. Entries are
// normalised like live addresses (util/address.hpp).
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <string_view>
#include <unordered_set>

#include "util/address.hpp"

namespace rcptguard {

struct RecipientList {
    std::unordered_set<std::string> entries;
};

// One line of a recipient list: blank or comment, an entry, or a bad line.
// The address is the first token (a quoted local part may hold blanks);
// anything after it is ignored. Shared with rcptguard-ctl import.
struct ListLine {
    enum class Kind { Skip, Entry, Bad } kind = Kind::Skip;
    std::string entry;    // normalised (Entry)
    std::string problem;  // why (Bad)
};
ListLine parse_list_line(std::string_view line, const AddressOptions& opts);

// Parses file contents; on error returns false with *error = "path:line: problem".
bool parse_recipient_list(const std::string& text, const std::string& path, const AddressOptions& opts,
                          RecipientList* out, std::string* error);

}  // namespace rcptguard
