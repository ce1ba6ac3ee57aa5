// ldap_backend: recipients in an LDAP directory ("type = ldap"): OpenLDAP,
// Active Directory, anything speaking LDAPv3.
//
// A lookup expands the filter template with the key (RFC 4515-escaped, see
// ldap_filter.hpp) and searches base/scope asking for no attributes; any
// entry means Found. Catch-alls are entries holding "@domain", found by the
// policy's "@domain" key.
//
// lookup_any() (one recipient: full address, without +detail, @domain) makes
// ONE search: the filters of all keys joined in (|...), asking for the
// attributes the template tests, with room for size_limit entries per key.
// An unknown recipient thus costs one round trip instead of up to three.
// From the entries returned it picks the most specific key that one of them
// matches (ldap_filter.hpp's most_specific_match), so the log and the cache
// still know which key was found. Where that cannot be told from the
// attributes (approximate, ordering or extensible matches, attribute
// aliases, a result cut short by a size limit), the keys ahead of the best
// one are asked one by one, as single lookups, most specific first. The
// verdict is the server's either way: Found iff some entry matched.
//
// Several recipients in one search: at most pool_size searches run at once
// (util/batch_queue.hpp). While that many are out, the recipients whose
// lookups arrive meanwhile wait, and go together in the next search: the
// distinct keys of up to 16 recipients in one (|...), room for size_limit
// entries per key, each recipient's most specific match judged from the
// entries returned (most_specific_matches). Recipients of one domain share
// its catch-all key. So a dictionary attack costs the directory one search
// per batch instead of one per recipient, and a recipient waits at most for
// the search ahead of it; with fewer lookups at once than connections,
// nothing waits and each recipient is one search as above. A recipient the
// batch's entries leave unsure (see above, or a result cut short) is looked
// up again on its own. A batch whose search fails answers TempFail for all
// its recipients. In a batch an entry another recipient's key explains is
// not that recipient's unless matches() says so: the verdict then rests on
// matches() judging as the directory does, which it does for ASCII values
// under the case-ignoring rules mail attributes use (mail, proxyAddresses,
// userPrincipalName) and leaves to the server (Unknown: asked alone)
// wherever Unicode or spaces could make them differ.
//
// Connections: a pool of up to pool_size independent, bound handles. A search
// checks one out (waiting at most search_timeout for a free one), uses it
// alone and returns it; a lookup that no search took within search_timeout
// answers TempFail ("all N connections busy"). libmilter moves a session
// between worker threads, so handles are never thread_local.
//
// lookup(): a key containing a NUL byte -> NotFound without asking (see
// ldap_backend.cpp); entry -> Found (also when a size or time limit cut the result
// short after one); no entry -> NotFound; everything else -> TempFail with the
// URI and the reason: no server answered, connect/TLS/bind failed, timeout,
// base DN does not exist, referral, no access, pool exhausted. When a pooled
// connection turns out dead (server restarted, idle connection dropped,
// timeout), it is discarded along with the other idle ones and the lookup is
// retried once on a new connection; a second failure is TempFail. A failure
// is never NotFound: "no such object" for the base answers TempFail.
// A server that failed on a fresh connection is skipped by new connections for
// retry_after (ldap_server_health.hpp); one that fails while a later URI
// answers is logged as a warning.
// Referrals are not chased; continuation references in a result are ignored
// (with Active Directory, search the global catalog).
// An unreachable directory at start is not fatal: probe() says why, and
// lookups answer TempFail until it is back.
// Thread-safety: lookup() from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "backends/backend.hpp"
#include "backends/ldap/ldap_connection.hpp"
#include "backends/ldap/ldap_filter.hpp"
#include "util/batch_queue.hpp"
#include "util/connection_pool.hpp"
#include "util/host_health.hpp"

namespace rcptguard {

struct LdapOptions {
    LdapConnectionSettings connection;
    std::string base;
    LdapScope scope = LdapScope::Sub;
    LdapFilterTemplate filter;  // parsed already
    int pool_size = 4;
    int size_limit = 1;                               // entries per lookup key (0: the server's limit)
    std::chrono::milliseconds retry_after{2000};      // skip a failed server this long; 0: never skip
    std::chrono::milliseconds idle_timeout{300'000};  // idle connections closed after this
};

class LdapBackend final : public Backend {
public:
    LdapBackend(std::string name, LdapOptions opts);
    ~LdapBackend() override;

    LookupResult lookup(std::string_view key) const noexcept override;
    // All keys in one search (LdapFilterTemplate::expand_any); the most
    // specific key an entry matches is *matched.
    LookupResult lookup_any(const std::vector<std::string>& keys, std::size_t* matched) const noexcept override;

    // Connects and runs the filter for a key no directory holds, with
    // connect_timeout as the search timeout: "" if the directory answered, else
    // why not (for the start-up warning and "rcptguard -n"). A good connection
    // stays in the pool.
    std::string probe() const;

    void maintain() noexcept override;

    // Searches sent to the directory so far (probe and retries included).
    std::uint64_t searches() const { return searches_.load(std::memory_order_relaxed); }
    // Lookups waiting for a search to take them (every connection busy).
    std::size_t waiting_lookups() const { return batches_.waiting(); }

private:
    // One recipient's lookup waiting for, or answered by, a batch.
    struct Pending {
        const std::vector<std::string_view>* keys;
        LookupResult result;
        std::size_t best = 0;  // with Found: the index in *keys that matched
        bool alone = false;    // the batch could not tell: look it up on its own
    };
    // A recipient on its own: one search for all its keys, then the keys the
    // entries left unsure one by one. *best as in Pending.
    LookupResult lookup_alone(const std::vector<std::string_view>& keys, std::size_t* best) const;
    // The batch function: one recipient alone, several in one search.
    void run_batch(Pending* const* batch, std::size_t count) const noexcept;
    void search_together(Pending* const* batch, std::size_t count) const;

    using Pool = ConnectionPool<LdapConnection>;
    Pool::Lease checkout(std::string* error) const;
    // One search, retried once on a new connection if a pooled one was dead:
    // "" and *out (Found or NotFound), or why it failed (TempFail).
    std::string search(const std::string& filter, int size_limit, const std::vector<std::string>& attributes,
                       LdapSearch* out) const;

    LdapOptions opts_;
    mutable HostHealth health_;
    mutable Pool pool_;
    mutable std::atomic<std::uint64_t> searches_{0};
    mutable BatchQueue<Pending> batches_;
};

}  // namespace rcptguard
