// recipient_db: see recipient_db.hpp.
#include "ctl/recipient_db.hpp"

#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>

#include "backends/file/file_backend.hpp"
#include "ctl/schema_sql.inc"
#include "util/text.hpp"

namespace rcptguard {

namespace {

// Statement wrapper that always finalizes.
class Stmt {
public:
    Stmt(sqlite3* db, const char* sql) : db_(db) {
        if (sqlite3_prepare_v2(db, sql, -1, &st_, nullptr) != SQLITE_OK)
            throw DbError(std::string(sqlite3_db_filename(db, "main")) + ": " + sqlite3_errmsg(db));
    }
    ~Stmt() { sqlite3_finalize(st_); }
    Stmt(const Stmt&) = delete;
    Stmt& operator=(const Stmt&) = delete;
    void bind(int i, const std::string& v) {
        sqlite3_bind_text(st_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    }
    bool step() {
        int rc = sqlite3_step(st_);
        if (rc == SQLITE_ROW) return true;
        if (rc == SQLITE_DONE) return false;
        throw DbError(std::string(sqlite3_db_filename(db_, "main")) + ": " + sqlite3_errmsg(db_));
    }
    void reset() {
        sqlite3_reset(st_);
        sqlite3_clear_bindings(st_);
    }
    std::string text(int col) const {
        const auto* t = reinterpret_cast<const char*>(sqlite3_column_text(st_, col));
        return t ? std::string(t, static_cast<std::size_t>(sqlite3_column_bytes(st_, col))) : std::string();
    }
    long integer(int col) const { return static_cast<long>(sqlite3_column_int64(st_, col)); }

private:
    sqlite3* db_;
    sqlite3_stmt* st_ = nullptr;
};

}  // namespace

const char* schema_sql() { return kSchemaSql; }

RecipientDb::RecipientDb(const std::string& path, AddressOptions opts) : path_(path), opts_(std::move(opts)) {
    int rc = sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE, nullptr);
    if (rc != SQLITE_OK) {
        std::string why = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
        if (access(path.c_str(), F_OK) != 0) why = "no such file (create it with: rcptguard-ctl init)";
        sqlite3_close(db_);
        db_ = nullptr;
        throw DbError(path + ": " + why);
    }
    // The daemon may be reading: wait for a lock rather than fail at once.
    sqlite3_busy_timeout(db_, 10000);
    try {
        Stmt check(db_, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'recipients'");
        if (!check.step() || check.integer(0) != 1)
            throw DbError(path + ": no table 'recipients' (not an rcptguard database? see rcptguard-ctl init)");
    } catch (...) {
        sqlite3_close_v2(db_);  // the destructor does not run for a constructor that throws
        db_ = nullptr;
        throw;
    }
}

RecipientDb::~RecipientDb() {
    if (db_) sqlite3_close_v2(db_);
}

void RecipientDb::create(const std::string& path) {
    if (access(path.c_str(), F_OK) == 0) throw DbError(path + ": already exists (not touched)");
    sqlite3* db = nullptr;
    if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) != SQLITE_OK) {
        std::string why = db ? sqlite3_errmsg(db) : "cannot open";
        sqlite3_close(db);
        throw DbError(path + ": " + why);
    }
    char* err = nullptr;
    int rc = sqlite3_exec(db, kSchemaSql, nullptr, nullptr, &err);
    std::string why = err ? err : "";
    sqlite3_free(err);
    sqlite3_close(db);
    if (rc != SQLITE_OK) {
        unlink(path.c_str());
        throw DbError(path + ": cannot create the schema: " + why);
    }
}

void RecipientDb::exec(const std::string& sql) {
    char* err = nullptr;
    if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
        std::string why = err ? err : "?";
        sqlite3_free(err);
        throw DbError(path_ + ": " + why);
    }
}

std::string RecipientDb::normalize(const std::string& text, std::string* problem) const {
    return normalize_entry(text, opts_, problem);
}

std::vector<std::string> RecipientDb::add(const std::vector<std::string>& entries) {
    std::vector<std::string> present;
    exec("BEGIN IMMEDIATE");
    try {
        Stmt ins(db_, "INSERT OR IGNORE INTO recipients(address) VALUES (?1)");
        Stmt find(db_, "SELECT address FROM recipients WHERE address = ?1");
        for (const auto& e : entries) {
            // The daemon finds an internationalised domain's entry in either
            // form: one already stored in the other form is the same entry.
            std::string other;
            std::vector<std::string> forms = entry_forms(e);
            for (std::size_t i = 1; i < forms.size() && other.empty(); ++i) {
                find.bind(1, forms[i]);
                if (find.step()) other = find.text(0);
                find.reset();
            }
            if (!other.empty()) {
                present.push_back(e + " (as " + other + ")");
                continue;
            }
            ins.bind(1, e);
            ins.step();
            if (sqlite3_changes(db_) == 0) present.push_back(e);
            ins.reset();
        }
        exec("COMMIT");
    } catch (...) {
        sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
        throw;
    }
    return present;
}

std::vector<std::string> RecipientDb::remove(const std::vector<std::string>& entries) {
    std::vector<std::string> absent;
    exec("BEGIN IMMEDIATE");
    try {
        Stmt del(db_, "DELETE FROM recipients WHERE address = ?1");
        for (const auto& e : entries) {
            // Every form the daemon would find (see add()).
            int removed = 0;
            for (const auto& form : entry_forms(e)) {
                del.bind(1, form);
                del.step();
                removed += sqlite3_changes(db_);
                del.reset();
            }
            if (removed == 0) absent.push_back(e);
        }
        exec("COMMIT");
    } catch (...) {
        sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
        throw;
    }
    return absent;
}

std::vector<std::string> RecipientDb::list(const std::string& glob) const {
    std::vector<std::string> out;
    // A pattern whose domain is a plain domain name matches that domain in
    // both forms ('*@bücher.test' lists rows stored as xn--bcher-kva.test too).
    std::vector<std::string> patterns{glob};
    auto at = glob.rfind('@');
    if (at != std::string::npos && glob.find_first_of("*?[", at) == std::string::npos) {
        std::string d = canonical_domain(std::string_view(glob).substr(at + 1));
        if (!d.empty()) {
            std::string local = glob.substr(0, at + 1);
            patterns = {local + d};
            if (unicode_domain(d) != d) patterns.push_back(local + unicode_domain(d));
        }
    }
    Stmt q(db_, glob.empty() ? "SELECT address FROM recipients ORDER BY address"
                             : "SELECT address FROM recipients WHERE lower(address) GLOB lower(?1) "
                               "OR lower(address) GLOB lower(?2) ORDER BY address");
    if (!glob.empty()) {
        q.bind(1, patterns[0]);
        q.bind(2, patterns.back());
    }
    while (q.step()) out.push_back(q.text(0));
    return out;
}

std::vector<RecipientDb::DomainCount> RecipientDb::domains() const {
    // Rows of an internationalised domain may hold either form: counted
    // together, under the canonical (A-label) form.
    std::map<std::string, DomainCount> by_domain;
    Stmt q(db_,
           "SELECT lower(substr(address, instr(address, '@') + 1)) AS d, "
           "sum(CASE WHEN address LIKE '@%' THEN 0 ELSE 1 END), max(address LIKE '@%') "
           "FROM recipients GROUP BY d");
    while (q.step()) {
        std::string stored = q.text(0);
        std::string d = canonical_domain(stored);
        if (d.empty()) d = stored;  // not a domain (written by hand): shown as it is
        DomainCount& c = by_domain[d];
        c.domain = d;
        c.addresses += q.integer(1);
        c.catch_all = c.catch_all || q.integer(2) != 0;
    }
    std::vector<DomainCount> out;
    for (auto& [d, c] : by_domain) out.push_back(std::move(c));
    return out;
}

std::vector<ImportProblem> RecipientDb::import(const std::string& text, long* added, long* present,
                                               const std::function<std::string(const std::string&)>& check) {
    std::vector<ImportProblem> problems;
    std::vector<std::string> entries;
    for_each_line(text, [&](std::string_view line, int lineno) {
        ListLine l = parse_list_line(line, opts_);
        if (l.kind == ListLine::Kind::Entry && check)
            if (std::string p = check(l.entry); !p.empty()) {
                l.kind = ListLine::Kind::Bad;
                l.problem = std::move(p);
            }
        if (l.kind == ListLine::Kind::Bad)
            problems.push_back({lineno, printable(trim(line), 200), l.problem});
        else if (l.kind == ListLine::Kind::Entry)
            entries.push_back(std::move(l.entry));
        return true;
    });
    if (!problems.empty()) return problems;
    std::vector<std::string> already = add(entries);
    *present = static_cast<long>(already.size());
    *added = static_cast<long>(entries.size()) - *present;
    return problems;
}

}  // namespace rcptguard
