// registry: builds a backend from its "[backend NAME]" section. The only place
// that knows the list of backend types; each type reads and validates its own
// keys through the SectionReader, so a typo is reported with file, line and key.
//
// make_backend() throws ConfigError for bad settings (and for data that cannot
// be loaded at all where a type treats that as configuration, e.g. a flat file
// with a syntax error). Problems that may be transient (a missing database, a
// directory server that does not answer) are not errors: the backend answers
// TempFail until they clear, and startup_warning() describes them.
// Thread-safety: called while a configuration is built (one thread).
#pragma once

#include <string>
#include <vector>

#include "../milter/address.hpp"
#include "../milter/config_file.hpp"
#include "backend.hpp"

namespace rcptguard {

struct BackendContext {
    AddressOptions address;  // how keys are normalised (file entries use it)
};

struct BuiltBackend {
    BackendPtr backend;
    std::string startup_warning;  // "" when the backend answered a probe lookup
};

BuiltBackend make_backend(SectionReader& section, const BackendContext& ctx);
std::vector<std::string> backend_types();

}  // namespace rcptguard
