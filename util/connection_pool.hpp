// connection_pool: the one pool of connections every backend that keeps
// connections uses (SQLite handles, LDAP handles, database and SMTP
// connections). libmilter moves a session between worker threads, so
// connections are never thread_local: a lookup checks one out, uses it alone
// and gives it back.
//
// - checkout() hands out an idle connection (the most recently used), or
//   opens a new one while fewer than `size` are open, or waits for one to come
//   back until the deadline; past it, it fails with a reason (never blocks
//   longer). Opening happens outside the pool's lock.
// - A Lease gives its connection back when it goes out of scope; discard()
//   closes it instead (it is broken) and, with invalidate_older, also drops
//   every idle connection opened before it (they share its fate: the server
//   restarted, the file was replaced).
// - invalidate() makes every connection opened so far stale: idle ones are
//   closed at the next checkout, busy ones when they come back.
// - close_idle(now) closes connections unused for longer than idle_timeout
//   (servers drop idle connections; a reused dead one costs a retry). Backends
//   call it from maintain(); for_each_idle() lets them tidy idle ones.
// Connections are always closed with the lock released (closing may write to
// a socket).
// Thread-safety: every member from any thread; a Lease belongs to one thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace rcptguard {

template <typename Conn>
class ConnectionPool {
public:
    using Clock = std::chrono::steady_clock;
    using Opener = std::function<std::unique_ptr<Conn>(std::string* error)>;

    class Lease {
    public:
        Lease() = default;
        Lease(Lease&& o) noexcept { *this = std::move(o); }
        Lease& operator=(Lease&& o) noexcept {
            if (this != &o) {
                give_back();
                pool_ = o.pool_;
                conn_ = std::move(o.conn_);
                epoch_ = o.epoch_;
                reused_ = o.reused_;
                o.pool_ = nullptr;
            }
            return *this;
        }
        Lease(const Lease&) = delete;
        Lease& operator=(const Lease&) = delete;
        ~Lease() { give_back(); }

        explicit operator bool() const { return conn_ != nullptr; }
        Conn* operator->() const { return conn_.get(); }
        Conn& operator*() const { return *conn_; }
        Conn* get() const { return conn_.get(); }
        // True when the connection came from the idle list (it may have gone
        // stale since); false for a connection opened for this checkout.
        bool reused() const { return reused_; }
        // Closes the connection instead of giving it back.
        void discard(bool invalidate_older = false) {
            if (!pool_) return;
            pool_->drop(std::move(conn_), epoch_, invalidate_older);
            pool_ = nullptr;
        }

    private:
        friend class ConnectionPool;
        Lease(ConnectionPool* pool, std::unique_ptr<Conn> conn, unsigned long epoch, bool reused)
            : pool_(pool), conn_(std::move(conn)), epoch_(epoch), reused_(reused) {}
        void give_back() {
            if (pool_ && conn_) pool_->checkin(std::move(conn_), epoch_);
            pool_ = nullptr;
        }

        ConnectionPool* pool_ = nullptr;
        std::unique_ptr<Conn> conn_;
        unsigned long epoch_ = 0;
        bool reused_ = false;
    };

    ConnectionPool(int size, std::chrono::milliseconds idle_timeout) : size_(size), idle_timeout_(idle_timeout) {}
    ~ConnectionPool() = default;
    ConnectionPool(const ConnectionPool&) = delete;
    ConnectionPool& operator=(const ConnectionPool&) = delete;

    // An idle connection, a new one from open(), or - when all `size` are busy -
    // the first one given back before deadline. An empty Lease and *error when
    // open() failed or the deadline passed.
    Lease checkout(Clock::time_point deadline, const Opener& open, std::string* error) {
        std::vector<Idle> stale;
        std::unique_lock<std::mutex> lock(mutex_);
        for (;;) {
            while (!idle_.empty()) {
                Idle i = std::move(idle_.back());
                idle_.pop_back();
                if (i.epoch == epoch_) return Lease(this, std::move(i.conn), i.epoch, true);
                --open_;
                stale.push_back(std::move(i));
            }
            if (open_ < size_) {
                ++open_;
                unsigned long epoch = epoch_;
                lock.unlock();
                stale.clear();
                std::unique_ptr<Conn> conn = open(error);
                if (!conn) {
                    lock.lock();
                    --open_;
                    available_.notify_one();
                    return Lease();
                }
                return Lease(this, std::move(conn), epoch, false);
            }
            if (available_.wait_until(lock, deadline) == std::cv_status::timeout && idle_.empty() && open_ >= size_) {
                *error = "all " + std::to_string(size_) + " connections busy (pool_size)";
                return Lease();
            }
        }
    }

    // Adds a connection opened elsewhere (e.g. by a start-up probe) if there
    // is room; otherwise it is closed.
    void add_idle(std::unique_ptr<Conn> conn) {
        std::unique_ptr<Conn> extra;  // destroyed after the lock is released
        std::lock_guard<std::mutex> lock(mutex_);
        if (open_ >= size_) {
            extra = std::move(conn);
            return;
        }
        ++open_;
        idle_.push_back(Idle{std::move(conn), epoch_, Clock::now()});
        available_.notify_one();
    }

    void invalidate() {
        std::vector<Idle> gone;  // closed after the unlock
        std::lock_guard<std::mutex> lock(mutex_);
        ++epoch_;
        open_ -= static_cast<int>(idle_.size());
        gone.swap(idle_);
        available_.notify_all();
    }

    // Closes connections idle for longer than idle_timeout (0 = never).
    void close_idle(Clock::time_point now) {
        if (idle_timeout_.count() <= 0) return;
        std::vector<Idle> gone;
        {
            std::lock_guard<std::mutex> lock(mutex_);
            auto keep = idle_.begin();
            for (auto it = idle_.begin(); it != idle_.end(); ++it) {
                if (now - it->since > idle_timeout_) {
                    gone.push_back(std::move(*it));
                    --open_;
                } else {
                    if (keep != it) *keep = std::move(*it);
                    ++keep;
                }
            }
            idle_.erase(keep, idle_.end());
        }
    }

    // Calls fn(conn) for every idle connection, holding the pool's lock so
    // that none is checked out meanwhile: for quick housekeeping on
    // connections at rest (never for closing them).
    template <typename Fn>
    void for_each_idle(Fn fn) {
        std::lock_guard<std::mutex> lock(mutex_);
        for (Idle& i : idle_) fn(*i.conn);
    }

    int size() const { return size_; }
    int open_count() const {
        std::lock_guard<std::mutex> lock(mutex_);
        return open_;
    }
    int idle_count() const {
        std::lock_guard<std::mutex> lock(mutex_);
        return static_cast<int>(idle_.size());
    }

private:
    struct Idle {
        std::unique_ptr<Conn> conn;
        unsigned long epoch = 0;
        Clock::time_point since;
    };

    void checkin(std::unique_ptr<Conn> conn, unsigned long epoch) {
        std::unique_ptr<Conn> stale;
        std::lock_guard<std::mutex> lock(mutex_);
        if (epoch != epoch_) {
            --open_;
            stale = std::move(conn);
        } else {
            idle_.push_back(Idle{std::move(conn), epoch, Clock::now()});
        }
        available_.notify_one();
        // stale is declared before the guard, so it is closed after the unlock.
    }

    void drop(std::unique_ptr<Conn> conn, unsigned long epoch, bool invalidate_older) {
        std::vector<Idle> gone;
        {
            std::lock_guard<std::mutex> lock(mutex_);
            --open_;
            // Only the first report of a failure moves the epoch: connections
            // opened before it are suspect, newer ones are not.
            if (invalidate_older && epoch == epoch_) {
                ++epoch_;
                open_ -= static_cast<int>(idle_.size());
                gone.swap(idle_);
            }
            available_.notify_all();
        }
        conn.reset();
    }

    const int size_;
    const std::chrono::milliseconds idle_timeout_;
    mutable std::mutex mutex_;
    std::condition_variable available_;
    std::vector<Idle> idle_;
    int open_ = 0;
    unsigned long epoch_ = 0;
};

}  // namespace rcptguard
