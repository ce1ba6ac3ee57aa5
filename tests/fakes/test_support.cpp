// test_support: see tests/test_support.hpp.
#include "tests/test_support.hpp"

#include <sqlite3.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "util/text.hpp"

namespace rcptguard::testing {

TempDir::TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "rcptguard-test-XXXXXX").string();
    if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
}

TempDir::~TempDir() {
    std::error_code ec;
    std::filesystem::permissions(path_, std::filesystem::perms::owner_all, ec);
    std::filesystem::remove_all(path_, ec);
}

void write_file(const std::string& path, const std::string& text) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << text;
    if (!out) throw std::runtime_error("cannot write " + path);
}

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

std::string source_dir() {
    if (const char* env = getenv("RCPTGUARD_SOURCE_DIR")) return env;
#ifdef RCPTGUARD_SOURCE_DIR
    return RCPTGUARD_SOURCE_DIR;
#else
    return ".";
#endif
}

void make_sqlite_db(const std::string& path, const std::vector<std::string>& rows) {
    sqlite3* db = nullptr;
    if (sqlite3_open(path.c_str(), &db) != SQLITE_OK) throw std::runtime_error("cannot create " + path);
    // The file is also a sqlite3 shell script: its dot-commands are not SQL.
    std::string schema;
    for_each_line(read_file(source_dir() + "/etc/schema.sql"), [&schema](std::string_view line, int) {
        if (line.empty() || line.front() != '.') schema += std::string(line) + "\n";
        return true;
    });
    char* err = nullptr;
    if (sqlite3_exec(db, schema.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
        std::string e = err ? err : "?";
        sqlite3_free(err);
        sqlite3_close(db);
        throw std::runtime_error("schema: " + e);
    }
    sqlite3_stmt* st = nullptr;
    sqlite3_prepare_v2(db, "INSERT INTO recipients(address) VALUES (?1)", -1, &st, nullptr);
    for (const auto& r : rows) {
        sqlite3_bind_text(st, 1, r.data(), static_cast<int>(r.size()), SQLITE_TRANSIENT);
        if (sqlite3_step(st) != SQLITE_DONE) throw std::runtime_error("insert " + r + ": " + sqlite3_errmsg(db));
        sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
}

}  // namespace rcptguard::testing
