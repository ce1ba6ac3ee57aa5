// ldap_connection: see ldap_connection.hpp. libldap 2.5 rules from
// doc/platform.md §8 and ldap_get_option(3).
#include "backends/ldap/ldap_connection.hpp"

#include <ldap.h>
#include <stdlib.h>
#include <sys/time.h>

#include <mutex>

namespace rcptguard {

namespace {

std::once_flag g_ldap_init_once;

timeval to_timeval(std::chrono::milliseconds d) {
    timeval tv{};
    tv.tv_sec = static_cast<time_t>(d.count() / 1000);
    tv.tv_usec = static_cast<suseconds_t>((d.count() % 1000) * 1000);
    return tv;
}

std::string seconds_text(std::chrono::milliseconds d) {
    if (d.count() % 1000 == 0) return std::to_string(d.count() / 1000) + "s";
    return std::to_string(d.count()) + "ms";
}

// What libldap (GnuTLS build) says when the TLS handshake or the certificate
// check failed for any reason but a host name mismatch, which it names.
constexpr char kOpaqueTlsError[] = "(unknown error code)";

// libldap's text for the handle's last error, plus the server's (or the TLS
// library's) diagnostic message when there is one. tls_hint replaces
// libldap's opaque TLS diagnostic: an admin needs "certificate not trusted by
// tls_ca_file", not "Connect error ((unknown error code))".
std::string describe(::ldap* ld, int rc, const std::string& tls_hint = "") {
    std::string text = ldap_err2string(rc);
    char* diag = nullptr;
    if (ld && ldap_get_option(ld, LDAP_OPT_DIAGNOSTIC_MESSAGE, &diag) == LDAP_OPT_SUCCESS && diag) {
        std::string d = diag;
        ldap_memfree(diag);
        if (!tls_hint.empty() && d == kOpaqueTlsError) d = tls_hint;
        if (!d.empty()) text += " (" + d + ")";
    }
    return text;
}

std::string tls_hint(const LdapConnectionSettings& s) {
    if (!s.tls_verify) return "TLS handshake failed";
    return "TLS handshake failed: the server's certificate is not signed by a CA in tls_ca_file " + s.tls_ca_file +
           ", is not valid now, or the server offers no TLS";
}

// Errors after which the handle is no use any more: the client library's own
// (negative) codes - server down, timeout, connect, decoding errors - and a
// server that says it is going away. A fresh connection (maybe to the next
// URI) may work. LDAP_FILTER_ERROR is also negative but is about the filter.
bool connection_lost(int rc) {
    if (rc == LDAP_FILTER_ERROR || rc == LDAP_PARAM_ERROR || rc == LDAP_NO_MEMORY) return false;
    return rc < 0 || rc == LDAP_UNAVAILABLE || rc == LDAP_BUSY;
}

bool uses_tls(const std::string& uri, const LdapConnectionSettings& s) {
    return s.start_tls || uri.compare(0, 8, "ldaps://") == 0;
}

// Per-handle options, set before the first operation connects. TLS options
// on a handle only take effect with a new TLS context (LDAP_OPT_X_TLS_NEWCTX),
// created last, after the options it is built from.
std::string set_options(::ldap* ld, const std::string& uri, const LdapConnectionSettings& s) {
    int v3 = LDAP_VERSION3;
    timeval net = to_timeval(s.connect_timeout);
    timeval api = to_timeval(s.connect_timeout);  // StartTLS and bind; the search passes its own
    bool ok = ldap_set_option(ld, LDAP_OPT_PROTOCOL_VERSION, &v3) == LDAP_OPT_SUCCESS &&
              // Referrals off: chasing them would bind anonymously to servers we
              // were not told about (AD answers with them at a domain's root).
              ldap_set_option(ld, LDAP_OPT_REFERRALS, LDAP_OPT_OFF) == LDAP_OPT_SUCCESS &&
              ldap_set_option(ld, LDAP_OPT_RESTART, LDAP_OPT_ON) == LDAP_OPT_SUCCESS &&
              ldap_set_option(ld, LDAP_OPT_NETWORK_TIMEOUT, &net) == LDAP_OPT_SUCCESS &&
              ldap_set_option(ld, LDAP_OPT_TIMEOUT, &api) == LDAP_OPT_SUCCESS;
    if (!ok) return "cannot set connection options";
    if (!uses_tls(uri, s)) return "";
    int require = s.tls_verify ? LDAP_OPT_X_TLS_DEMAND : LDAP_OPT_X_TLS_NEVER;
    int min_version = LDAP_OPT_X_TLS_PROTOCOL_TLS1_2;
    int client = 0;
    if (ldap_set_option(ld, LDAP_OPT_X_TLS_REQUIRE_CERT, &require) != LDAP_OPT_SUCCESS)
        return "cannot set TLS certificate checking";
    if (ldap_set_option(ld, LDAP_OPT_X_TLS_PROTOCOL_MIN, &min_version) != LDAP_OPT_SUCCESS)
        return "cannot set the minimum TLS version";
    if (s.tls_verify && !s.tls_ca_file.empty() &&
        ldap_set_option(ld, LDAP_OPT_X_TLS_CACERTFILE, s.tls_ca_file.c_str()) != LDAP_OPT_SUCCESS)
        return "cannot use tls_ca_file " + s.tls_ca_file;
    if (ldap_set_option(ld, LDAP_OPT_X_TLS_NEWCTX, &client) != LDAP_OPT_SUCCESS)
        return "cannot create a TLS context (is tls_ca_file " + s.tls_ca_file + " a PEM file?)";
    return "";
}

// Connect, StartTLS, bind - each bounded by connect_timeout. Returns the
// handle or nullptr with *error set.
::ldap* connect_one(const std::string& uri, const LdapConnectionSettings& s, std::string* error) {
    ::ldap* ld = nullptr;
    int rc = ldap_initialize(&ld, uri.c_str());
    if (rc != LDAP_SUCCESS || !ld) {
        *error = "bad URI: " + std::string(ldap_err2string(rc));
        return nullptr;
    }
    std::string problem = set_options(ld, uri, s);
    if (!problem.empty()) {
        *error = problem;
        ldap_unbind_ext(ld, nullptr, nullptr);
        return nullptr;
    }
    const char* step = "connect";
    rc = ldap_connect(ld);
    if (rc == LDAP_SUCCESS && s.start_tls) {
        step = "StartTLS";
        rc = ldap_start_tls_s(ld, nullptr, nullptr);
    }
    if (rc == LDAP_SUCCESS && !s.bind_dn.empty()) {
        step = "bind";
        berval cred{};
        cred.bv_val = const_cast<char*>(s.bind_password.data());
        cred.bv_len = s.bind_password.size();
        rc = ldap_sasl_bind_s(ld, s.bind_dn.c_str(), LDAP_SASL_SIMPLE, &cred, nullptr, nullptr, nullptr);
    }
    if (rc != LDAP_SUCCESS) {
        *error = std::string(step) + ": " + describe(ld, rc, uses_tls(uri, s) ? tls_hint(s) : "");
        if (rc == LDAP_TIMEOUT) *error += " after " + seconds_text(s.connect_timeout) + " (connect_timeout)";
        if (rc == LDAP_INVALID_CREDENTIALS) *error += " for " + s.bind_dn;
        ldap_unbind_ext(ld, nullptr, nullptr);
        return nullptr;
    }
    return ld;
}

}  // namespace

void ldap_global_init() {
    std::call_once(g_ldap_init_once, [] {
        setenv("LDAPNOINIT", "1", 1);
        // The first libldap call reads the (now disabled) defaults once, for
        // the whole process; it must not race with other threads.
        int v3 = LDAP_VERSION3;
        ldap_set_option(nullptr, LDAP_OPT_PROTOCOL_VERSION, &v3);
        ldap_set_option(nullptr, LDAP_OPT_REFERRALS, LDAP_OPT_OFF);
        // The TLS library's one-time set-up (libldap counts it in a plain
        // static) happens here too, not in whichever lookup first needs TLS.
        // Connections never use this default context: each makes its own.
        int client = 0;
        ldap_set_option(nullptr, LDAP_OPT_X_TLS_NEWCTX, &client);
    });
}

std::unique_ptr<LdapConnection> LdapConnection::open(const LdapConnectionSettings& s, std::string* error,
                                                     HostHealth* health) {
    std::string reasons;   // every URI, for the failure
    std::string failures;  // the URIs tried and failed, for the warning on success
    for (const std::string& uri : s.uris) {
        std::string why;
        if (health && !health->may_try(uri, HostHealth::Clock::now(), &why)) {
            reasons += (reasons.empty() ? "" : "; ") + uri + ": " + why;
            continue;
        }
        if (::ldap* ld = connect_one(uri, s, &why)) {
            *error = failures;
            return std::unique_ptr<LdapConnection>(new LdapConnection(ld, uri));
        }
        if (health) health->failed(uri, why, HostHealth::Clock::now());
        reasons += (reasons.empty() ? "" : "; ") + uri + ": " + why;
        failures += (failures.empty() ? "" : "; ") + uri + ": " + why;
    }
    *error = reasons.empty() ? "no uri configured" : reasons;
    return nullptr;
}

LdapConnection::~LdapConnection() {
    if (ld_) ldap_unbind_ext(ld_, nullptr, nullptr);
}

LdapSearch LdapConnection::search(const std::string& base, LdapScope scope, const std::string& filter, int size_limit,
                                  std::chrono::milliseconds timeout, const std::vector<std::string>& attributes) {
    int ldap_scope = scope == LdapScope::Base  ? LDAP_SCOPE_BASE
                     : scope == LdapScope::One ? LDAP_SCOPE_ONELEVEL
                                               : LDAP_SCOPE_SUBTREE;
    char no_attrs[] = LDAP_NO_ATTRS;  // "1.1"
    std::vector<char*> attrs;
    for (const auto& a : attributes) attrs.push_back(const_cast<char*>(a.c_str()));
    if (attrs.empty()) attrs.push_back(no_attrs);
    attrs.push_back(nullptr);
    timeval tv = to_timeval(timeout);
    LDAPMessage* res = nullptr;
    int rc = ldap_search_ext_s(ld_, base.c_str(), ldap_scope, filter.c_str(), attrs.data(), attributes.empty() ? 1 : 0,
                               nullptr, nullptr, &tv, size_limit, &res);
    int entries = res ? ldap_count_entries(ld_, res) : 0;
    LdapSearch out;
    if (entries > 0 && (rc == LDAP_SUCCESS || rc == LDAP_SIZELIMIT_EXCEEDED || rc == LDAP_TIMELIMIT_EXCEEDED ||
                        rc == LDAP_ADMINLIMIT_EXCEEDED)) {
        // A limit hit after at least one entry still proves the address exists.
        out.outcome = LdapSearch::Outcome::Found;
        out.complete = rc == LDAP_SUCCESS;
        if (!attributes.empty()) {
            for (LDAPMessage* e = ldap_first_entry(ld_, res); e; e = ldap_next_entry(ld_, e)) {
                LdapAttributes entry;
                BerElement* ber = nullptr;
                for (char* a = ldap_first_attribute(ld_, e, &ber); a; a = ldap_next_attribute(ld_, e, ber)) {
                    std::vector<std::string> values;
                    berval** vals = ldap_get_values_len(ld_, e, a);
                    for (int i = 0; vals && vals[i]; ++i) values.emplace_back(vals[i]->bv_val, vals[i]->bv_len);
                    if (vals) ldap_value_free_len(vals);
                    entry.emplace_back(a, std::move(values));
                    ldap_memfree(a);
                }
                if (ber) ber_free(ber, 0);
                out.entries.push_back(std::move(entry));
            }
        }
    } else if (rc == LDAP_SUCCESS) {
        out.outcome = LdapSearch::Outcome::NotFound;
    } else {
        out.outcome = connection_lost(rc) ? LdapSearch::Outcome::Lost : LdapSearch::Outcome::Failed;
        out.error = "search: " + describe(ld_, rc);
        if (rc == LDAP_TIMEOUT) out.error += " after " + seconds_text(timeout);
        if (rc == LDAP_NO_SUCH_OBJECT) out.error += ": base " + base + " does not exist";
        if (rc == LDAP_REFERRAL)
            out.error += ": the server refers elsewhere for base " + base + " (referrals are not followed)";
    }
    if (res) ldap_msgfree(res);  // also after errors: a partial result may be attached
    return out;
}

bool parse_ldap_uri(const std::string& text, LdapUri* out, std::string* problem) {
    LDAPURLDesc* lud = nullptr;
    int rc = ldap_url_parse(text.c_str(), &lud);
    if (rc != LDAP_URL_SUCCESS || !lud) {
        *problem =
            "'" + text + "' is not an LDAP URI (expected ldap://host[:port], ldaps://host[:port] or ldapi://path)";
        return false;
    }
    out->scheme = lud->lud_scheme ? lud->lud_scheme : "";
    out->host = lud->lud_host ? lud->lud_host : "";
    bool extra = (lud->lud_dn && *lud->lud_dn) || lud->lud_attrs || lud->lud_filter || lud->lud_exts;
    ldap_free_urldesc(lud);
    if (out->scheme != "ldap" && out->scheme != "ldaps" && out->scheme != "ldapi") {
        *problem = "'" + text + "': scheme must be ldap, ldaps or ldapi";
        return false;
    }
    if (extra) {
        *problem = "'" + text + "': give only scheme, host and port (base, scope and filter have their own keys";
        *problem +=
            out->scheme == "ldapi" ? "; an ldapi path is percent-encoded: ldapi://%2Frun%2Fslapd%2Fldapi)" : ")";
        return false;
    }
    return true;
}

bool check_ldap_dn(const std::string& text, std::string* problem) {
    LDAPDN dn = nullptr;
    int rc = ldap_str2dn(text.c_str(), &dn, LDAP_DN_FORMAT_LDAPV3);
    if (dn) ldap_dnfree(dn);
    if (rc != LDAP_SUCCESS) {
        *problem = "'" + text + "' is not a valid DN (RFC 4514): " + ldap_err2string(rc);
        return false;
    }
    return true;
}

}  // namespace rcptguard
