// mysql_backend: recipients (and, optionally, domains) in a MariaDB or
// MySQL database, through the site's own queries ("type = mysql"):
// PostfixAdmin, iRedMail, Modoboa or any schema of one's own.
//
// The backend is the one for all database servers (backends/
// sql_server_backend.hpp: hosts, pool, the one mapping of what a connection
// reports to Found, NotFound and TempFail, all keys in one statement,
// domain_query) over MariaDB Connector/C connections (mysql_connection.hpp):
// the site's queries become prepared statements with the values bound as
// strings, every wait bounded by the library's own (whole-second) timeouts.
//
// What is MariaDB's and MySQL's own: a row -> Found; none -> NotFound; a key
// with a NUL byte or bytes that are not UTF-8 -> NotFound without asking.
// Everything else -> TempFail with the host and the reason: no host
// answered, login or TLS refused, the query failed (no such table, syntax,
// permission, max_statement_time), no answer within query_timeout (the
// library reports it as a lost connection; the time it took tells them
// apart), pool exhausted, a connection lost twice. A failure is never
// NotFound.
// Thread-safety: lookups from any thread; maintain() from one.
#pragma once

#include <memory>
#include <string>

#include "backends/sql_server_backend.hpp"

namespace rcptguard {

std::shared_ptr<SqlServerBackend> make_mysql_backend(std::string name, SqlServerOptions opts);

}  // namespace rcptguard
