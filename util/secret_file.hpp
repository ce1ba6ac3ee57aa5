// secret_file: reads a password from the first line of its own file
// (bind_password_file, password_file, redis_password_file). Secrets never go
// into rcptguard.conf, and no message here ever contains one: only the file
// name and the reason.
// Thread-safety: a plain function over the file system.
#pragma once

#include <string>

namespace rcptguard {

struct SecretFile {
    std::string secret;   // the first line without its line end
    std::string problem;  // "" or why the file cannot be used (unreadable, empty, more than one line)
    std::string warning;  // "" or advice (readable by every user)
};

SecretFile read_secret_file(const std::string& path);

}  // namespace rcptguard
