// ldap_connection: one connected (and, if configured, StartTLS-protected and
// bound) libldap handle, owned RAII-style: the destructor unbinds and frees it.
//
// open() tries the URIs in order and returns the first handle that connected,
// negotiated TLS and bound; nullptr plus a reason (one part per URI) if none
// did. With a HostHealth it skips the URIs that failed recently and
// records the ones that fail now; on success *error then holds the failures
// of the URIs tried before the one that answered (empty if none), for a
// warning. Every step is bounded by libldap's own timeouts
// (LDAP_OPT_NETWORK_TIMEOUT for connect and the TLS handshake, LDAP_OPT_TIMEOUT
// for StartTLS and bind, the timeout argument of the search), never by signals.
// search() answers Found / NotFound, Failed (the server answered with an
// error: the handle is still good) or Lost (connection dead, timed out or
// unusable: drop the handle). The bind password is never part of any message.
//
// Thread-safety: a connection is used by one thread at a time (the backend's
// pool hands it out); different connections are independent, so any number may
// be used concurrently (libldap 2.5 is thread-safe across handles).
// ldap_global_init() must run once while the process is single-threaded.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "backends/ldap/ldap_filter.hpp"
#include "util/host_health.hpp"

struct ldap;  // libldap's LDAP

namespace rcptguard {

// Sets libldap's process-wide defaults. libldap reads ldap.conf(5),
// ~/.ldaprc and LDAP* environment variables the first time it is used; we set
// LDAPNOINIT first so that nothing but rcptguard.conf decides how we connect
// (an admin's ~/.ldaprc must not change a daemon's TLS or timeouts). The first
// libldap call must not race with another, so main() calls this before any
// thread exists; later calls do nothing.
void ldap_global_init();

enum class LdapScope { Base, One, Sub };

struct LdapConnectionSettings {
    std::vector<std::string> uris;  // ldap://, ldaps://, ldapi://; tried in order
    std::string bind_dn;            // empty: anonymous, no bind
    std::string bind_password;      // secret: never logged
    bool start_tls = false;
    std::string tls_ca_file;  // used when TLS is (ldaps:// or start_tls)
    bool tls_verify = true;
    std::chrono::milliseconds connect_timeout{2000};  // per URI: connect, TLS, bind
    std::chrono::milliseconds search_timeout{3000};
};

struct LdapSearch {
    enum class Outcome { Found, NotFound, Failed, Lost };
    Outcome outcome = Outcome::Failed;
    std::string error;  // for Failed and Lost
    // With attributes asked for: the entries returned, and whether that was
    // all of them (false when a size, time or administrative limit cut the
    // result short).
    std::vector<LdapAttributes> entries;
    bool complete = true;
};

class LdapConnection {
public:
    static std::unique_ptr<LdapConnection> open(const LdapConnectionSettings& s, std::string* error,
                                                HostHealth* health = nullptr);
    ~LdapConnection();
    LdapConnection(const LdapConnection&) = delete;
    LdapConnection& operator=(const LdapConnection&) = delete;

    // Asks for no attributes ("1.1", RFC 4511 4.5.1.8) when attributes is
    // empty: an entry's existence is the answer. Otherwise the entries come
    // back with those attributes. size_limit 0 means the server's own limit.
    LdapSearch search(const std::string& base, LdapScope scope, const std::string& filter, int size_limit,
                      std::chrono::milliseconds timeout, const std::vector<std::string>& attributes = {});

    const std::string& uri() const { return uri_; }

private:
    LdapConnection(::ldap* ld, std::string uri) : ld_(ld), uri_(std::move(uri)) {}

    ::ldap* ld_;
    std::string uri_;
};

struct LdapUri {
    std::string scheme;  // ldap, ldaps or ldapi
    std::string host;    // empty: libldap's default (localhost, or the default ldapi socket)
};
// True if text is a URI we accept (scheme ldap, ldaps or ldapi; no DN,
// attributes, filter or extensions); else false and *problem says why.
bool parse_ldap_uri(const std::string& text, LdapUri* out, std::string* problem);
// True if text is a syntactically valid LDAPv3 DN (RFC 4514, via ldap_str2dn).
bool check_ldap_dn(const std::string& text, std::string* problem);

}  // namespace rcptguard
