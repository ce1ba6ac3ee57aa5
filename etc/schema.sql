-- rcptguard recipient database (SQLite). See rcptguard.conf(5), "SQLite backend".
--
-- One row per valid recipient address, in the form rcptguard looks it up:
--   user@example.com     a mailbox or alias (aliases are simply more rows)
--   @example.com         catch-all: every local part of example.com is valid
-- A recipient "user+tag@example.com" is found through its row "user@example.com".
-- Matching ignores ASCII case (COLLATE NOCASE), so "John@Example.COM" typed in
-- the sqlite3 shell still matches; rcptguard-ctl stores addresses normalised.
--
-- Create:   sqlite3 /var/lib/rcptguard/recipients.db < schema.sql
-- Add:      sqlite3 /var/lib/rcptguard/recipients.db "INSERT INTO recipients(address) VALUES ('user@example.com')"
-- Remove:   sqlite3 /var/lib/rcptguard/recipients.db "DELETE FROM recipients WHERE address = 'user@example.com'"
-- The daemon sees changes at once, without a restart or reload.
--
-- WAL mode (persistent, a property of the file): the daemon's reads and your
-- writes never block each other. The pragma answers "wal"; the two sqlite3
-- shell commands around it keep that answer off your terminal (programs that
-- run this file as plain SQL - rcptguard-ctl init - leave out lines that
-- start with a dot).
.output /dev/null
PRAGMA journal_mode = WAL;
.output

CREATE TABLE IF NOT EXISTS recipients (
    address TEXT NOT NULL PRIMARY KEY COLLATE NOCASE
        CHECK (address <> '' AND instr(address, '@') > 0)
) WITHOUT ROWID;
