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
#include <unordered_set>

#include "../milter/address.hpp"
#include "../milter/published.hpp"
#include "backend.hpp"

namespace rcptguard {

struct FileIdentity {
    dev_t dev = 0;
    ino_t ino = 0;
    off_t size = -1;
    long long mtime_ns = -1;
    bool operator==(const FileIdentity& o) const {
        return dev == o.dev && ino == o.ino && size == o.size && mtime_ns == o.mtime_ns;
    }
    bool operator!=(const FileIdentity& o) const { return !(*this == o); }
};

// Reads a file's identity; false (and errno) if it cannot be stat()ed.
bool stat_identity(const std::string& path, FileIdentity* out);

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

class FileBackend final : public Backend {
public:
    // Throws ConfigError-compatible std::runtime_error (via the registry) if the
    // initial load fails.
    FileBackend(std::string name, std::string path, AddressOptions opts);

    LookupResult lookup(std::string_view key) const noexcept override;
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
