// ldap_config: the "type = ldap" backend's keys (one table: name, default,
// help) and the function that reads and validates them and builds the
// backend (see rcptguard.conf(5), "LDAP backend").
//
// Everything that can be checked without the directory is a configuration
// problem ("file:line: key: problem"): URIs, base and bind DN syntax
// (ldap_str2dn), the filter template, a missing or unreadable
// bind_password_file, an unreadable tls_ca_file when TLS is used. Risky but
// legal settings (a world-readable password file, tls_verify = no, a password
// sent without TLS) are logged as warnings. The password itself never
// appears in any message.
// Thread-safety: used while a configuration is built (one thread).
#pragma once

#include "backends/ldap/ldap_backend.hpp"
#include "backends/registry.hpp"

namespace rcptguard {

extern const BackendType kLdapBackendType;

// Reads every LDAP key (r has them declared) and calls r.finish(); problems
// are recorded in r.
LdapOptions read_ldap_options(SectionReader& r);

}  // namespace rcptguard
