// file_config: see file_config.hpp.
#include "backends/file/file_config.hpp"

#include "backends/file/file_backend.hpp"

namespace rcptguard {

namespace {

const KeySpec kKeys[] = {
    {"path", "", "the recipient list: one user@domain or @domain per line (required)"},
};

BuiltBackend make(SectionReader& r, const BackendContext& ctx) {
    std::string path = r.required("path");
    r.finish();
    if (!r.ok()) return {};
    auto b = std::make_shared<FileBackend>(r.section().name, path, ctx.address);
    // A list that does not load at start is a configuration error; later
    // failures keep the last good contents (see file_backend.hpp).
    if (std::string problem = b->load(); !problem.empty()) {
        r.error("path", problem);
        return {};
    }
    return {b, ""};
}

}  // namespace

const BackendType kFileBackendType = {"file", "recipients listed in a text file", kKeys, make};

}  // namespace rcptguard
