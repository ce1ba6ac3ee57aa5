// test_support: helpers shared by unit tests - a temporary directory that
// cleans up after itself, file writing, the source tree location.
#pragma once

#include <string>
#include <vector>

namespace rcptguard::testing {

class TempDir {
public:
    TempDir();
    ~TempDir();
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    const std::string& path() const { return path_; }
    std::string file(const std::string& name) const { return path_ + "/" + name; }

private:
    std::string path_;
};

void write_file(const std::string& path, const std::string& text);
std::string read_file(const std::string& path);
// The repository root (for etc/schema.sql and friends).
std::string source_dir();
// Creates an SQLite database with etc/schema.sql and the given rows.
void make_sqlite_db(const std::string& path, const std::vector<std::string>& rows);

}  // namespace rcptguard::testing
