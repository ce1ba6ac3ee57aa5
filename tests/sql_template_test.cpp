// util/sql_template: a site's query with %s %u %d turned into a statement
// with parameter markers for each dialect, and the queries it refuses.
#include "util/sql_template.hpp"

#include <gtest/gtest.h>

namespace rcptguard {
namespace {

struct RenderCase {
    std::string name;
    SqlDialect dialect;
    std::string query;
    std::string statement;  // for one key
    std::vector<SqlParam> params;
};

class SqlTemplateRender : public ::testing::TestWithParam<RenderCase> {};

TEST_P(SqlTemplateRender, Statement_AndBindOrder) {
    const RenderCase& c = GetParam();
    SqlTemplate t;
    ASSERT_EQ(t.parse(c.query, c.dialect), "");
    EXPECT_EQ(t.statement(), c.statement);
    EXPECT_EQ(t.params(), c.params);
}

using P = SqlParam;
INSTANTIATE_TEST_SUITE_P(
    Cases, SqlTemplateRender,
    ::testing::Values(RenderCase{"pg_key",
                                 SqlDialect::Postgres,
                                 "SELECT 1 FROM mailbox WHERE username = %s AND active",
                                 "SELECT 1 FROM mailbox WHERE username = $1 AND active",
                                 {P::Key}},
                      RenderCase{"pg_same_placeholder_same_number",
                                 SqlDialect::Postgres,
                                 "SELECT 1 FROM a WHERE x = %s UNION SELECT 1 FROM b WHERE y = %s AND d = %d",
                                 "SELECT 1 FROM a WHERE x = $1 UNION SELECT 1 FROM b WHERE y = $1 AND d = $2",
                                 {P::Key, P::Domain}},
                      RenderCase{
                          "mysql_one_marker_per_occurrence",
                          SqlDialect::MySql,
                          "SELECT 1 FROM a WHERE x = %s UNION SELECT 1 FROM b WHERE u = %u AND d = %d AND y = %s",
                          "SELECT 1 FROM a WHERE x = ? UNION SELECT 1 FROM b WHERE u = ? AND d = ? AND y = ?",
                          {P::Key, P::Local, P::Domain, P::Key}},
                      RenderCase{"sqlite_numbered",
                                 SqlDialect::Sqlite,
                                 "SELECT 1 FROM r WHERE l = %u AND d = %d",
                                 "SELECT 1 FROM r WHERE l = ?1 AND d = ?2",
                                 {P::Local, P::Domain}},
                      RenderCase{"like_pattern_in_quotes_is_text",
                                 SqlDialect::Postgres,
                                 "SELECT 1 FROM m WHERE username = %s AND note NOT LIKE '%sales%'",
                                 "SELECT 1 FROM m WHERE username = $1 AND note NOT LIKE '%sales%'",
                                 {P::Key}},
                      RenderCase{"percent_percent_and_modulo",
                                 SqlDialect::MySql,
                                 "SELECT 1 FROM m WHERE id % 2 = 0 AND x = %s %% 3",
                                 "SELECT 1 FROM m WHERE id % 2 = 0 AND x = ? % 3",
                                 {P::Key}},
                      RenderCase{"comments_kept",
                                 SqlDialect::Postgres,
                                 "SELECT 1 -- %s is the address\nFROM m WHERE a = %s",
                                 "SELECT 1 -- %s is the address\nFROM m WHERE a = $1",
                                 {P::Key}},
                      RenderCase{"trailing_semicolon_dropped",
                                 SqlDialect::MySql,
                                 "SELECT 1 FROM m WHERE a = %s ; ",
                                 "SELECT 1 FROM m WHERE a = ?",
                                 {P::Key}},
                      RenderCase{"pg_dollar_quote_and_json_operator",
                                 SqlDialect::Postgres,
                                 "SELECT 1 FROM m WHERE a = %s AND tags ? $$x'y$$",
                                 "SELECT 1 FROM m WHERE a = $1 AND tags ? $$x'y$$",
                                 {P::Key}},
                      RenderCase{"with_clause",
                                 SqlDialect::Postgres,
                                 "WITH a AS (SELECT address FROM alias) SELECT 1 FROM a WHERE "
                                 "address = %s",
                                 "WITH a AS (SELECT address FROM alias) SELECT 1 FROM a WHERE address = $1",
                                 {P::Key}},
                      RenderCase{"mysql_escaped_quote_in_literal",
                                 SqlDialect::MySql,
                                 "SELECT 1 FROM m WHERE a = %s AND b <> 'it\\'s %s ok%'",
                                 "SELECT 1 FROM m WHERE a = ? AND b <> 'it\\'s %s ok%'",
                                 {P::Key}}),
    [](const ::testing::TestParamInfo<RenderCase>& i) { return i.param.name; });

struct RefuseCase {
    std::string name;
    SqlDialect dialect;
    std::string query;
    std::string words;
};

class SqlTemplateRefuse : public ::testing::TestWithParam<RefuseCase> {};

TEST_P(SqlTemplateRefuse, Problem) {
    SqlTemplate t;
    std::string p = t.parse(GetParam().query, GetParam().dialect);
    EXPECT_NE(p.find(GetParam().words), std::string::npos) << p;
    EXPECT_TRUE(t.empty());
}

INSTANTIATE_TEST_SUITE_P(
    Cases, SqlTemplateRefuse,
    ::testing::Values(
        RefuseCase{"quoted_key", SqlDialect::Postgres, "SELECT 1 FROM m WHERE a = '%s'", "inside quotes"},
        RefuseCase{"quoted_parts", SqlDialect::MySql, "SELECT 1 FROM m WHERE a = '%u@%d'", "inside quotes"},
        RefuseCase{"double_quoted_mysql", SqlDialect::MySql, "SELECT 1 FROM m WHERE a = \"%s\"", "inside quotes"},
        RefuseCase{"dollar_quoted", SqlDialect::Postgres, "SELECT 1 FROM m WHERE a = $$%s$$", "inside quotes"},
        RefuseCase{"no_placeholder", SqlDialect::Postgres, "SELECT 1 FROM m", "no placeholder"},
        RefuseCase{"unknown_placeholder", SqlDialect::MySql, "SELECT 1 FROM m WHERE a = %x", "unknown placeholder %x"},
        RefuseCase{"mysql_marker", SqlDialect::MySql, "SELECT 1 FROM m WHERE a = ? OR b = %s", "'?'"},
        RefuseCase{"sqlite_named", SqlDialect::Sqlite, "SELECT 1 FROM m WHERE a = :address OR b = %s",
                   "named parameters"},
        RefuseCase{"pg_positional", SqlDialect::Postgres, "SELECT 1 FROM m WHERE a = $1 OR b = %s", "$N"},
        RefuseCase{"two_statements", SqlDialect::Postgres, "SELECT 1 FROM m WHERE a = %s; DELETE FROM m",
                   "single statement"},
        RefuseCase{"not_select", SqlDialect::MySql, "DELETE FROM m WHERE a = %s", "SELECT"},
        RefuseCase{"unclosed_quote", SqlDialect::Postgres, "SELECT 1 FROM m WHERE a = %s AND b = 'x", "not closed"},
        RefuseCase{"unclosed_comment", SqlDialect::Postgres, "SELECT 1 FROM m WHERE a = %s /* x", "not closed"},
        RefuseCase{"nul", SqlDialect::MySql, std::string("SELECT 1 FROM m WHERE a = %s\0", 29), "NUL"},
        RefuseCase{"empty", SqlDialect::MySql, " ; ", "empty"}),
    [](const ::testing::TestParamInfo<RefuseCase>& i) { return i.param.name; });

TEST(SqlTemplate, ExistsStatement_NumbersEachKeysParameters) {
    SqlTemplate t;
    ASSERT_EQ(t.parse("SELECT 1 FROM m WHERE l = %u AND d = %d", SqlDialect::Postgres), "");
    EXPECT_EQ(t.exists_statement(3),
              "SELECT EXISTS (SELECT 1 FROM m WHERE l = $1 AND d = $2\n), EXISTS (SELECT 1 FROM m WHERE l = $3 AND d = "
              "$4\n), EXISTS (SELECT 1 FROM m WHERE l = $5 AND d = $6\n)");
    ASSERT_EQ(t.parse("SELECT 1 FROM m WHERE a = %s -- note", SqlDialect::MySql), "");
    EXPECT_EQ(t.exists_statement(2),
              "SELECT EXISTS (SELECT 1 FROM m WHERE a = ? -- note\n), EXISTS (SELECT 1 FROM m WHERE a = ? -- note\n)");
}

TEST(SqlTemplate, SplitKey_LocalPartAndDomain) {
    SqlKeyParts k = split_sql_key("john.doe+x@example.test");
    EXPECT_EQ(k.local, "john.doe+x");
    EXPECT_EQ(k.domain, "example.test");
    k = split_sql_key("@example.test");
    EXPECT_EQ(k.local, "");
    EXPECT_EQ(k.domain, "example.test");
    k = split_sql_key("\"a@b\"@example.test");  // the last '@' splits
    EXPECT_EQ(k.local, "\"a@b\"");
    EXPECT_EQ(sql_param_value(SqlParam::Key, k), "\"a@b\"@example.test");
}

}  // namespace
}  // namespace rcptguard
