// sqlite_backend: recipients in an SQLite database ("type = sqlite").
//
// Default schema (etc/schema.sql): table "recipients", column "address" holding
// "user@domain" or a catch-all "@domain"; aliases are more rows. A site with its
// own schema sets "query": either with %s %u %d placeholders, as for the
// other SQL backends (util/sql_template.hpp; all keys of a recipient then go
// in one statement, "SELECT EXISTS (...), EXISTS (...)"), or - as before -
// with exactly one SQLite parameter (?1, :address) bound to the key.
// "domain_query" (placeholders only) answers lookup_domain().
// Lookups use a pool of connections, each used by one thread at a time
// (SQLITE_OPEN_NOMUTEX), with the statements prepared once per connection and
// reset after every use. The key is always a bound parameter, never SQL text.
//
// Read transactions: on a WAL database (etc/schema.sql makes one) a
// connection's lookups share one read transaction for at most read_hold
// (10 ms) instead of one each: beginning and ending one takes the unix VFS's
// process-wide mutexes and, often, fcntl() and fstat() calls, which under a
// milter load cost more than the lookup itself (BENCHMARKS.md). A lookup
// therefore sees a commit at most read_hold late, and at once after
// maintain() noticed the change (the generation moved: the transaction is
// renewed, and the cache ignores what it stored before). WAL readers never
// block a writer; a held transaction only keeps checkpoints from copying
// past it, for read_hold while in use and until the next maintain() when
// idle (the -wal file grows meanwhile). In other journal modes a reader's
// SHARED lock keeps writers out, so there each lookup has its own.
//
// lookup(): a row -> Found; no row -> NotFound; anything else (file missing,
// unreadable, not a database, no such table, busy past busy_timeout, pool
// exhausted) -> TempFail. A database that is missing at start is not fatal:
// lookups answer TempFail until it appears.
// maintain() notices a file replaced on disk (new inode: the pool reopens), a
// file that disappeared or became unreadable (TempFail from then on), and data
// changes (generation() moves, for the cache).
// Thread-safety: lookup() from any thread; maintain() from one thread.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "backends/backend.hpp"
#include "util/address.hpp"
#include "util/connection_pool.hpp"
#include "util/file_identity.hpp"
#include "util/sql_template.hpp"

struct sqlite3;
struct sqlite3_stmt;

namespace rcptguard {

constexpr const char* kDefaultSqliteQuery = "SELECT 1 FROM recipients WHERE address = ?1 LIMIT 1";

struct SqliteOptions {
    std::string path;
    std::string query = kDefaultSqliteQuery;
    SqlTemplate query_template;  // parsed from query when it uses %s %u %d; else empty()
    SqlTemplate domain_query;    // empty(): none
    int pool_size = 16;
    // How long a connection's lookups share one read transaction, WAL only
    // (see below); not a configuration key: tests set it, 0 turns it off.
    std::chrono::milliseconds read_hold{10};
    std::chrono::milliseconds busy_timeout{2000};
    std::chrono::milliseconds idle_timeout{300'000};  // idle connections closed after this
};

// Process-wide SQLite settings, once in main before any thread: no memory
// statistics (they take a global mutex on every allocation, which serialises
// lookups on all threads).
void sqlite_global_init();

class SqliteBackend final : public Backend {
public:
    SqliteBackend(std::string name, SqliteOptions opts);
    ~SqliteBackend() override;

    static constexpr std::size_t kMaxKeysAtOnce = kMaxLookupKeys;

    LookupResult lookup(std::string_view key) const noexcept override;
    // All keys in one statement (default schema: one index probe per key,
    // most specific first, stopping at the first row; a site's own query: one
    // EXISTS per key), up to
    // kMaxKeysAtOnce keys (an internationalised domain's six); more are asked
    // key by key.
    LookupResult lookup_any(const std::vector<std::string>& keys, std::size_t* matched) const noexcept override;
    bool answers_domains() const noexcept override { return !opts_.domain_query.empty(); }
    LookupResult lookup_domain(std::string_view domain) const noexcept override;
    bool answers_locally() const noexcept override { return true; }
    void maintain() noexcept override;
    unsigned long generation() const noexcept override { return generation_.load(); }

    // Opens a connection and prepares the queries: "" if that works, else
    // why. Used at start to warn early and by "rcptguard -n"; *query_problem
    // (if given) is set when the database is there but a query is not
    // accepted (a table or column that does not exist, a syntax error).
    std::string probe(std::string* query_problem = nullptr) const;
    // Checks the query text without a database: "" or the problem.
    static std::string check_query(const std::string& query);

private:
    // One open database with its statements; closes them when destroyed.
    struct Conn {
        sqlite3* db = nullptr;
        sqlite3_stmt* stmt = nullptr;
        // Default schema only: any_stmt[n] asks n keys at once (2 <= n <= kMaxKeysAtOnce).
        sqlite3_stmt* any_stmt[kMaxKeysAtOnce + 1] = {};
        // query with placeholders: exists[n] asks n keys at once (1 <= n <= kMaxKeysAtOnce).
        sqlite3_stmt* exists[kMaxKeysAtOnce + 1] = {};
        sqlite3_stmt* domain_stmt = nullptr;
        // The read transaction shared by lookups (WAL databases only).
        bool hold_reads = false;  // the database is in WAL mode
        sqlite3_stmt* begin_stmt = nullptr;
        sqlite3_stmt* end_stmt = nullptr;
        bool in_read = false;
        std::chrono::steady_clock::time_point read_since;
        unsigned long read_generation = 0;
        Conn() = default;
        Conn(const Conn&) = delete;
        Conn& operator=(const Conn&) = delete;
        ~Conn();
    };
    using Pool = ConnectionPool<Conn>;

    std::unique_ptr<Conn> open_conn(std::string* error, bool* query_rejected = nullptr) const;
    // Runs a placeholder statement for n keys; the first key with a row.
    LookupResult run_exists(Conn* c, sqlite3_stmt* st, const SqlTemplate& t, const std::vector<SqlKeyParts>& keys,
                            std::size_t* matched, bool* discard) const;
    void prepare_read_hold(Conn* c) const;
    // A connection from the pool, its read transaction begun or renewed.
    Pool::Lease checkout(std::string* error) const;
    // False if the connection is inside a transaction it cannot end.
    bool begin_read(Conn* c) const;
    static void end_read(Conn* c);
    LookupResult run(Conn* c, sqlite3_stmt* st, bool* discard) const;
    std::string failure_text(Conn* c, int rc) const;

    SqliteOptions opts_;
    bool default_query_;
    mutable Pool pool_;
    std::atomic<bool> unavailable_{false};
    std::atomic<unsigned long> generation_{1};
    // Touched only by the maintaining thread.
    FileIdentity db_identity_;
    FileIdentity data_fingerprint_;
    FileIdentity wal_fingerprint_;
    std::string last_state_;
};

}  // namespace rcptguard
