// file_identity: what tells one version of a file from another (device,
// inode, size, modification time), so backends notice a file replaced on disk
// (new inode: reopen) or changed in place (size or mtime: data changed).
// Thread-safety: a value type; stat_identity() is a plain system call.
#pragma once

#include <sys/types.h>

#include <string>

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
    bool same_file(const FileIdentity& o) const { return dev == o.dev && ino == o.ino; }
};

// Reads a file's identity; false (and errno) if it cannot be stat()ed.
bool stat_identity(const std::string& path, FileIdentity* out);

}  // namespace rcptguard
