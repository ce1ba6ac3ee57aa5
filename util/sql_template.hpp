// sql_template: a site's own SQL lookup ("query = SELECT 1 FROM mailbox WHERE
// username = %s AND active") turned into a statement with bound parameters.
//
// Placeholders, outside quotes and comments: %s the lookup key (a full
// address, the address without +detail, or the catch-all "@domain"), %u its
// local part (everything before the last '@'; empty for "@domain"), %d its
// domain (everything after the last '@'), %% a literal '%'. A '%' followed by
// anything but a letter stays as it is (the modulo operator). Each placeholder
// becomes a parameter marker of the dialect - $N for PostgreSQL, ?N for
// SQLite (the same number for the same placeholder), one ? per occurrence for
// MySQL/MariaDB - and the values are bound, never pasted into the text, so a
// hostile address is data. Text inside quotes and comments is passed on as
// written (a LIKE pattern such as '%sales%' is not a placeholder).
//
// parse() refuses, with a message for "file:line: query: problem":
// - a string literal holding nothing but placeholders and punctuation
//   ('%s', '%u@%d'): a placeholder is bound as a parameter and must stand bare;
// - unknown placeholders (%x), the dialect's own markers (?, $1, :name), a
//   NUL byte, more than one statement, anything but SELECT or WITH, and a
//   query without any placeholder.
//
// exists_statement(n) asks for n keys in one round trip:
// "SELECT EXISTS (q with key 1), EXISTS (q with key 2), ..." - one row of n
// booleans, so the caller learns which keys have a row (any row = found).
//
// Pure code without any database library, so it can be unit-tested and
// fuzzed alone. Thread-safety: a parsed SqlTemplate is immutable; every const
// member may be called from any number of threads.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace rcptguard {

enum class SqlDialect { Sqlite, Postgres, MySql };
enum class SqlParam { Key, Local, Domain };

// The values a key offers to placeholders.
struct SqlKeyParts {
    std::string_view key;
    std::string_view local;   // before the last '@' ("" for "@domain")
    std::string_view domain;  // after the last '@' ("" without one)
};
SqlKeyParts split_sql_key(std::string_view key);
std::string_view sql_param_value(SqlParam p, const SqlKeyParts& k);

class SqlTemplate {
public:
    // "" if text is a usable query for dialect, else what is wrong with it.
    std::string parse(std::string_view text, SqlDialect dialect);

    // The statement for one key, markers numbered from 1.
    std::string statement() const { return render(0); }
    // The statement for n keys (see above).
    std::string exists_statement(int n) const;
    // What to bind, in marker order, for one key; for n keys the same list
    // once per key, key by key.
    const std::vector<SqlParam>& params() const { return params_; }

    const std::string& text() const { return text_; }
    bool empty() const { return pieces_.empty(); }

private:
    struct Piece {
        bool placeholder = false;
        SqlParam param = SqlParam::Key;
        std::string literal;
    };
    std::string parse_pieces(std::string_view text, SqlDialect dialect);
    // The query with its markers numbered after `offset` earlier parameters.
    std::string render(std::size_t offset) const;
    // The marker number of param within one key's parameters (numbered dialects).
    std::size_t number_of(SqlParam p) const;

    std::string text_;
    SqlDialect dialect_ = SqlDialect::Postgres;
    std::vector<Piece> pieces_;
    std::vector<SqlParam> params_;
};

}  // namespace rcptguard
