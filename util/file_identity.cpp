// file_identity: see file_identity.hpp.
#include "util/file_identity.hpp"

#include <sys/stat.h>

namespace rcptguard {

bool stat_identity(const std::string& path, FileIdentity* out) {
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) return false;
    out->dev = st.st_dev;
    out->ino = st.st_ino;
    out->size = st.st_size;
    out->mtime_ns = static_cast<long long>(st.st_mtim.tv_sec) * 1000000000LL + st.st_mtim.tv_nsec;
    return true;
}

}  // namespace rcptguard
