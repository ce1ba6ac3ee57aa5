// atomic_file: see atomic_file.hpp.
#include "util/atomic_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "util/unique_fd.hpp"

namespace rcptguard {

namespace {

std::string problem(const std::string& what, const std::string& path) {
    return "cannot " + what + " " + path + ": " + std::strerror(errno);
}

}  // namespace

std::string write_file_atomically(const std::string& path, std::string_view contents, mode_t mode) {
    std::string tmp = path + ".tmp";
    UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode));
    if (!fd) return problem("create", tmp);
    std::size_t done = 0;
    while (done < contents.size()) {
        ssize_t n = ::write(fd.get(), contents.data() + done, contents.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            std::string p = problem("write", tmp);
            ::unlink(tmp.c_str());
            return p;
        }
        done += static_cast<std::size_t>(n);
    }
    if (::fchmod(fd.get(), mode) != 0 || ::fsync(fd.get()) != 0) {
        std::string p = problem("write", tmp);
        ::unlink(tmp.c_str());
        return p;
    }
    fd.reset();
    if (::rename(tmp.c_str(), path.c_str()) != 0) {
        std::string p = problem("rename " + tmp + " to", path);
        ::unlink(tmp.c_str());
        return p;
    }
    // The rename itself must reach the disk too.
    std::string dir = path.substr(0, path.rfind('/'));
    UniqueFd d(::open(dir.empty() ? "/" : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (d) ::fsync(d.get());
    return "";
}

std::string read_small_file(const std::string& path, std::size_t max_bytes, std::string* contents, bool* missing) {
    if (missing) *missing = false;
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY));
    if (!fd) {
        if (errno == ENOENT && missing) *missing = true;
        return problem("read", path);
    }
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) return problem("read", path);
    if (!S_ISREG(st.st_mode)) return path + " is not a regular file";
    if (static_cast<std::size_t>(st.st_size) > max_bytes)
        return path + " is larger than " + std::to_string(max_bytes) + " bytes";
    std::string text;
    char buf[65536];
    for (;;) {
        ssize_t n = ::read(fd.get(), buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return problem("read", path);
        if (n == 0) break;
        text.append(buf, static_cast<std::size_t>(n));
        if (text.size() > max_bytes) return path + " is larger than " + std::to_string(max_bytes) + " bytes";
    }
    *contents = std::move(text);
    return "";
}

}  // namespace rcptguard
