// batch_queue: group commit for requests that one round trip to a server can
// answer together (the LDAP backend's searches for several recipients at
// once, backends/ldap/ldap_backend.hpp).
//
// At most max_running batches run at once. A request that finds a slot free
// is run at once by its own caller, in a batch with whatever else waits.
// While every slot is busy, requests wait in arrival order; when a batch
// ends, the ones that arrived meanwhile go together in the next batch (oldest
// first, at most max_batch), run by the caller of one of them. So with fewer
// requests at once than slots nothing waits and each batch is one request;
// under load the batches grow instead of the queue of round trips.
//
// - submit() returns true once the request's batch has run (the batch
//   function filled in the request's answer), false if no batch took it by
//   the deadline: the caller answers that the server is busy. A request
//   taken by a batch waits for that batch whatever the deadline; the batch
//   function bounds its own round trip.
// - The batch function runs without the queue's lock and must not throw.
// - Each caller waits on its own condition variable and is woken once, when
//   its batch ended or when it is to run the next batch; no herd.
//
// Thread-safety: submit() and the counters from any thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <vector>

namespace rcptguard {

template <typename Request>
class BatchQueue {
public:
    using Clock = std::chrono::steady_clock;
    using RunBatch = std::function<void(Request* const* requests, std::size_t count)>;

    BatchQueue(std::size_t max_running, std::size_t max_batch, RunBatch run)
        : max_running_(max_running < 1 ? 1 : max_running),
          max_batch_(max_batch < 1 ? 1 : max_batch),
          run_(std::move(run)) {}
    BatchQueue(const BatchQueue&) = delete;
    BatchQueue& operator=(const BatchQueue&) = delete;

    bool submit(Request& request, Clock::time_point deadline) {
        Waiter me{&request};
        std::unique_lock<std::mutex> lock(mutex_);
        queue_.push_back(&me);
        for (;;) {
            if (me.done) return true;
            if (running_ < max_running_ && !queue_.empty()) {
                run_next(lock, &me);
                continue;
            }
            if (me.taken) {
                me.wake.wait(lock);
                continue;
            }
            if (Clock::now() >= deadline) {
                for (auto it = queue_.begin(); it != queue_.end(); ++it)
                    if (*it == &me) {
                        queue_.erase(it);
                        break;
                    }
                return false;
            }
            me.wake.wait_until(lock, deadline);
        }
    }

    // Requests waiting for a batch to take them.
    std::size_t waiting() const {
        std::lock_guard<std::mutex> lock(mutex_);
        return queue_.size();
    }
    // Batches run so far, and the requests they held.
    std::uint64_t batches() const {
        std::lock_guard<std::mutex> lock(mutex_);
        return batches_;
    }
    std::uint64_t batched_requests() const {
        std::lock_guard<std::mutex> lock(mutex_);
        return batched_requests_;
    }

private:
    struct Waiter {
        Request* request;
        std::condition_variable wake;
        bool taken = false;  // in a batch that runs
        bool done = false;   // its batch ended
    };

    // Takes the oldest waiting requests and runs them (lock released
    // meanwhile). self: the calling thread's own waiter, woken by nobody.
    void run_next(std::unique_lock<std::mutex>& lock, Waiter* self) {
        std::vector<Waiter*> batch;
        std::vector<Request*> requests;
        std::size_t n = queue_.size() < max_batch_ ? queue_.size() : max_batch_;
        batch.reserve(n);
        requests.reserve(n);
        for (std::size_t i = 0; i < n; ++i) {
            Waiter* w = queue_.front();
            queue_.pop_front();
            w->taken = true;
            batch.push_back(w);
            requests.push_back(w->request);
        }
        ++running_;
        wake_next_runner();  // another slot free: the next ones need not wait for this batch
        lock.unlock();
        run_(requests.data(), requests.size());
        lock.lock();
        --running_;
        ++batches_;
        batched_requests_ += n;
        // Notified under the lock: a waiter returns (and its Waiter goes away)
        // only after taking the lock and seeing done.
        for (Waiter* w : batch) {
            w->done = true;
            if (w != self) w->wake.notify_one();
        }
        if (!self->done) return;  // the caller loops and runs the next batch itself
        wake_next_runner();
    }

    // A slot is free and requests wait: the oldest one's caller runs them.
    void wake_next_runner() {
        if (running_ < max_running_ && !queue_.empty()) queue_.front()->wake.notify_one();
    }

    const std::size_t max_running_;
    const std::size_t max_batch_;
    const RunBatch run_;
    mutable std::mutex mutex_;
    std::deque<Waiter*> queue_;
    std::size_t running_ = 0;
    std::uint64_t batches_ = 0;
    std::uint64_t batched_requests_ = 0;
};

}  // namespace rcptguard
