// file_backend: recipients listed in a plain text file ("type = file").
//
// One entry per line: "user@domain" or a catch-all "@domain"; '#' starts a
// comment line; anything after the first whitespace is ignored, so a Postfix
// map source file ("user@domain  OK") can be used as is. Entries are
// normalised like live addresses (address.hpp).
// The file is loaded into memory; maintain() notices a changed file (inode,
// size, mtime) and loads it into a new snapshot that replaces the old one
// atomically, so lookups in flight are never blocked. A file that fails to
// load keeps the previous contents and the problem is logged with its line.
// At start a missing or broken file is a configuration error.
// lookup(): Found / NotFound; TempFail only if nothing was ever loaded.
// Thread-safety: lookup() from any thread; maintain() from one thread.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <string>

#include "backends/backend.hpp"
#include "backends/file/recipient_list.hpp"
#include "util/file_identity.hpp"
#include "util/published.hpp"

namespace rcptguard {

class FileBackend final : public Backend {
public:
    // Call load() before the first lookup (the registry does: a file that
    // does not load at start is a configuration error).
    FileBackend(std::string name, std::string path, AddressOptions opts);

    LookupResult lookup(std::string_view key) const noexcept override;
    bool answers_locally() const noexcept override { return true; }
    void maintain() noexcept override;
    unsigned long generation() const noexcept override { return generation_.load(); }

    const std::string& path() const { return path_; }
    std::size_t size() const;
    // Loads the file now; returns "" or the problem. Used at start and by maintain().
    std::string load();

private:
    std::string path_;
    AddressOptions opts_;
    Published<RecipientList> list_;
    FileIdentity identity_;   // touched only by the maintaining thread
    std::string last_error_;  // ditto: avoids logging the same problem every second
    std::atomic<unsigned long> generation_{0};
};

}  // namespace rcptguard
