// ldap_backend: see ldap_backend.hpp. Pool and retry rules from
// doc/platform.md §8 (independent handles, bounded checkout wait,
// reconnect and retry once, then TEMPFAIL - never guess accept or reject).
#include "backends/ldap/ldap_backend.hpp"

#include <algorithm>

#include "util/duration.hpp"
#include "util/log.hpp"

namespace rcptguard {

namespace {

// A key no directory holds (RFC 2606 reserves .invalid), for the probe.
constexpr char kProbeKey[] = "rcptguard-probe@invalid";

// Recipients in one search at most: up to 48 keys in one filter (a few KB),
// well within what OpenLDAP and Active Directory take.
constexpr std::size_t kMaxBatch = 16;

}  // namespace

LdapBackend::LdapBackend(std::string name, LdapOptions opts)
    : Backend(std::move(name), "ldap"),
      opts_(std::move(opts)),
      health_(opts_.retry_after),
      pool_(opts_.pool_size, opts_.idle_timeout),
      batches_(static_cast<std::size_t>(opts_.pool_size), kMaxBatch,
               [this](Pending* const* batch, std::size_t count) { run_batch(batch, count); }) {
    ldap_global_init();  // normally done by main() already; a no-op then
}

LdapBackend::~LdapBackend() = default;

LdapBackend::Pool::Lease LdapBackend::checkout(std::string* error) const {
    auto deadline = std::chrono::steady_clock::now() + opts_.connection.search_timeout;
    auto open = [this](std::string* e) {
        std::unique_ptr<LdapConnection> conn = LdapConnection::open(opts_.connection, e, &health_);
        if (conn && !e->empty()) {
            log_warning("backend " + name() + ": " + *e + "; using " + conn->uri());
            e->clear();
        }
        return conn;
    };
    Pool::Lease c = pool_.checkout(deadline, open, error);
    if (!c && error->find("(pool_size)") != std::string::npos)
        *error = "all " + std::to_string(opts_.pool_size) + " connections busy for " +
                 format_duration(opts_.connection.search_timeout) + " (pool_size)";
    return c;
}

void LdapBackend::maintain() noexcept { pool_.close_idle(Pool::Clock::now()); }

std::string LdapBackend::search(const std::string& filter, int size_limit, const std::vector<std::string>& attributes,
                                LdapSearch* out) const {
    std::string earlier;  // the first attempt's failure, when retrying
    auto fail = [&](const std::string& why) {
        return earlier.empty() ? why : earlier + "; retried on a new connection: " + why;
    };
    for (int attempt = 0; attempt < 2; ++attempt) {
        std::string error;
        Pool::Lease c = checkout(&error);
        if (!c) return fail(error);
        searches_.fetch_add(1, std::memory_order_relaxed);
        *out = c->search(opts_.base, opts_.scope, filter, size_limit, opts_.connection.search_timeout, attributes);
        const LdapSearch& s = *out;
        std::string where = c->uri() + ": ";
        // Only a fresh connection tells about the server (a pooled one
        // may just be stale): it clears or sets the server's failure.
        if (!c.reused() && s.outcome != LdapSearch::Outcome::Lost) health_.succeeded(c->uri());
        if (!c.reused() && s.outcome == LdapSearch::Outcome::Lost)
            health_.failed(c->uri(), s.error, HostHealth::Clock::now());
        switch (s.outcome) {
            case LdapSearch::Outcome::Found:
            case LdapSearch::Outcome::NotFound: return "";
            case LdapSearch::Outcome::Failed:
                // The server answered (no such base, no access, ...): the
                // connection is fine, the answer is not a verdict.
                return fail(where + s.error);
            case LdapSearch::Outcome::Lost: {
                // A pooled connection may simply be stale (server
                // restarted, idle connection closed): one more try on a
                // new one; the idle connections opened before it share
                // its fate. A new connection that fails is the answer.
                bool retry = c.reused() && attempt == 0;
                c.discard(true);
                if (!retry) return fail(where + s.error);
                earlier = where + s.error;
                break;
            }
        }
    }
    return fail("retry failed");
}

LookupResult LdapBackend::lookup(std::string_view key) const noexcept {
    try {
        // No directory holds an address with a NUL in it, and OpenLDAP's IA5
        // matching (the "mail" attribute) stops at one: "a@b\0x" is escaped
        // correctly as a@b\00x yet matches the entry of "a@b" (seen in the
        // contract test). Such a key is not found, and never sent.
        if (key.find('\0') != std::string_view::npos) return LookupResult::not_found();
        LdapSearch s;
        std::string error = search(opts_.filter.expand(key), opts_.size_limit, {}, &s);
        if (!error.empty()) return LookupResult::tempfail(error);
        return s.outcome == LdapSearch::Outcome::Found ? LookupResult::found() : LookupResult::not_found();
    } catch (...) {
        return LookupResult::tempfail("out of memory");
    }
}

LookupResult LdapBackend::lookup_any(const std::vector<std::string>& keys, std::size_t* matched) const noexcept {
    try {
        // Keys with a NUL are never sent (see lookup()); index maps back.
        std::vector<std::string_view> sent;
        std::vector<std::size_t> index;
        for (std::size_t i = 0; i < keys.size(); ++i) {
            if (keys[i].find('\0') != std::string::npos) continue;
            sent.emplace_back(keys[i]);
            index.push_back(i);
        }
        if (sent.empty()) return LookupResult::not_found();
        Pending p{&sent, {}, 0, false};
        if (!batches_.submit(p, std::chrono::steady_clock::now() + opts_.connection.search_timeout))
            return LookupResult::tempfail("all " + std::to_string(opts_.pool_size) + " connections busy for " +
                                          format_duration(opts_.connection.search_timeout) + " (pool_size)");
        if (p.alone) p.result = lookup_alone(sent, &p.best);
        if (p.result.status == LookupStatus::Found && matched) *matched = index[p.best];
        return p.result;
    } catch (...) {
        return LookupResult::tempfail("out of memory");
    }
}

void LdapBackend::run_batch(Pending* const* batch, std::size_t count) const noexcept {
    try {
        if (count == 1)
            batch[0]->result = lookup_alone(*batch[0]->keys, &batch[0]->best);
        else
            search_together(batch, count);
    } catch (...) {
        for (std::size_t i = 0; i < count; ++i) batch[i]->result = LookupResult::tempfail("out of memory");
    }
}

LookupResult LdapBackend::lookup_alone(const std::vector<std::string_view>& sent, std::size_t* best_out) const {
    if (sent.size() == 1) {
        *best_out = 0;
        return lookup(sent.front());
    }
    // One search for all keys. Several entries may answer (the user's and
    // the domain's catch-all): room for size_limit entries per key, so the
    // most specific one is not cut off; if the result is cut short
    // anyway, most_specific_match() says which keys to ask one by one.
    int limit = opts_.size_limit == 0 ? 0 : opts_.size_limit * static_cast<int>(sent.size());
    LdapSearch s;
    std::string error = search(opts_.filter.expand_any(sent), limit, opts_.filter.attributes(), &s);
    if (!error.empty()) return LookupResult::tempfail(error);
    if (s.outcome == LdapSearch::Outcome::NotFound) return LookupResult::not_found();
    std::size_t unsure = 0;
    std::size_t best = most_specific_match(opts_.filter, sent, s.entries, s.complete, &unsure);
    for (std::size_t i = 0; i < unsure; ++i) {
        LookupResult r = lookup(sent[i]);
        if (r.status == LookupStatus::TempFail) return r;
        if (r.status == LookupStatus::Found) {
            best = i;
            break;
        }
    }
    // Nothing matched when asked key by key: an entry removed meanwhile.
    if (best >= sent.size()) return LookupResult::not_found();
    *best_out = best;
    return LookupResult::found();
}

void LdapBackend::search_together(Pending* const* batch, std::size_t count) const {
    // The distinct keys of all recipients (a domain's catch-all once), and
    // each recipient's keys as indices into them.
    std::vector<std::string_view> all;
    std::vector<std::vector<std::size_t>> mine(count);
    for (std::size_t r = 0; r < count; ++r)
        for (std::string_view k : *batch[r]->keys) {
            std::size_t at = std::find(all.begin(), all.end(), k) - all.begin();
            if (at == all.size()) all.push_back(k);
            mine[r].push_back(at);
        }
    int limit = opts_.size_limit == 0 ? 0 : opts_.size_limit * static_cast<int>(all.size());
    if (log_enabled(LogLevel::Debug))
        log_debug("backend " + name() + ": " + std::to_string(count) + " recipients in one search (" +
                  std::to_string(all.size()) + " keys)");
    LdapSearch s;
    std::string error = search(opts_.filter.expand_any(all), limit, opts_.filter.attributes(), &s);
    if (!error.empty()) {
        for (std::size_t r = 0; r < count; ++r) batch[r]->result = LookupResult::tempfail(error);
        return;
    }
    std::vector<KeyMatch> m = most_specific_matches(opts_.filter, all, mine, s.entries, s.complete);
    for (std::size_t r = 0; r < count; ++r) {
        Pending& p = *batch[r];
        if (m[r].unsure_before > 0) {
            p.alone = true;  // its caller asks again, on its own
        } else if (m[r].best < mine[r].size()) {
            p.result = LookupResult::found();
            p.best = m[r].best;
        } else {
            p.result = LookupResult::not_found();
        }
    }
}

std::string LdapBackend::probe() const {
    std::string error;
    // Not recorded in health_: the probe is a diagnosis, and the first lookup
    // (or "rcptguard -q") should meet the server itself and say what it met.
    std::unique_ptr<LdapConnection> conn = LdapConnection::open(opts_.connection, &error);
    if (!conn) return error;
    if (!error.empty()) log_warning("backend " + name() + ": " + error + "; using " + conn->uri());
    searches_.fetch_add(1, std::memory_order_relaxed);
    LdapSearch s =
        conn->search(opts_.base, opts_.scope, opts_.filter.expand(kProbeKey), 1, opts_.connection.connect_timeout);
    if (s.outcome == LdapSearch::Outcome::Failed || s.outcome == LdapSearch::Outcome::Lost)
        return conn->uri() + ": " + s.error;
    pool_.add_idle(std::move(conn));
    return "";
}

}  // namespace rcptguard
