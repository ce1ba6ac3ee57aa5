// Unit tests for BatchQueue (util/batch_queue.hpp): a free slot runs a
// request at once; requests that arrive while every slot is busy go together
// in the next batch; no more batches at once than slots, no batch larger than
// its limit; a request no batch took by its deadline is given up; every
// request answered exactly once. The "server" is a fake that can be held
// still; tests wait for states (counters), never for time.
#include "util/batch_queue.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <set>
#include <thread>
#include <vector>

namespace rcptguard {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using std::chrono::seconds;

struct Request {
    int id = 0;
    int answer = 0;
    int answered = 0;  // times a batch answered it
};

// Answers each request with id * 10 and records the batches; while held,
// every batch blocks until released.
class HeldServer {
public:
    void run(Request* const* requests, std::size_t count) {
        std::unique_lock<std::mutex> lock(m_);
        ++running_;
        max_running_ = std::max(max_running_, running_);
        changed_.notify_all();
        changed_.wait(lock, [this] { return !held_; });
        std::vector<int> ids;
        for (std::size_t i = 0; i < count; ++i) {
            requests[i]->answer = requests[i]->id * 10;
            ++requests[i]->answered;
            ids.push_back(requests[i]->id);
        }
        batches_.push_back(ids);
        --running_;
        changed_.notify_all();
    }
    void hold() {
        std::lock_guard<std::mutex> lock(m_);
        held_ = true;
    }
    void release() {
        std::lock_guard<std::mutex> lock(m_);
        held_ = false;
        changed_.notify_all();
    }
    void wait_running(int n) {
        std::unique_lock<std::mutex> lock(m_);
        changed_.wait(lock, [&] { return running_ == n; });
    }
    std::vector<std::vector<int>> batches() {
        std::lock_guard<std::mutex> lock(m_);
        return batches_;
    }
    int max_running() {
        std::lock_guard<std::mutex> lock(m_);
        return max_running_;
    }

private:
    std::mutex m_;
    std::condition_variable changed_;
    bool held_ = false;
    int running_ = 0;
    int max_running_ = 0;
    std::vector<std::vector<int>> batches_;
};

using Queue = BatchQueue<Request>;

Queue::RunBatch to(HeldServer& s) {
    return [&s](Request* const* r, std::size_t n) { s.run(r, n); };
}

void wait_waiting(const Queue& q, std::size_t n) {
    while (q.waiting() != n) std::this_thread::yield();
}

TEST(BatchQueue, SlotFree_CallerRunsItsOwnRequestAlone) {
    HeldServer server;
    Queue q(2, 16, to(server));
    Request r{7};
    EXPECT_TRUE(q.submit(r, Clock::now() + seconds(30)));
    EXPECT_EQ(r.answer, 70);
    EXPECT_EQ(server.batches(), (std::vector<std::vector<int>>{{7}}));
}

TEST(BatchQueue, SlotFree_RunsEvenPastItsDeadline) {
    HeldServer server;
    Queue q(1, 16, to(server));
    Request r{3};
    EXPECT_TRUE(q.submit(r, Clock::now() - seconds(1)));
    EXPECT_EQ(r.answer, 30);
}

TEST(BatchQueue, EverySlotBusy_LaterRequestsGoTogetherInTheNextBatch) {
    HeldServer server;
    Queue q(1, 16, to(server));
    server.hold();
    std::vector<Request> reqs(6);
    std::vector<std::thread> callers;
    reqs[0].id = 1;
    callers.emplace_back([&] { EXPECT_TRUE(q.submit(reqs[0], Clock::now() + seconds(30))); });
    server.wait_running(1);
    for (int i = 1; i < 6; ++i) {
        reqs[i].id = i + 1;
        callers.emplace_back([&, i] { EXPECT_TRUE(q.submit(reqs[i], Clock::now() + seconds(30))); });
    }
    wait_waiting(q, 5);
    server.release();
    for (std::thread& t : callers) t.join();
    std::vector<std::vector<int>> b = server.batches();
    ASSERT_EQ(b.size(), 2u);
    EXPECT_EQ(b[0], std::vector<int>{1});
    EXPECT_EQ(std::set<int>(b[1].begin(), b[1].end()), (std::set<int>{2, 3, 4, 5, 6}));
    for (const Request& r : reqs) {
        EXPECT_EQ(r.answer, r.id * 10);
        EXPECT_EQ(r.answered, 1);
    }
    EXPECT_EQ(q.batches(), 2u);
    EXPECT_EQ(q.batched_requests(), 6u);
}

TEST(BatchQueue, BatchesNeverLargerThanTheLimit_NorMoreAtOnceThanSlots) {
    HeldServer server;
    Queue q(2, 3, to(server));
    server.hold();
    std::vector<Request> reqs(12);
    std::vector<std::thread> callers;
    for (int i = 0; i < 2; ++i) {
        reqs[i].id = i + 1;
        callers.emplace_back([&, i] { EXPECT_TRUE(q.submit(reqs[i], Clock::now() + seconds(30))); });
    }
    server.wait_running(2);
    for (int i = 2; i < 12; ++i) {
        reqs[i].id = i + 1;
        callers.emplace_back([&, i] { EXPECT_TRUE(q.submit(reqs[i], Clock::now() + seconds(30))); });
    }
    wait_waiting(q, 10);
    server.release();
    for (std::thread& t : callers) t.join();
    std::size_t total = 0;
    for (const std::vector<int>& b : server.batches()) {
        EXPECT_LE(b.size(), 3u);
        total += b.size();
    }
    EXPECT_EQ(total, 12u);
    EXPECT_LE(server.max_running(), 2);
    for (const Request& r : reqs) EXPECT_EQ(r.answered, 1);
}

TEST(BatchQueue, NoSlotByTheDeadline_GivenUp_OthersStillAnswered) {
    HeldServer server;
    Queue q(1, 16, to(server));
    server.hold();
    Request first{1};
    std::thread runner([&] { EXPECT_TRUE(q.submit(first, Clock::now() + seconds(30))); });
    server.wait_running(1);
    Request late{2};
    EXPECT_FALSE(q.submit(late, Clock::now() + milliseconds(50)));
    EXPECT_EQ(late.answered, 0);
    EXPECT_EQ(q.waiting(), 0u);  // it left the queue: no batch will touch it
    server.release();
    runner.join();
    EXPECT_EQ(first.answer, 10);
    Request after{3};
    EXPECT_TRUE(q.submit(after, Clock::now() + seconds(30)));
    EXPECT_EQ(after.answer, 30);
}

TEST(BatchQueue, ManyCallers_EveryRequestAnsweredExactlyOnce) {
    HeldServer server;
    Queue q(2, 4, to(server));
    constexpr int kThreads = 8, kEach = 200;
    std::vector<std::vector<Request>> reqs(kThreads, std::vector<Request>(kEach));
    std::atomic<int> refused{0};
    std::vector<std::thread> callers;
    for (int t = 0; t < kThreads; ++t)
        callers.emplace_back([&, t] {
            for (int i = 0; i < kEach; ++i) {
                reqs[t][i].id = t * kEach + i + 1;
                if (!q.submit(reqs[t][i], Clock::now() + seconds(60))) ++refused;
            }
        });
    for (std::thread& t : callers) t.join();
    EXPECT_EQ(refused.load(), 0);
    for (const std::vector<Request>& v : reqs)
        for (const Request& r : v) {
            EXPECT_EQ(r.answered, 1);
            EXPECT_EQ(r.answer, r.id * 10);
        }
    EXPECT_EQ(q.batched_requests(), static_cast<std::uint64_t>(kThreads * kEach));
    EXPECT_LE(server.max_running(), 2);
    for (const std::vector<int>& b : server.batches()) EXPECT_LE(b.size(), 4u);
}

}  // namespace
}  // namespace rcptguard
