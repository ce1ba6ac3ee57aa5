// secret_file: see secret_file.hpp.
#include "util/secret_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "util/unique_fd.hpp"

namespace rcptguard {

SecretFile read_secret_file(const std::string& path) {
    SecretFile out;
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY));
    if (!fd) {
        out.problem = "cannot read " + path + ": " + std::strerror(errno);
        return out;
    }
    struct stat st {};
    if (fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) {
        out.problem = path + " is not a regular file";
        return out;
    }
    std::string text;
    char buf[512];
    ssize_t n;
    while ((n = ::read(fd.get(), buf, sizeof buf)) > 0 && text.size() < 4096) text.append(buf, static_cast<size_t>(n));
    if (n < 0) {
        out.problem = "cannot read " + path + ": " + std::strerror(errno);
        return out;
    }
    std::size_t eol = text.find_first_of("\r\n");
    if (eol != std::string::npos) {
        if (text.find_first_not_of("\r\n", eol) != std::string::npos) {
            out.problem = path + " must hold the password alone on its first line";
            return out;
        }
        text.resize(eol);
    }
    // An empty password is never what was meant (for LDAP, RFC 4513 5.1.2
    // makes a bind with a DN and no password an anonymous one).
    if (text.empty()) {
        out.problem = path + " is empty";
        return out;
    }
    if (st.st_mode & (S_IROTH | S_IWOTH))
        out.warning = path + " is accessible to every user: chmod o-rw it (rcptguard needs read access only)";
    out.secret = std::move(text);
    return out;
}

}  // namespace rcptguard
