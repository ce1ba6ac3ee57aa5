// Unit tests for LogQueue (util/log_queue.hpp): lines keep their order per
// thread, none is lost when the queue is full or the sink stalls, stop()
// writes what is queued. The sink is a fake that can be held still; tests
// wait for states (counters), never for time.
#include "util/log_queue.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace rcptguard {
namespace {

using std::chrono::milliseconds;

// Records every line; while held, write() blocks until released.
class HeldSink final : public LogSink {
public:
    void write(const LogRecord* records, std::size_t count) noexcept override {
        std::unique_lock<std::mutex> lock(m_);
        ++writes_in_progress_;
        changed_.notify_all();
        changed_.wait(lock, [this] { return !held_; });
        for (std::size_t i = 0; i < count; ++i) lines_.push_back(records[i].text);
        levels_.push_back(records[0].level);
        --writes_in_progress_;
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
    void wait_until_writing() {
        std::unique_lock<std::mutex> lock(m_);
        changed_.wait(lock, [this] { return writes_in_progress_ > 0; });
    }
    std::vector<std::string> lines() const {
        std::lock_guard<std::mutex> lock(m_);
        return lines_;
    }
    std::size_t writes() const {
        std::lock_guard<std::mutex> lock(m_);
        return levels_.size();
    }

private:
    mutable std::mutex m_;
    std::condition_variable changed_;
    bool held_ = false;
    int writes_in_progress_ = 0;
    std::vector<std::string> lines_;
    std::vector<LogLevel> levels_;
};

// Lines are "T<thread> <n>"; checks that every thread's lines all arrived, in order.
void expect_complete_and_ordered(const std::vector<std::string>& lines, int threads, int per_thread) {
    std::map<int, int> next;
    for (const auto& l : lines) {
        int t = -1, n = -1;
        ASSERT_EQ(std::sscanf(l.c_str(), "T%d %d", &t, &n), 2) << l;
        EXPECT_EQ(n, next[t]) << "thread " << t << " out of order";
        next[t] = n + 1;
    }
    ASSERT_EQ(static_cast<int>(next.size()), threads);
    for (const auto& [t, n] : next) EXPECT_EQ(n, per_thread) << "thread " << t << " lost lines";
    EXPECT_EQ(lines.size(), static_cast<std::size_t>(threads * per_thread));
}

void push_lines(LogQueue& q, int thread, int count) {
    for (int i = 0; i < count; ++i) q.push(LogLevel::Info, 0, "T" + std::to_string(thread) + " " + std::to_string(i));
}

TEST(LogQueue, NotStarted_CallerWritesAtOnce) {
    HeldSink sink;
    LogQueue q(sink, 8, milliseconds(0));
    q.push(LogLevel::Warning, 0, "at once");
    EXPECT_EQ(sink.lines(), std::vector<std::string>{"at once"});
}

TEST(LogQueue, ManyThreads_EveryLineWrittenInOrderPerThread) {
    HeldSink sink;
    LogQueue q(sink, 64, milliseconds(1));
    q.start();
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) threads.emplace_back(push_lines, std::ref(q), t, 3000);
    for (auto& t : threads) t.join();
    q.stop();
    expect_complete_and_ordered(sink.lines(), 4, 3000);
}

TEST(LogQueue, WriterGathersLines_FewerWritesThanLines) {
    HeldSink sink;
    // The writer waits for the gathering time unless a quarter of the queue
    // fills; stop() ends the wait. Lines pushed meanwhile go out in one write.
    LogQueue q(sink, 1024, milliseconds(3'600'000));
    q.start();
    push_lines(q, 0, 100);
    q.stop();
    expect_complete_and_ordered(sink.lines(), 1, 100);
    EXPECT_EQ(sink.writes(), 1u);
}

void wait_for_lines(const HeldSink& sink, std::size_t n) {
    while (sink.lines().size() < n) std::this_thread::yield();
}

TEST(LogQueue, BusyWriter_WakesOnItsOwn_CallersWakeItOnlyFromIdle) {
    HeldSink sink;
    // Capacity 8: a quarter-full queue (2 lines) has the writer write at
    // once, so the test needs no timer; the gathering wait itself is an hour.
    LogQueue q(sink, 8, milliseconds(3'600'000));
    q.start();
    push_lines(q, 0, 2);  // wakes the idle writer, then the quarter-full wake
    wait_for_lines(sink, 2);
    EXPECT_EQ(q.idle_wakeups(), 1u);
    // The writer just wrote, so it is gathering on its own timer: the next
    // lines find it awake, and a caller need not wake it from idle again.
    q.push(LogLevel::Info, 0, "T0 2");
    q.push(LogLevel::Info, 0, "T0 3");
    wait_for_lines(sink, 4);
    EXPECT_EQ(q.idle_wakeups(), 1u);
    q.stop();
    expect_complete_and_ordered(sink.lines(), 1, 4);
}

TEST(LogQueue, Stop_WritesEveryQueuedLineFirst) {
    HeldSink sink;
    LogQueue q(sink, 1024, milliseconds(3'600'000));
    q.start();
    push_lines(q, 0, 5);
    EXPECT_TRUE(sink.lines().empty());  // still gathering
    q.stop();
    expect_complete_and_ordered(sink.lines(), 1, 5);
    // After stop the caller writes at once.
    q.push(LogLevel::Info, 0, "T0 5");
    expect_complete_and_ordered(sink.lines(), 1, 6);
}

TEST(LogQueue, SinkStalledQueueFull_CallerWritesItsOwnLineAfterTheQueued_NothingLost) {
    HeldSink sink;
    constexpr int kCapacity = 8;
    LogQueue q(sink, kCapacity, milliseconds(0));
    q.start();
    sink.hold();
    q.push(LogLevel::Info, 0, "T0 0");
    sink.wait_until_writing();  // the writer took line 0 and is stuck in the sink
    // The next kCapacity lines fill the queue; the one after finds it full and
    // waits for the sink itself.
    std::thread pusher([&] {
        for (int i = 1; i <= kCapacity + 5; ++i) q.push(LogLevel::Info, 0, "T0 " + std::to_string(i));
    });
    while (q.written_by_callers() == 0) std::this_thread::yield();
    sink.release();
    pusher.join();
    q.stop();
    expect_complete_and_ordered(sink.lines(), 1, kCapacity + 6);
    EXPECT_GE(q.written_by_callers(), 1u);
}

TEST(LogQueue, SinkStalledManyThreads_NoLineLostOrderKeptPerThread) {
    HeldSink sink;
    LogQueue q(sink, 16, milliseconds(0));
    q.start();
    sink.hold();
    q.push(LogLevel::Info, 0, "T9 0");
    sink.wait_until_writing();
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) threads.emplace_back(push_lines, std::ref(q), t, 500);
    while (q.written_by_callers() < 4) std::this_thread::yield();  // every thread is blocked on the sink
    sink.release();
    for (auto& t : threads) t.join();
    q.stop();
    std::vector<std::string> lines = sink.lines();
    ASSERT_EQ(lines.front(), "T9 0");
    lines.erase(lines.begin());
    expect_complete_and_ordered(lines, 4, 500);
}

TEST(LogQueue, RestartAfterStop_StillWritesEverything) {
    HeldSink sink;
    LogQueue q(sink, 4, milliseconds(0));
    q.start();
    push_lines(q, 0, 10);
    q.stop();
    q.start();
    for (int i = 10; i < 20; ++i) q.push(LogLevel::Info, 0, "T0 " + std::to_string(i));
    q.stop();
    expect_complete_and_ordered(sink.lines(), 1, 20);
}

}  // namespace
}  // namespace rcptguard
