// SQLite-specific behaviour beyond the contract: live changes by another
// writer, a database replaced or removed on disk, a missing table, a custom
// query, a writer holding the lock, and the pool under load.
#include "backends/sqlite/sqlite_backend.hpp"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <thread>

#include "tests/test_support.hpp"

namespace rcptguard {
namespace {

using testing::TempDir;

void exec(const std::string& db, const std::string& sql) {
    sqlite3* h = nullptr;
    ASSERT_EQ(sqlite3_open(db.c_str(), &h), SQLITE_OK);
    char* err = nullptr;
    int rc = sqlite3_exec(h, sql.c_str(), nullptr, nullptr, &err);
    std::string e = err ? err : "";
    sqlite3_free(err);
    sqlite3_close(h);
    ASSERT_EQ(rc, SQLITE_OK) << e;
}

SqliteOptions opts(const std::string& path) {
    SqliteOptions o;
    o.path = path;
    o.busy_timeout = std::chrono::milliseconds(200);
    return o;
}

// A WAL database (etc/schema.sql): lookups share a read transaction for at
// most read_hold, renewed once maintain() noticed a change; writers are never
// blocked by it. With a read_hold of an hour, only the change renews it.
void expect_commit_hidden_until_maintain(SqliteBackend& b, const std::string& db, const std::string& insert,
                                         const std::string& key) {
    b.maintain();
    EXPECT_EQ(b.lookup(key).status, LookupStatus::NotFound);  // begins the read transaction
    exec(db, insert);                                         // busy_timeout 0: not blocked
    EXPECT_EQ(b.lookup(key).status, LookupStatus::NotFound);  // the snapshot held
    b.maintain();
    EXPECT_EQ(b.lookup(key).status, LookupStatus::Found);
}

TEST(SqliteBackend, CommitByAnotherWriter_SeenOnceMaintainNoticedIt) {
    TempDir d;
    testing::make_sqlite_db(d.file("r.db"), {"a@example.test"});
    SqliteOptions o = opts(d.file("r.db"));
    o.read_hold = std::chrono::hours(1);
    SqliteBackend b("s", o);
    expect_commit_hidden_until_maintain(b, d.file("r.db"), "INSERT INTO recipients VALUES ('b@example.test')",
                                        "b@example.test");
}

TEST(SqliteBackend, CommitByAnotherWriter_SeenAfterTheReadHold) {
    TempDir d;
    testing::make_sqlite_db(d.file("r.db"), {"a@example.test"});
    SqliteBackend b("s", opts(d.file("r.db")));
    EXPECT_EQ(b.lookup("a@example.test").status, LookupStatus::Found);
    exec(d.file("r.db"), "DELETE FROM recipients WHERE address = 'a@example.test'");
    std::this_thread::sleep_for(SqliteOptions{}.read_hold + std::chrono::milliseconds(5));
    EXPECT_EQ(b.lookup("a@example.test").status, LookupStatus::NotFound);
}

// A WAL database of the site's own shape (rows: "('a@example.test', 1), ..."),
// asked with a custom query, the snapshot held for an hour.
SqliteOptions own_wal_mailbox(const TempDir& d, const std::string& rows, const std::string& query) {
    exec(d.file("own.db"),
         "PRAGMA journal_mode = WAL; CREATE TABLE mailbox (username TEXT, active INT);"
         "INSERT INTO mailbox VALUES " +
             rows);
    SqliteOptions o = opts(d.file("own.db"));
    o.query = query;
    EXPECT_EQ(o.query_template.parse(o.query, SqlDialect::Sqlite), "");
    o.read_hold = std::chrono::hours(1);
    return o;
}

TEST(SqliteBackend, CustomQueryOnWalDatabase_HeldSnapshot_RenewedAfterMaintain) {
    TempDir d;
    SqliteBackend b(
        "s", own_wal_mailbox(d, "('a@example.test', 1)", "SELECT 1 FROM mailbox WHERE username = %s AND active"));
    EXPECT_EQ(b.lookup("a@example.test").status, LookupStatus::Found);
    expect_commit_hidden_until_maintain(b, d.file("own.db"), "INSERT INTO mailbox VALUES ('b@example.test', 1)",
                                        "b@example.test");
}

TEST(SqliteBackend, ErrorWhileAReadTransactionIsHeld_TempFail_TransactionEnded_NextLookupSeesNewData) {
    // A lookup that fails inside a held read transaction (here the query
    // itself: abs() of the smallest integer overflows) answers TempFail and
    // takes the snapshot with it (the transaction ends, and for an error
    // other than busy/locked the connection is replaced): the next lookup
    // sees what was committed meanwhile.
    TempDir d;
    SqliteOptions o =
        own_wal_mailbox(d, "('a@example.test', 1), ('boom@example.test', 1)",
                        "SELECT 1 FROM mailbox WHERE username = %s AND "
                        "CASE WHEN substr(username, 1, 4) = 'boom' THEN abs(-9223372036854775807 - 1) ELSE active END");
    o.pool_size = 1;  // one connection: the failing lookup and the next share it
    SqliteBackend b("s", o);
    b.maintain();
    EXPECT_EQ(b.lookup("a@example.test").status, LookupStatus::Found);  // begins the read transaction
    exec(d.file("own.db"), "INSERT INTO mailbox VALUES ('b@example.test', 1)");
    EXPECT_EQ(b.lookup("b@example.test").status, LookupStatus::NotFound);  // the snapshot held
    LookupResult failed = b.lookup("boom@example.test");
    EXPECT_EQ(failed.status, LookupStatus::TempFail);
    EXPECT_NE(failed.reason.find("integer overflow"), std::string::npos) << failed.reason;
    EXPECT_EQ(b.lookup("b@example.test").status, LookupStatus::Found);  // a new transaction, after the insert
    EXPECT_EQ(b.lookup("a@example.test").status, LookupStatus::Found);
}

TEST(SqliteBackend, ReadTransactionOfAnIdleConnection_EndedByMaintain_CheckpointCompletes) {
    TempDir d;
    testing::make_sqlite_db(d.file("r.db"), {"a@example.test"});
    SqliteBackend b("s", opts(d.file("r.db")));
    EXPECT_EQ(b.lookup("a@example.test").status, LookupStatus::Found);
    exec(d.file("r.db"), "INSERT INTO recipients VALUES ('b@example.test')");
    sqlite3* w = nullptr;
    ASSERT_EQ(sqlite3_open(d.file("r.db").c_str(), &w), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(w, "SELECT count(*) FROM recipients", nullptr, nullptr, nullptr),
              SQLITE_OK);  // opens the WAL
    int log = -1, done = -1;
    // The idle connection's snapshot predates the insert: the checkpoint
    // cannot copy it into the database yet.
    EXPECT_EQ(sqlite3_wal_checkpoint_v2(w, nullptr, SQLITE_CHECKPOINT_TRUNCATE, &log, &done), SQLITE_BUSY);
    b.maintain();
    EXPECT_EQ(sqlite3_wal_checkpoint_v2(w, nullptr, SQLITE_CHECKPOINT_TRUNCATE, &log, &done), SQLITE_OK)
        << sqlite3_errmsg(w);
    sqlite3_close(w);
    struct stat st {};
    ASSERT_EQ(stat(d.file("r.db-wal").c_str(), &st), 0);
    EXPECT_EQ(st.st_size, 0);  // all of it copied into the database, then truncated
    EXPECT_EQ(b.lookup("b@example.test").status, LookupStatus::Found);
}

// Any other journal mode: a reader's SHARED lock would keep a writer out, so
// no transaction outlives its lookup.
TEST(SqliteBackend, RollbackJournalDatabase_NoReadTransactionLeftOpen_WriterNotBlocked) {
    TempDir d;
    testing::make_sqlite_db(d.file("r.db"), {"a@example.test"});
    exec(d.file("r.db"), "PRAGMA journal_mode = DELETE");
    SqliteBackend b("s", opts(d.file("r.db")));
    EXPECT_EQ(b.lookup("b@example.test").status, LookupStatus::NotFound);
    exec(d.file("r.db"), "INSERT INTO recipients VALUES ('b@example.test')");  // busy_timeout 0
    EXPECT_EQ(b.lookup("b@example.test").status, LookupStatus::Found);
}

TEST(SqliteBackend, ConnectionsOpeningAndClosing_NotADataChange_AWriteIs) {
    TempDir d;
    testing::make_sqlite_db(d.file("r.db"), {"a@example.test"});
    std::remove(d.file("r.db-wal").c_str());
    SqliteOptions o = opts(d.file("r.db"));
    o.idle_timeout = std::chrono::milliseconds(1);
    SqliteBackend b("s", o);
    b.maintain();
    unsigned long g = b.generation();
    // The first connection creates an empty r.db-wal ...
    EXPECT_EQ(b.lookup("a@example.test").status, LookupStatus::Found);
    ASSERT_EQ(access(d.file("r.db-wal").c_str(), F_OK), 0);
    b.maintain();
    EXPECT_EQ(b.generation(), g);
    // ... and closing the last one (idle_timeout) removes it again.
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    b.maintain();
    ASSERT_NE(access(d.file("r.db-wal").c_str(), F_OK), 0);
    b.maintain();
    EXPECT_EQ(b.generation(), g);
    // A write is a change.
    EXPECT_EQ(b.lookup("a@example.test").status, LookupStatus::Found);
    exec(d.file("r.db"), "INSERT INTO recipients VALUES ('b@example.test')");
    b.maintain();
    EXPECT_GT(b.generation(), g);
}

TEST(SqliteBackend, NoSuchTable_TempFail) {
    TempDir d;
    exec(d.file("empty.db"), "CREATE TABLE other (x TEXT)");
    SqliteBackend b("s", opts(d.file("empty.db")));
    LookupResult r = b.lookup("a@example.test");
    EXPECT_EQ(r.status, LookupStatus::TempFail);
    EXPECT_NE(r.reason.find("no such table"), std::string::npos) << r.reason;
    EXPECT_NE(b.probe(), "");
}

TEST(SqliteBackend, ZeroByteFile_TempFail) {
    TempDir d;
    testing::write_file(d.file("zero.db"), "");
    SqliteBackend b("s", opts(d.file("zero.db")));
    EXPECT_EQ(b.lookup("a@example.test").status, LookupStatus::TempFail);
}

TEST(SqliteBackend, DatabaseRemovedAtRuntime_TempFailAfterMaintain_BackWhenRestored) {
    TempDir d;
    testing::make_sqlite_db(d.file("r.db"), {"a@example.test"});
    SqliteBackend b("s", opts(d.file("r.db")));
    b.maintain();
    EXPECT_EQ(b.lookup("a@example.test").status, LookupStatus::Found);
    ASSERT_EQ(std::rename(d.file("r.db").c_str(), d.file("moved.db").c_str()), 0);
    b.maintain();
    EXPECT_EQ(b.lookup("a@example.test").status, LookupStatus::TempFail);
    EXPECT_EQ(b.lookup("zzz@example.test").status, LookupStatus::TempFail);
    ASSERT_EQ(std::rename(d.file("moved.db").c_str(), d.file("r.db").c_str()), 0);
    b.maintain();
    EXPECT_EQ(b.lookup("a@example.test").status, LookupStatus::Found);
}

TEST(SqliteBackend, DatabaseReplacedOnDisk_NewContentsUsed) {
    TempDir d;
    testing::make_sqlite_db(d.file("r.db"), {"old@example.test"});
    SqliteBackend b("s", opts(d.file("r.db")));
    EXPECT_EQ(b.lookup("old@example.test").status, LookupStatus::Found);
    testing::make_sqlite_db(d.file("new.db"), {"new@example.test"});
    unsigned long g = b.generation();
    ASSERT_EQ(std::rename(d.file("new.db").c_str(), d.file("r.db").c_str()), 0);
    b.maintain();
    EXPECT_GT(b.generation(), g);
    EXPECT_EQ(b.lookup("new@example.test").status, LookupStatus::Found);
    EXPECT_EQ(b.lookup("old@example.test").status, LookupStatus::NotFound);
}

TEST(SqliteBackend, WriterHoldsExclusiveLock_TempFailNotNotFound) {
    TempDir d;
    testing::make_sqlite_db(d.file("r.db"), {"a@example.test"});
    exec(d.file("r.db"), "PRAGMA journal_mode = DELETE");
    SqliteBackend b("s", opts(d.file("r.db")));
    sqlite3* w = nullptr;
    ASSERT_EQ(sqlite3_open(d.file("r.db").c_str(), &w), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(w, "BEGIN EXCLUSIVE", nullptr, nullptr, nullptr), SQLITE_OK);
    LookupResult r = b.lookup("a@example.test");
    EXPECT_EQ(r.status, LookupStatus::TempFail);
    EXPECT_NE(r.reason.find("locked"), std::string::npos) << r.reason;
    sqlite3_exec(w, "COMMIT", nullptr, nullptr, nullptr);
    sqlite3_close(w);
    EXPECT_EQ(b.lookup("a@example.test").status, LookupStatus::Found);
}

TEST(SqliteBackend, WalWriterInTransaction_ReadersStillAnswer) {
    TempDir d;
    testing::make_sqlite_db(d.file("r.db"), {"a@example.test"});  // schema sets WAL
    SqliteBackend b("s", opts(d.file("r.db")));
    sqlite3* w = nullptr;
    ASSERT_EQ(sqlite3_open(d.file("r.db").c_str(), &w), SQLITE_OK);
    ASSERT_EQ(
        sqlite3_exec(w, "BEGIN IMMEDIATE; INSERT INTO recipients VALUES ('b@example.test')", nullptr, nullptr, nullptr),
        SQLITE_OK);
    EXPECT_EQ(b.lookup("a@example.test").status, LookupStatus::Found);
    EXPECT_EQ(b.lookup("b@example.test").status, LookupStatus::NotFound);  // not committed yet
    sqlite3_exec(w, "COMMIT", nullptr, nullptr, nullptr);
    sqlite3_close(w);
    b.maintain();  // notices the commit (else it is seen after read_hold)
    EXPECT_EQ(b.lookup("b@example.test").status, LookupStatus::Found);
}

TEST(SqliteBackend, CustomQuery_OwnSchema) {
    TempDir d;
    exec(d.file("own.db"),
         "CREATE TABLE mailbox (username TEXT, active INT);"
         "INSERT INTO mailbox VALUES ('a@example.test', 1), ('b@example.test', 0)");
    SqliteOptions o = opts(d.file("own.db"));
    o.query = "SELECT 1 FROM mailbox WHERE username = :address AND active = 1";
    SqliteBackend b("s", o);
    EXPECT_EQ(b.lookup("a@example.test").status, LookupStatus::Found);
    EXPECT_EQ(b.lookup("b@example.test").status, LookupStatus::NotFound);
}

TEST(SqliteBackend, PlaceholderQuery_PostfixAdminShape_OneStatementForAllKeys) {
    TempDir d;
    exec(d.file("pfa.db"),
         "CREATE TABLE mailbox (username TEXT, local_part TEXT, domain TEXT, active INT);"
         "CREATE TABLE alias (address TEXT, active INT);"
         "INSERT INTO mailbox VALUES ('a@example.test', 'a', 'example.test', 1), ('b@example.test', 'b', "
         "'example.test', 0);"
         "INSERT INTO alias VALUES ('@catchall.test', 1), ('list@example.test', 1)");
    SqliteOptions o = opts(d.file("pfa.db"));
    o.query =
        "SELECT 1 FROM mailbox WHERE local_part = %u AND domain = %d AND active = 1 "
        "UNION ALL SELECT 1 FROM alias WHERE address = %s AND active = 1";
    ASSERT_EQ(o.query_template.parse(o.query, SqlDialect::Sqlite), "");
    SqliteBackend b("s", o);
    EXPECT_EQ(b.lookup("a@example.test").status, LookupStatus::Found);
    EXPECT_EQ(b.lookup("b@example.test").status, LookupStatus::NotFound);  // inactive
    EXPECT_EQ(b.lookup("list@example.test").status, LookupStatus::Found);
    std::size_t matched = 9;
    EXPECT_EQ(b.lookup_any({"a+x@example.test", "a@example.test", "@example.test"}, &matched).status,
              LookupStatus::Found);
    EXPECT_EQ(matched, 1u);
    EXPECT_EQ(b.lookup_any({"z@catchall.test", "@catchall.test"}, &matched).status, LookupStatus::Found);
    EXPECT_EQ(matched, 1u);
    EXPECT_EQ(b.lookup_any({"' OR 1=1 --", "%", "@"}, &matched).status, LookupStatus::NotFound);
    EXPECT_EQ(b.probe(), "");
}

TEST(SqliteBackend, DomainQuery_FoundNotFound_MissingTableIsAQueryProblem) {
    TempDir d;
    exec(d.file("d.db"),
         "CREATE TABLE recipients (address TEXT);CREATE TABLE domain (domain TEXT);"
         "INSERT INTO domain VALUES ('example.test')");
    SqliteOptions o = opts(d.file("d.db"));
    ASSERT_EQ(o.domain_query.parse("SELECT 1 FROM domain WHERE domain = %d", SqlDialect::Sqlite), "");
    SqliteBackend b("s", o);
    EXPECT_TRUE(b.answers_domains());
    EXPECT_EQ(b.lookup_domain("example.test").status, LookupStatus::Found);
    EXPECT_EQ(b.lookup_domain("other.test").status, LookupStatus::NotFound);
    SqliteOptions bad = opts(d.file("d.db"));
    ASSERT_EQ(bad.domain_query.parse("SELECT 1 FROM domains WHERE domain = %d", SqlDialect::Sqlite), "");
    SqliteBackend broken("s", bad);
    EXPECT_EQ(broken.lookup_domain("example.test").status, LookupStatus::TempFail);
    std::string problem;
    EXPECT_EQ(broken.probe(&problem), "");
    EXPECT_NE(problem.find("domain_query"), std::string::npos) << problem;
    EXPECT_NE(problem.find("no such table"), std::string::npos) << problem;
}

TEST(SqliteBackend, QueryWithTwoParameters_TempFailWithReason) {
    TempDir d;
    testing::make_sqlite_db(d.file("r.db"), {"a@example.test"});
    SqliteOptions o = opts(d.file("r.db"));
    o.query = "SELECT 1 FROM recipients WHERE address = ?1 OR address = ?2";
    SqliteBackend b("s", o);
    LookupResult r = b.lookup("a@example.test");
    EXPECT_EQ(r.status, LookupStatus::TempFail);
    EXPECT_NE(r.reason.find("exactly one parameter"), std::string::npos);
}

TEST(SqliteBackend, CheckQuery_RejectsNonSelectAndMultipleStatements) {
    EXPECT_EQ(SqliteBackend::check_query("SELECT 1 FROM t WHERE a = ?"), "");
    EXPECT_EQ(SqliteBackend::check_query("select 1 from t where a = ?;"), "");
    EXPECT_NE(SqliteBackend::check_query("DELETE FROM recipients WHERE address = ?"), "");
    EXPECT_NE(SqliteBackend::check_query("SELECT 1; DROP TABLE x"), "");
}

TEST(SqliteBackend, NeverWritesTheDatabase) {
    TempDir d;
    testing::make_sqlite_db(d.file("r.db"), {"a@example.test"});
    SqliteOptions o = opts(d.file("r.db"));
    o.query = "SELECT 1 FROM recipients WHERE address = ?1";
    SqliteBackend b("s", o);
    EXPECT_EQ(b.lookup("a@example.test").status, LookupStatus::Found);
    // query_only: even a statement smuggled in via the query option cannot write.
    o.query = "INSERT INTO recipients VALUES (?1) RETURNING 1";
    SqliteBackend w("w", o);
    EXPECT_EQ(w.lookup("evil@example.test").status, LookupStatus::TempFail);
    EXPECT_EQ(b.lookup("evil@example.test").status, LookupStatus::NotFound);
}

TEST(SqliteBackend, PoolOfOne_ManyThreads_NoWrongAnswers) {
    TempDir d;
    testing::make_sqlite_db(d.file("r.db"), {"a@example.test"});
    SqliteOptions o = opts(d.file("r.db"));
    o.pool_size = 1;
    o.busy_timeout = std::chrono::milliseconds(5000);
    SqliteBackend b("s", o);
    std::atomic<int> wrong{0};
    std::vector<std::thread> ts;
    for (int t = 0; t < 6; ++t)
        ts.emplace_back([&] {
            for (int i = 0; i < 200; ++i) {
                if (b.lookup("a@example.test").status != LookupStatus::Found) ++wrong;
                if (b.lookup("x@example.test").status != LookupStatus::NotFound) ++wrong;
            }
        });
    for (auto& t : ts) t.join();
    EXPECT_EQ(wrong.load(), 0);
}

}  // namespace
}  // namespace rcptguard
