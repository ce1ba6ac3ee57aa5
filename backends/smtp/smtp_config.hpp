// smtp_config: the "type = smtp" (call-ahead) backend's keys (one table:
// name, default, help) and the function that reads and validates them and
// builds the backend (see rcptguard.conf(5), "Call-ahead").
//
// Everything that can be checked without the downstream server is a
// configuration problem ("file:line: key: problem"): hosts that are not IP
// addresses with an optional port (names are not resolved: a lookup must
// never wait for DNS), a HELO name that is not a host name or an address
// literal, a probe sender that is not <> or an address, an unreadable or
// unusable tls_ca_file with starttls = require. A server that does not
// answer at start is not a problem: the backend starts, warns and answers
// TempFail until it does.
// Thread-safety: used while a configuration is built (one thread).
#pragma once

#include <string>

#include "backends/registry.hpp"
#include "backends/smtp/smtp_backend.hpp"

namespace rcptguard {

extern const BackendType kSmtpBackendType;

// Reads every key (r has them declared) and calls r.finish(); problems are
// recorded in r.
SmtpOptions read_smtp_options(SectionReader& r);

// "192.0.2.25", "192.0.2.25:2525", "[2001:db8::25]:25", "2001:db8::25" (port
// 25 when none is given); false and *problem for anything else.
bool parse_smtp_host(const std::string& spec, SmtpServer* out, std::string* problem);

}  // namespace rcptguard
