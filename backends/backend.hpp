// backend: the one interface every recipient store implements (SQLite, flat
// file, LDAP, the fail stand-in), modelled on Postfix's dict(3).
//
// lookup(key) answers Found, NotFound or TempFail:
// - key is already canonical (see milter/address.hpp): "user@domain", or the
//   catch-all form "@domain". Backends never re-normalise or interpret it; a
//   hostile key is data, never syntax (bound SQL parameters, RFC 4515 escaping).
// - TempFail means "cannot answer now" (store missing, unreadable, corrupt,
//   busy, server down or slow). The policy turns it into 451 4.3.0, never 550,
//   and it is never cached. reason says why, for the log.
// - lookup() is safe to call from many threads at once and never throws.
//
// lookup_any(keys) asks for several keys at once (the policy's full address,
// address without +detail, @domain catch-all): Found if any is listed (and
// *matched names the most specific one), NotFound if none is, TempFail if the
// store cannot tell. The default asks lookup() key by key and stops at the
// first Found or TempFail; a backend may answer all keys in one round trip.
//
// lookup_domain(domain) answers whether a domain is one the store serves
// (the SQL backends' domain_query, for "domains = backend:NAME"): Found,
// NotFound or TempFail like lookup(). Only a backend whose answers_domains()
// is true is ever asked; the default answers TempFail.
//
// answers_locally() is true for a store on this host (a file, SQLite) whose
// lookups never wait on another server: the policy service answers those on
// its I/O thread instead of handing each request to a worker and back.
//
// maintain() is called periodically (about once a second) from one maintenance
// thread; backends use it to notice changed files. It must not block lookups.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace rcptguard {

enum class LookupStatus { Found, NotFound, TempFail };

struct LookupResult {
    LookupStatus status = LookupStatus::TempFail;
    std::string reason;  // for TempFail: why; for an unverified Found: why it was not checked; else may be empty
    // A Found the store could not really check: it cannot tell valid from
    // unknown recipients at the moment (a call-ahead downstream that accepts
    // every address, backends/smtp/blind_mx.hpp). The answer is still Found -
    // the recipient is accepted as it would be without rcptguard - and the
    // backend chain counts it (rcptguard_backend_unverified_total).
    bool unverified = false;

    static LookupResult found() { return {LookupStatus::Found, {}}; }
    static LookupResult found_unverified(std::string why) { return {LookupStatus::Found, std::move(why), true}; }
    static LookupResult not_found() { return {LookupStatus::NotFound, {}}; }
    static LookupResult tempfail(std::string why) { return {LookupStatus::TempFail, std::move(why)}; }
};

const char* to_string(LookupStatus s);

class Backend {
public:
    virtual ~Backend() = default;
    Backend(const Backend&) = delete;
    Backend& operator=(const Backend&) = delete;

    virtual LookupResult lookup(std::string_view key) const noexcept = 0;
    virtual LookupResult lookup_any(const std::vector<std::string>& keys, std::size_t* matched) const noexcept;
    virtual bool answers_domains() const noexcept { return false; }
    virtual LookupResult lookup_domain(std::string_view domain) const noexcept;
    virtual bool answers_locally() const noexcept { return false; }
    virtual void maintain() noexcept {}
    // A change counter that moves whenever the data behind the backend changed
    // (file reloaded, database replaced); caches use it to invalidate.
    virtual unsigned long generation() const noexcept { return 0; }

    const std::string& name() const { return name_; }
    const std::string& type() const { return type_; }

protected:
    Backend(std::string name, std::string type) : name_(std::move(name)), type_(std::move(type)) {}

private:
    std::string name_;
    std::string type_;
};

using BackendPtr = std::shared_ptr<Backend>;

}  // namespace rcptguard
