// pgsql_backend: recipients (and, optionally, domains) in a PostgreSQL
// database, through the site's own queries ("type = pgsql"): PostfixAdmin,
// iRedMail, Modoboa or any schema of one's own.
//
// The backend is the one for all database servers (backends/
// sql_server_backend.hpp: hosts, pool, the one mapping of what a connection
// reports to Found, NotFound and TempFail, all keys in one statement,
// domain_query) over PostgreSQL connections (pgsql_connection.hpp): the
// site's queries become prepared statements with $1..$N text parameters,
// every wait is non-blocking with our own deadlines.
//
// What is PostgreSQL's own: a row -> Found; none -> NotFound; a key that no
// PostgreSQL text value can equal (NUL byte, not UTF-8) -> NotFound without
// asking. Everything else -> TempFail with the host and the reason: no host
// answered, login or TLS refused, the query failed (no such table, syntax,
// permission, statement_timeout), no answer within query_timeout, pool
// exhausted, a connection lost twice. A failure is never NotFound.
// Thread-safety: lookups from any thread; maintain() from one.
#pragma once

#include <memory>
#include <string>

#include "backends/sql_server_backend.hpp"

namespace rcptguard {

std::shared_ptr<SqlServerBackend> make_pgsql_backend(std::string name, SqlServerOptions opts);

}  // namespace rcptguard
