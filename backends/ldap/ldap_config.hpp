// ldap_config: reads and validates the keys of a "[backend NAME]" section
// with "type = ldap" (see rcptguard.conf(5), "LDAP backend").
//
// Everything that can be checked without the directory is checked here and
// is a ConfigError ("file:line: key: problem"): URIs, base and bind DN syntax
// (ldap_str2dn), the filter template, a missing or unreadable
// bind_password_file, an unreadable tls_ca_file when TLS is used. Risky but
// legal settings (a world-readable password file, tls_verify = no, a password
// sent without TLS) are logged as warnings. The password itself never
// appears in any message.
// Thread-safety: used while a configuration is built (one thread).
#pragma once

#include "../milter/config_file.hpp"
#include "ldap_backend.hpp"

namespace rcptguard {

// Reads every LDAP key and calls r.finish(); throws ConfigError.
LdapOptions read_ldap_options(SectionReader& r);

}  // namespace rcptguard
