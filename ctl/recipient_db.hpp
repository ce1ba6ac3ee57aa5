// recipient_db: write access to rcptguard's SQLite recipient database for
// rcptguard-ctl - create it, add, remove, list, import, export - always with
// the daemon's own address normalisation (address.hpp), in transactions that
// are safe while the daemon reads the same database (WAL, busy timeout).
// Errors throw DbError with a message for the admin.
// Thread-safety: one RecipientDb per thread (it is a command-line tool).
#pragma once

#include <functional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "util/address.hpp"

struct sqlite3;

namespace rcptguard {

class DbError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// The schema shipped as etc/schema.sql, compiled in.
const char* schema_sql();

struct ImportProblem {
    int line;
    std::string text;
    std::string problem;
};

class RecipientDb {
public:
    // Opens an existing database for writing (never creates one).
    RecipientDb(const std::string& path, AddressOptions opts);
    ~RecipientDb();
    RecipientDb(const RecipientDb&) = delete;
    RecipientDb& operator=(const RecipientDb&) = delete;

    // Creates a new database with the schema (WAL mode). Fails if it exists.
    static void create(const std::string& path);

    // Normalises one address or @domain; "" and *problem when invalid.
    std::string normalize(const std::string& text, std::string* problem) const;
    // Adds entries (already normalised, so in canonical form: A-label
    // domains); returns those that were present already, also those stored
    // with the other form of an internationalised domain ("e (as other)").
    std::vector<std::string> add(const std::vector<std::string>& entries);
    // Removes entries in every form the daemon finds (both forms of an
    // internationalised domain); returns those that were not present.
    std::vector<std::string> remove(const std::vector<std::string>& entries);
    // All rows, or those matching a glob (ASCII case ignored); a glob whose
    // domain part is a plain domain matches both forms of it.
    std::vector<std::string> list(const std::string& glob) const;
    // (canonical domain, addresses, has catch-all), both forms of an
    // internationalised domain counted together; sorted by domain.
    struct DomainCount {
        std::string domain;
        long addresses = 0;
        bool catch_all = false;
    };
    std::vector<DomainCount> domains() const;
    // Parses lines (one address per line, '#' comments, text after the first
    // blank ignored: the flat-file format). Returns every bad line; on none,
    // imports all in one transaction and returns the count of new entries.
    // check, when given, may refuse a well-formed entry: it returns the
    // problem, or "" to accept it.
    std::vector<ImportProblem> import(const std::string& text, long* added, long* present,
                                      const std::function<std::string(const std::string&)>& check = {});

private:
    void exec(const std::string& sql);

    sqlite3* db_ = nullptr;
    std::string path_;
    AddressOptions opts_;
};

}  // namespace rcptguard
