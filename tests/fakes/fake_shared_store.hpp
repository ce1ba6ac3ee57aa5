// fake_shared_store: a SharedStore (core/tarpit/shared_store.hpp) in memory,
// for the unit tests of SharedClientState. Several "hosts" may share one
// fake, as MX hosts share one Redis. It follows the store's contract with the
// injected clock (counts within the window, bans with an end), counts every
// call, and can be told to fail every call with a given reason - down, hung,
// refusing the login, answering garbage all look the same from above: false
// and an error.
// Thread-safety: every member from any thread.
#pragma once

#include <atomic>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "core/tarpit/client_state.hpp"
#include "core/tarpit/shared_store.hpp"
#include "util/clock.hpp"

namespace rcptguard::testing {

class FakeSharedStore final : public SharedStore {
public:
    explicit FakeSharedStore(const Clock& clock) : clock_(clock) {}

    // "" = answer; otherwise every call fails with this reason.
    void fail_with(const std::string& reason) {
        std::lock_guard<std::mutex> l(m_);
        failure_ = reason;
    }
    int calls() const { return calls_.load(); }
    int pings() const { return pings_.load(); }
    int resets() const { return resets_.load(); }

    bool add_bad(const std::string& key, unsigned count, const BanSettings& s, const std::string& host,
                 SharedStanding* out, std::string* error) noexcept override {
        std::lock_guard<std::mutex> l(m_);
        ++calls_;
        if (!failure_.empty()) return fail(error);
        Client& c = clients_[key];
        Millis now = clock_.now();
        c.events.push_back({now, count});
        c.last_host = host;
        *out = standing_locked(c, s, now);
        if (out->ban_left.count() == 0 && s.ban_threshold > 0 && s.ban_time.count() > 0 &&
            out->bad_in_window >= s.ban_threshold) {
            c.banned_until = now + s.ban_time;
            c.ban_host = host;
            out->ban_left = s.ban_time;
            out->ban_host = host;
            out->newly_banned = true;
        }
        return true;
    }

    bool standing(const std::string& key, const BanSettings& s, SharedStanding* out,
                  std::string* error) noexcept override {
        std::lock_guard<std::mutex> l(m_);
        ++calls_;
        if (!failure_.empty()) return fail(error);
        *out = standing_locked(clients_[key], s, clock_.now());
        return true;
    }

    bool list(const BanSettings& s, std::size_t max, std::vector<ClientRecord>* out,
              std::string* error) noexcept override {
        std::lock_guard<std::mutex> l(m_);
        ++calls_;
        if (!failure_.empty()) return fail(error);
        out->clear();
        for (auto& [key, c] : clients_) {
            SharedStanding st = standing_locked(c, s, clock_.now());
            if ((st.bad_in_window > 0 || st.ban_left.count() > 0) && out->size() < max)
                out->push_back(ClientRecord{key, st.bad_in_window, st.ban_left, st.last_host});
        }
        return true;
    }

    bool forget(const Network& net, std::size_t* lifted, std::string* error) noexcept override {
        std::lock_guard<std::mutex> l(m_);
        ++calls_;
        if (!failure_.empty()) return fail(error);
        *lifted = 0;
        for (auto it = clients_.begin(); it != clients_.end();) {
            if (client_key_overlaps(it->first, net)) {
                it = clients_.erase(it);
                ++*lifted;
            } else {
                ++it;
            }
        }
        return true;
    }

    bool ping(std::string* error) noexcept override {
        std::lock_guard<std::mutex> l(m_);
        ++pings_;
        if (!failure_.empty()) return fail(error);
        return true;
    }

    void reset() noexcept override { ++resets_; }
    std::string describe() const override { return "fake store"; }

private:
    struct Event {
        Millis at;
        unsigned count;
    };
    struct Client {
        std::vector<Event> events;
        Millis banned_until{0};
        std::string ban_host, last_host;
    };

    bool fail(std::string* error) {
        *error = failure_;
        return false;
    }

    static SharedStanding standing_locked(const Client& c, const BanSettings& s, Millis now) {
        SharedStanding st;
        for (const auto& e : c.events)
            if (now - e.at < s.window) st.bad_in_window += e.count;
        if (c.banned_until > now) {
            st.ban_left = c.banned_until - now;
            st.ban_host = c.ban_host;
        }
        st.last_host = c.last_host;
        return st;
    }

    const Clock& clock_;
    mutable std::mutex m_;
    std::string failure_;
    std::map<std::string, Client> clients_;
    std::atomic<int> calls_{0}, pings_{0}, resets_{0};
};

}  // namespace rcptguard::testing
