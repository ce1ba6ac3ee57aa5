// ldap_backend: see ldap_backend.hpp. Pool and retry rules from
// ../shared/notes/platform.md 8 (independent handles, bounded checkout wait,
// reconnect and retry once, then TEMPFAIL - never guess accept or reject).
#include "ldap_backend.hpp"

#include "../milter/log.hpp"

namespace rcptguard {

namespace {

// A key no directory holds (RFC 2606 reserves .invalid), for the probe.
constexpr char kProbeKey[] = "rcptguard-probe@invalid";

std::string ms_text(std::chrono::milliseconds d) {
    if (d.count() % 1000 == 0) return std::to_string(d.count() / 1000) + "s";
    return std::to_string(d.count()) + "ms";
}

}  // namespace

LdapBackend::LdapBackend(std::string name, LdapOptions opts)
    : Backend(std::move(name), "ldap"), opts_(std::move(opts)), health_(opts_.retry_after) {
    ldap_global_init();  // normally done by main() already; a no-op then
}

LdapBackend::~LdapBackend() {
    std::lock_guard<std::mutex> lock(mutex_);
    idle_.clear();
}

LdapBackend::Checkout LdapBackend::checkout(std::string* error) const {
    std::vector<ConnPtr> stale;  // closed after the lock is released (unbind writes to the socket)
    std::unique_lock<std::mutex> lock(mutex_);
    auto deadline = std::chrono::steady_clock::now() + opts_.connection.search_timeout;
    for (;;) {
        while (!idle_.empty()) {
            Idle i = std::move(idle_.back());
            idle_.pop_back();
            if (i.epoch == epoch_.load()) return {std::move(i.conn), i.epoch, true};
            --open_count_;
            stale.push_back(std::move(i.conn));
        }
        if (open_count_ < opts_.pool_size) {
            ++open_count_;
            unsigned long epoch = epoch_.load();
            lock.unlock();
            ConnPtr conn = LdapConnection::open(opts_.connection, error, &health_);
            if (conn && !error->empty()) {
                log_warning("backend " + name() + ": " + *error + "; using " + conn->uri());
                error->clear();
            }
            if (!conn) {
                lock.lock();
                --open_count_;
                available_.notify_one();
                return {};
            }
            return {std::move(conn), epoch, false};
        }
        if (available_.wait_until(lock, deadline) == std::cv_status::timeout && idle_.empty() &&
            open_count_ >= opts_.pool_size) {
            *error = "all " + std::to_string(opts_.pool_size) + " connections busy for " +
                     ms_text(opts_.connection.search_timeout) + " (pool_size)";
            return {};
        }
    }
}

void LdapBackend::checkin(Checkout c) const {
    ConnPtr stale;
    std::lock_guard<std::mutex> lock(mutex_);
    if (c.epoch != epoch_.load()) {
        --open_count_;
        stale = std::move(c.conn);
    } else {
        idle_.push_back({std::move(c.conn), c.epoch});
    }
    available_.notify_one();
}

void LdapBackend::discard(Checkout c) const {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        --open_count_;
        // Only the first report of a failure moves the epoch: the idle
        // connections opened before it are suspect, newer ones are not.
        unsigned long e = c.epoch;
        epoch_.compare_exchange_strong(e, c.epoch + 1);
        available_.notify_one();
    }
    c.conn.reset();
}

LookupResult LdapBackend::lookup(std::string_view key) const noexcept {
    try {
        // No directory holds an address with a NUL in it, and OpenLDAP's IA5
        // matching (the "mail" attribute) stops at one: "a@b\0x" is escaped
        // correctly as a@b\00x yet matches the entry of "a@b" (seen in the
        // contract test). Such a key is not found, and never sent.
        if (key.find('\0') != std::string_view::npos) return LookupResult::not_found();
        const std::string filter = opts_.filter.expand(key);
        std::string earlier;  // the first attempt's failure, when retrying
        auto fail = [&](const std::string& why) {
            return LookupResult::tempfail(earlier.empty() ? why : earlier + "; retried on a new connection: " + why);
        };
        for (int attempt = 0; attempt < 2; ++attempt) {
            std::string error;
            Checkout c = checkout(&error);
            if (!c.conn) return fail(error);
            LdapSearch s =
                c.conn->search(opts_.base, opts_.scope, filter, opts_.size_limit, opts_.connection.search_timeout);
            std::string where = c.conn->uri() + ": ";
            // Only a fresh connection tells about the server (a pooled one
            // may just be stale): it clears or sets the server's failure.
            if (!c.reused && s.outcome != LdapSearch::Outcome::Lost) health_.succeeded(c.conn->uri());
            if (!c.reused && s.outcome == LdapSearch::Outcome::Lost)
                health_.failed(c.conn->uri(), s.error, LdapServerHealth::Clock::now());
            switch (s.outcome) {
                case LdapSearch::Outcome::Found: checkin(std::move(c)); return LookupResult::found();
                case LdapSearch::Outcome::NotFound: checkin(std::move(c)); return LookupResult::not_found();
                case LdapSearch::Outcome::Failed:
                    // The server answered (no such base, no access, ...): the
                    // connection is fine, the answer is not a verdict.
                    checkin(std::move(c));
                    return fail(where + s.error);
                case LdapSearch::Outcome::Lost: {
                    // A pooled connection may simply be stale (server
                    // restarted, idle connection closed): one more try on a
                    // new one. A new connection that fails is the answer.
                    bool retry = c.reused && attempt == 0;
                    discard(std::move(c));
                    if (!retry) return fail(where + s.error);
                    earlier = where + s.error;
                    break;
                }
            }
        }
        return fail("retry failed");
    } catch (...) {
        return LookupResult::tempfail("out of memory");
    }
}

std::string LdapBackend::probe() const {
    std::string error;
    // Not recorded in health_: the probe is a diagnosis, and the first lookup
    // (or "rcptguard -q") should meet the server itself and say what it met.
    ConnPtr conn = LdapConnection::open(opts_.connection, &error);
    if (!conn) return error;
    if (!error.empty()) log_warning("backend " + name() + ": " + error + "; using " + conn->uri());
    LdapSearch s =
        conn->search(opts_.base, opts_.scope, opts_.filter.expand(kProbeKey), 1, opts_.connection.connect_timeout);
    if (s.outcome == LdapSearch::Outcome::Failed || s.outcome == LdapSearch::Outcome::Lost)
        return conn->uri() + ": " + s.error;
    std::lock_guard<std::mutex> lock(mutex_);
    if (open_count_ < opts_.pool_size) {
        ++open_count_;
        idle_.push_back({std::move(conn), epoch_.load()});
    }
    return "";
}

}  // namespace rcptguard
