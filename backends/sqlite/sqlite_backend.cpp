// sqlite_backend: see sqlite_backend.hpp. Threading and locking rules from
// sqlite.org/threadsafe.html and /wal.html (see doc/platform.md §8).
#include "backends/sqlite/sqlite_backend.hpp"

#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "util/log.hpp"

namespace rcptguard {

namespace {

// A reader of a WAL database must be able to create db-shm next to it; when it
// cannot, SQLite only says "unable to open database file". Say why instead.
std::string explain_cantopen(const std::string& path) {
    std::string dir = path.substr(0, path.rfind('/') == std::string::npos ? 0 : path.rfind('/'));
    if (dir.empty()) dir = ".";
    unsigned char header[20] = {0};
    FILE* f = std::fopen(path.c_str(), "rb");
    if (!f) return "";
    std::size_t n = std::fread(header, 1, sizeof header, f);
    std::fclose(f);
    bool wal = n == sizeof header && header[18] == 2 && header[19] == 2;
    if (wal && access(dir.c_str(), W_OK) != 0 && access((path + "-shm").c_str(), W_OK) != 0)
        return " (the database is in WAL mode and uid " + std::to_string(geteuid()) + " may not create " + path +
               "-shm: give the user rcptguard runs as write access to " + dir + ")";
    return "";
}

}  // namespace

void sqlite_global_init() {
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    sqlite3_initialize();
}

SqliteBackend::SqliteBackend(std::string name, SqliteOptions opts)
    : Backend(std::move(name), "sqlite"),
      opts_(std::move(opts)),
      default_query_(opts_.query == kDefaultSqliteQuery),
      pool_(opts_.pool_size, opts_.idle_timeout) {
    stat_identity(opts_.path, &db_identity_);
}

SqliteBackend::~SqliteBackend() = default;

SqliteBackend::Conn::~Conn() {
    if (stmt) sqlite3_finalize(stmt);
    for (sqlite3_stmt* s : any_stmt)
        if (s) sqlite3_finalize(s);
    for (sqlite3_stmt* e : exists)
        if (e) sqlite3_finalize(e);
    if (domain_stmt) sqlite3_finalize(domain_stmt);
    if (begin_stmt) sqlite3_finalize(begin_stmt);
    if (end_stmt) sqlite3_finalize(end_stmt);
    if (db) sqlite3_close_v2(db);  // ends a read transaction still open
}

std::string SqliteBackend::check_query(const std::string& query) {
    sqlite3* db = nullptr;
    if (sqlite3_open_v2(":memory:", &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_MEMORY, nullptr) != SQLITE_OK) {
        sqlite3_close(db);
        return "cannot open an in-memory database to check the query";
    }
    // The query usually names tables that do not exist here; only the shape
    // that does not need the schema is checked: one statement, read-only.
    std::string problem;
    if (query.find(';') != std::string::npos && query.find(';') + 1 < query.size()) {
        std::string rest = query.substr(query.find(';') + 1);
        if (rest.find_first_not_of(" \t\r\n") != std::string::npos) problem = "must be a single statement";
    }
    std::string lower;
    for (char c : query) lower.push_back(static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c));
    auto b = lower.find_first_not_of(" \t\r\n(");
    if (problem.empty() &&
        (b == std::string::npos || (lower.compare(b, 6, "select") != 0 && lower.compare(b, 4, "with") != 0)))
        problem = "must be a SELECT statement";
    sqlite3_close(db);
    return problem;
}

std::unique_ptr<SqliteBackend::Conn> SqliteBackend::open_conn(std::string* error, bool* query_rejected) const {
    auto c = std::make_unique<Conn>();
    // READWRITE (never CREATE): a missing file is an error, not a new empty
    // database; SQLite falls back to read-only if we may not write the file.
    // query_only then forbids any change through this connection.
    int rc = sqlite3_open_v2(opts_.path.c_str(), &c->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr);
    if (rc != SQLITE_OK) {
        *error = std::string("cannot open ") + opts_.path + ": " + (c->db ? sqlite3_errmsg(c->db) : sqlite3_errstr(rc));
        if (access(opts_.path.c_str(), F_OK) != 0) *error += " (" + std::string(std::strerror(errno)) + ")";
        return nullptr;
    }
    sqlite3_busy_timeout(c->db, static_cast<int>(opts_.busy_timeout.count()));
    // Read through a memory map rather than a read() per page: the database
    // is only read here, and the kernel shares the pages between connections.
    sqlite3_exec(c->db, "PRAGMA query_only = 1; PRAGMA mmap_size = 268435456", nullptr, nullptr, nullptr);
    // The database is there; a statement it refuses (no such table or
    // column, a syntax error) is a problem with the query, not an outage.
    auto prepare = [&](const std::string& sql, const char* what, sqlite3_stmt** st) {
        int prc = sqlite3_prepare_v3(c->db, sql.c_str(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT, st,
                                     nullptr);
        if (prc == SQLITE_OK && *st) return true;
        *error = opts_.path + ": cannot prepare " + what + ": " + sqlite3_errmsg(c->db);
        if ((prc & 0xFF) == SQLITE_CANTOPEN || (prc & 0xFF) == SQLITE_READONLY) *error += explain_cantopen(opts_.path);
        if (query_rejected) *query_rejected = (prc & 0xFF) == SQLITE_ERROR;
        return false;
    };
    if (!opts_.domain_query.empty() &&
        !prepare(opts_.domain_query.exists_statement(1), "domain_query", &c->domain_stmt))
        return nullptr;
    if (!opts_.query_template.empty()) {
        for (std::size_t n = 1; n <= kMaxKeysAtOnce; ++n)
            if (!prepare(opts_.query_template.exists_statement(static_cast<int>(n)), "query", &c->exists[n]))
                return nullptr;
        prepare_read_hold(c.get());
        return c;
    }
    if (!prepare(opts_.query, "query", &c->stmt)) return nullptr;
    if (sqlite3_bind_parameter_count(c->stmt) != 1) {
        *error = opts_.path + ": the query must have exactly one parameter (the address)";
        return nullptr;
    }
    if (default_query_) {
        // UNION ALL of single-key probes rather than "IN (?1, ?2, ?3)": SQLite
        // builds a temporary index for an IN list on every execution, which
        // measured twice as slow here; the probes run in order and LIMIT 1 stops
        // at the most specific key found.
        for (std::size_t n = 2; n <= kMaxKeysAtOnce; ++n) {
            std::string sql = "SELECT address FROM recipients WHERE address = ?1";
            for (std::size_t i = 2; i <= n; ++i)
                sql += " UNION ALL SELECT address FROM recipients WHERE address = ?" + std::to_string(i);
            sql += " LIMIT 1";
            if (sqlite3_prepare_v3(c->db, sql.c_str(), -1, SQLITE_PREPARE_PERSISTENT, &c->any_stmt[n], nullptr) !=
                SQLITE_OK) {
                *error = opts_.path + ": cannot prepare query: " + sqlite3_errmsg(c->db);
                return nullptr;
            }
        }
    }
    prepare_read_hold(c.get());
    return c;
}

// Only a WAL database lets a read transaction last a little (see the
// header). Asked once the queries are prepared: the schema is read by then,
// so this waits for no lock.
void SqliteBackend::prepare_read_hold(Conn* c) const {
    if (opts_.read_hold.count() <= 0) return;
    sqlite3_stmt* mode = nullptr;
    if (sqlite3_prepare_v2(c->db, "PRAGMA journal_mode", -1, &mode, nullptr) == SQLITE_OK &&
        sqlite3_step(mode) == SQLITE_ROW) {
        const auto* m = reinterpret_cast<const char*>(sqlite3_column_text(mode, 0));
        c->hold_reads = m && sqlite3_stricmp(m, "wal") == 0;
    }
    sqlite3_finalize(mode);
    if (c->hold_reads &&
        (sqlite3_prepare_v3(c->db, "BEGIN", -1, SQLITE_PREPARE_PERSISTENT, &c->begin_stmt, nullptr) != SQLITE_OK ||
         sqlite3_prepare_v3(c->db, "COMMIT", -1, SQLITE_PREPARE_PERSISTENT, &c->end_stmt, nullptr) != SQLITE_OK))
        c->hold_reads = false;
}

SqliteBackend::Pool::Lease SqliteBackend::checkout(std::string* error) const {
    auto deadline = std::chrono::steady_clock::now() + opts_.busy_timeout;
    for (int attempt = 0; attempt < 2; ++attempt) {
        Pool::Lease c = pool_.checkout(
            deadline, [this](std::string* e) { return open_conn(e); }, error);
        if (!c || begin_read(c.get())) return c;
        c.discard();  // stuck in a transaction it could not end: never read an old snapshot
    }
    *error = opts_.path + ": cannot end a read transaction";
    return Pool::Lease();
}

// A read transaction older than read_hold, or begun before the data changed,
// ends; a new one begins (BEGIN takes no lock: the snapshot is taken by the
// lookup's first step, after read_since).
bool SqliteBackend::begin_read(Conn* c) const {
    if (!c->hold_reads) return true;
    auto now = std::chrono::steady_clock::now();
    if (c->in_read && (now - c->read_since >= opts_.read_hold || c->read_generation != generation_.load())) end_read(c);
    if (c->in_read) return true;
    if (!sqlite3_get_autocommit(c->db)) return false;  // a transaction end_read() could not end
    int rc = sqlite3_step(c->begin_stmt);
    sqlite3_reset(c->begin_stmt);
    if (rc != SQLITE_DONE) return true;  // this lookup runs in its own transaction, as SQLite does by default
    c->in_read = true;
    c->read_since = now;
    c->read_generation = generation_.load();
    return true;
}

void SqliteBackend::end_read(Conn* c) {
    if (!c->in_read) return;
    c->in_read = false;
    int rc = sqlite3_step(c->end_stmt);
    sqlite3_reset(c->end_stmt);
    if (rc != SQLITE_DONE || !sqlite3_get_autocommit(c->db)) sqlite3_exec(c->db, "ROLLBACK", nullptr, nullptr, nullptr);
}

std::string SqliteBackend::failure_text(Conn* c, int rc) const {
    return opts_.path + ": " + sqlite3_errmsg(c->db) +
           ((rc & 0xFF) == SQLITE_CANTOPEN || (rc & 0xFF) == SQLITE_READONLY ? explain_cantopen(opts_.path) : "");
}

// Steps a bound statement to its end; a row means Found. The caller resets
// it: an un-reset statement keeps a read transaction open.
LookupResult SqliteBackend::run(Conn* c, sqlite3_stmt* st, bool* discard) const {
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) return LookupResult::found();
    if (rc == SQLITE_DONE) return LookupResult::not_found();
    // Busy/locked is transient; anything else (corrupt, I/O error, schema
    // gone) gets a fresh connection next time.
    int primary = rc & 0xFF;
    *discard = primary != SQLITE_BUSY && primary != SQLITE_LOCKED;
    LookupResult failed = LookupResult::tempfail(failure_text(c, rc));
    sqlite3_reset(st);
    end_read(c);
    return failed;
}

LookupResult SqliteBackend::run_exists(Conn* c, sqlite3_stmt* st, const SqlTemplate& t,
                                       const std::vector<SqlKeyParts>& keys, std::size_t* matched,
                                       bool* discard) const {
    // ?N markers: the k parameters of key i are numbered i*k+1 .. i*k+k.
    int rc = SQLITE_OK;
    int index = 0;
    for (const SqlKeyParts& k : keys)
        for (SqlParam p : t.params()) {
            std::string_view v = sql_param_value(p, k);
            if (rc == SQLITE_OK)
                rc = sqlite3_bind_text(st, ++index, v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
        }
    LookupResult result;
    if (rc != SQLITE_OK) {
        result = LookupResult::tempfail(failure_text(c, rc));
    } else {
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            result = LookupResult::not_found();
            for (std::size_t i = 0; i < keys.size(); ++i)
                if (sqlite3_column_int(st, static_cast<int>(i)) != 0) {
                    if (matched) *matched = i;
                    result = LookupResult::found();
                    break;
                }
        } else {
            int primary = rc & 0xFF;
            *discard = rc != SQLITE_DONE && primary != SQLITE_BUSY && primary != SQLITE_LOCKED;
            result = LookupResult::tempfail(rc == SQLITE_DONE ? opts_.path + ": no answer to the lookup"
                                                              : failure_text(c, rc));
        }
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (result.status == LookupStatus::TempFail) end_read(c);
    return result;
}

LookupResult SqliteBackend::lookup_domain(std::string_view domain) const noexcept {
    if (opts_.domain_query.empty()) return Backend::lookup_domain(domain);
    try {
        if (unavailable_.load()) return LookupResult::tempfail("database " + opts_.path + " is missing or unreadable");
        std::string error;
        Pool::Lease c = checkout(&error);
        if (!c) return LookupResult::tempfail("domain_query: " + error);
        bool discard = false;
        LookupResult r = run_exists(c.get(), c->domain_stmt, opts_.domain_query, {SqlKeyParts{domain, {}, domain}},
                                    nullptr, &discard);
        if (discard) c.discard();
        if (r.status == LookupStatus::TempFail) r.reason = "domain_query: " + r.reason;
        return r;
    } catch (...) {
        return LookupResult::tempfail("out of memory");
    }
}

LookupResult SqliteBackend::lookup(std::string_view key) const noexcept {
    try {
        if (!opts_.query_template.empty()) return lookup_any({std::string(key)}, nullptr);
        if (unavailable_.load()) return LookupResult::tempfail("database " + opts_.path + " is missing or unreadable");
        std::string error;
        Pool::Lease c = checkout(&error);
        if (!c) return LookupResult::tempfail(error);
        bool discard = false;
        LookupResult result;
        int rc = sqlite3_bind_text(c->stmt, 1, key.data(), static_cast<int>(key.size()), SQLITE_STATIC);
        if (rc == SQLITE_OK) {
            result = run(c.get(), c->stmt, &discard);
        } else {
            result = LookupResult::tempfail(failure_text(c.get(), rc));
            end_read(c.get());
        }
        sqlite3_reset(c->stmt);
        sqlite3_clear_bindings(c->stmt);
        if (discard) c.discard();
        return result;
    } catch (...) {
        return LookupResult::tempfail("out of memory");
    }
}

LookupResult SqliteBackend::lookup_any(const std::vector<std::string>& keys, std::size_t* matched) const noexcept {
    if (!opts_.query_template.empty() && !keys.empty() && keys.size() <= kMaxKeysAtOnce) {
        try {
            if (unavailable_.load())
                return LookupResult::tempfail("database " + opts_.path + " is missing or unreadable");
            std::string error;
            Pool::Lease c = checkout(&error);
            if (!c) return LookupResult::tempfail(error);
            std::vector<SqlKeyParts> parts;
            for (const auto& k : keys) parts.push_back(split_sql_key(k));
            bool discard = false;
            LookupResult r =
                run_exists(c.get(), c->exists[keys.size()], opts_.query_template, parts, matched, &discard);
            if (discard) c.discard();
            return r;
        } catch (...) {
            return LookupResult::tempfail("out of memory");
        }
    }
    if (!default_query_ || keys.size() < 2 || keys.size() > kMaxKeysAtOnce) return Backend::lookup_any(keys, matched);
    try {
        if (unavailable_.load()) return LookupResult::tempfail("database " + opts_.path + " is missing or unreadable");
        std::string error;
        Pool::Lease c = checkout(&error);
        if (!c) return LookupResult::tempfail(error);
        sqlite3_stmt* st = c->any_stmt[keys.size()];
        int rc = SQLITE_OK;
        for (std::size_t i = 0; i < keys.size() && rc == SQLITE_OK; ++i)
            rc = sqlite3_bind_text(st, static_cast<int>(i) + 1, keys[i].data(), static_cast<int>(keys[i].size()),
                                   SQLITE_STATIC);
        LookupResult result = LookupResult::not_found();
        bool discard = false;
        std::size_t best = keys.size();
        while (rc == SQLITE_OK || rc == SQLITE_ROW) {
            rc = sqlite3_step(st);
            if (rc != SQLITE_ROW) break;
            const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
            std::string_view row(text ? text : "", static_cast<std::size_t>(sqlite3_column_bytes(st, 0)));
            for (std::size_t i = 0; i < keys.size(); ++i)
                if (i < best && row.size() == keys[i].size() &&
                    sqlite3_strnicmp(row.data(), keys[i].data(), static_cast<int>(row.size())) == 0)
                    best = i;
            result = LookupResult::found();
        }
        if (rc != SQLITE_DONE && rc != SQLITE_OK) {
            result = LookupResult::tempfail(failure_text(c.get(), rc));
            int primary = rc & 0xFF;
            discard = primary != SQLITE_BUSY && primary != SQLITE_LOCKED;
        } else if (result.status == LookupStatus::Found && matched) {
            *matched = best < keys.size() ? best : 0;
        }
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
        if (result.status == LookupStatus::TempFail) end_read(c.get());
        if (discard) c.discard();
        return result;
    } catch (...) {
        return LookupResult::tempfail("out of memory");
    }
}

std::string SqliteBackend::probe(std::string* query_problem) const {
    std::string error;
    bool rejected = false;
    std::unique_ptr<Conn> c = open_conn(&error, &rejected);
    if (!c) {
        if (!rejected || !query_problem) return error;
        *query_problem = error;
        return "";
    }
    if (!opts_.query_template.empty()) {
        bool discard = false;
        LookupResult r = run_exists(c.get(), c->exists[1], opts_.query_template, {split_sql_key("probe@invalid")},
                                    nullptr, &discard);
        if (r.status == LookupStatus::TempFail) return r.reason;
        return "";
    }
    int rc = sqlite3_bind_text(c->stmt, 1, "probe@invalid", -1, SQLITE_STATIC);
    if (rc == SQLITE_OK) rc = sqlite3_step(c->stmt);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) error = opts_.path + ": " + sqlite3_errmsg(c->db);
    sqlite3_reset(c->stmt);
    return error;
}

void SqliteBackend::maintain() noexcept {
    try {
        pool_.close_idle(Pool::Clock::now());
        // An idle connection's read transaction would keep checkpoints from
        // passing it: ended (a few at most, each quick).
        pool_.for_each_idle([](Conn& c) { end_read(&c); });
        FileIdentity id;
        std::string state;
        if (!stat_identity(opts_.path, &id)) {
            state = std::string("missing (") + std::strerror(errno) + ")";
        } else if (access(opts_.path.c_str(), R_OK) != 0) {
            state = std::string("unreadable (") + std::strerror(errno) + ")";
        }
        if (!state.empty()) {
            if (!unavailable_.exchange(true)) pool_.invalidate();
            if (state != last_state_)
                log_error("backend " + name() + ": database " + opts_.path + " is " + state +
                          ": lookups answer temporary failure until it is back");
            // Not a change of data: cached answers stay usable (serve-stale).
            last_state_ = state;
            return;
        }
        if (!id.same_file(db_identity_)) {
            // Replaced on disk (e.g. renamed over): connections still read the old inode.
            pool_.invalidate();
            log_notice("backend " + name() + ": database " + opts_.path + " was replaced: reopening");
        }
        db_identity_ = id;
        if (unavailable_.exchange(false)) {
            pool_.invalidate();
            log_notice("backend " + name() + ": database " + opts_.path + " is available again");
        }
        last_state_.clear();
        // An empty WAL holds no data: SQLite creates one when the first
        // connection opens the database and removes it when the last one
        // closes, so it counts as no WAL (else the pool opening or closing
        // its connections would empty the cache).
        FileIdentity wal;
        if (!stat_identity(opts_.path + "-wal", &wal) || wal.size == 0) wal = FileIdentity{};
        if (id != data_fingerprint_ || wal != wal_fingerprint_) {
            data_fingerprint_ = id;
            wal_fingerprint_ = wal;
            generation_.fetch_add(1);
        }
    } catch (...) {
        log_error("backend " + name() + ": maintenance failed: out of memory");
    }
}

}  // namespace rcptguard
