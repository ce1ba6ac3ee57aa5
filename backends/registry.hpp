// registry: builds a backend from its "[backend NAME]" section. The only place
// that knows the list of backend types. Each type lives in its own folder
// (backends/TYPE/) and describes itself with a BackendType: its name, its keys
// (name, default, help: the one table the reader, "rcptguard -n", the docs
// test and the man page's key list go by) and the function that reads them
// and builds the backend.
//
// Every section also takes "domains" (any type): the recipient domains the
// backend is asked about, read here rather than by each type.
//
// make_backend() records every configuration problem in the file's problems
// (file, line, key) and returns a null backend when there was one. Problems
// that may be transient (a missing database, a directory server that does
// not answer) are not configuration problems: the backend answers TempFail
// until they clear, and startup_warning describes them.
// Thread-safety: called while a configuration is built (one thread).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "backends/backend.hpp"
#include "util/address.hpp"
#include "util/config_file.hpp"

namespace rcptguard {

struct BackendContext {
    AddressOptions address;  // how keys are normalised (file entries use it)
};

struct BuiltBackend {
    BackendPtr backend;           // null when the section has a problem
    std::string startup_warning;  // "" when the backend answered a probe lookup
    // "" or what the store said about the configured queries when the probe
    // prepared them (a syntax error, a table or column that does not exist):
    // "rcptguard -n" reports it as an error; the daemon logs it and answers
    // TempFail until it is fixed.
    std::string query_problem;
    // The section's own "domains" (names and .parent entries, checked): the
    // backend is asked only about recipients of these domains; empty = all.
    std::vector<std::string> domains;
};

struct BackendType {
    std::string_view name;     // the value of "type ="
    std::string_view summary;  // one line: what it reads
    KeyTable keys;             // every key of its section besides "type"
    // Reads the keys (r has them declared), calls r.finish() and, if r.ok(),
    // builds the backend.
    BuiltBackend (*make)(SectionReader& r, const BackendContext& ctx);
};

BuiltBackend make_backend(SectionReader& section, const BackendContext& ctx);
const std::vector<const BackendType*>& backend_types();
const BackendType* find_backend_type(std::string_view name);

}  // namespace rcptguard
