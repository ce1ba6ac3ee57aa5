// batv_settings: the BATV keys of rcptguard.conf and the key file they name
// (see rcptguard.conf(5), "BATV"). BATV is off unless batv_domains is set.
//
// Key file: one key per line, "K SECRET" - K the key number 0-9, SECRET at
// least 16 characters without blanks; '#' comment lines. rcptguard signs with
// the last line and verifies with every line, so a new key is added as a new
// last line and the old one removed a lifetime later. The file must not be
// readable by other users (a configuration error); secrets are never logged.
// Thread-safety: immutable once read.
#pragma once

#include <string>

#include "core/batv/prvs.hpp"
#include "core/recipients/domain_set.hpp"
#include "util/config_file.hpp"

namespace rcptguard {

struct BatvSettings {
    bool enabled = false;                                   // batv_domains not empty
    DomainSet domains;                                      // batv_domains
    BatvKeyRing keys;                                       // batv_key_file
    unsigned lifetime_days = 7;                             // batv_lifetime
    bool enforce = false;                                   // batv_mode = enforce (default monitor)
    bool sign = true;                                       // batv_sign
    TagForm form = TagForm::Prefix;                         // batv_tag_form
    bool verify_all_senders = false;                        // batv_verify_all_senders
    DomainSet exempt_destination_domains;                   // batv_exempt_destinations (domains)
    std::vector<std::string> exempt_destination_addresses;  // ... (addresses)
    std::vector<std::string> exempt_recipients;             // batv_exempt_recipients (canonical)
};

// Reads the batv_* keys; delimiter is the first recipient_delimiter character
// (for the sub-address form). Throws ConfigError.
BatvSettings read_batv_settings(SectionReader& r, const std::string& delimiters);

// Parses key file text (path for messages); "" or "path:line: problem".
std::string parse_batv_keys(const std::string& text, const std::string& path, BatvKeyRing* out);

}  // namespace rcptguard
