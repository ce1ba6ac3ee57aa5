// log_queue: takes log lines off the request path. Callers hand a line to a
// bounded queue and go on; one writer thread passes what has gathered to a
// LogSink in batches (one sendmmsg(2) for many syslog lines).
//
// Guarantees:
// - No line is ever dropped by the queue: when it is full, the calling thread
//   writes the queued lines and then its own line itself, waiting for the
//   sink as a synchronous logger would.
// - Lines reach the sink in the order they were pushed (all writes to the
//   sink hold one lock and each takes everything queued at that moment), so
//   the lines of one thread, and of one connection whose callbacks move
//   between threads, keep their order.
// - stop() writes every queued line before it returns; afterwards, and
//   before start(), push() writes synchronously.
// - A line waits at most gather_wait (plus the sink's own time) before the
//   writer picks it up. An idle writer is woken by the line that finds the
//   queue empty; while lines keep coming it wakes on its own timer, once per
//   gather_wait, and goes idle again only after a window without a line. A
//   quarter-full queue wakes it early. So callers wake it once per burst, not
//   once per line or per batch.
// - Steady state allocates nothing: the two buffers keep their strings'
//   capacity from round to round.
//
// Thread-safety: push() from any thread; start() and stop() from one thread
// (the daemon's main thread). The sink is called by one thread at a time.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "util/log.hpp"

namespace rcptguard {

struct LogRecord {
    LogLevel level = LogLevel::Info;
    std::int64_t unix_seconds = 0;  // when the line was logged (syslog's timestamp)
    std::string text;
};

// Where lines finally go (syslog socket, stderr; a fake in tests). write() is
// called by one thread at a time, with the records in order; it may block.
class LogSink {
public:
    virtual ~LogSink() = default;
    virtual void write(const LogRecord* records, std::size_t count) noexcept = 0;
};

class LogQueue {
public:
    LogQueue(LogSink& sink, std::size_t capacity, std::chrono::milliseconds gather_wait);
    ~LogQueue();  // stop()
    LogQueue(const LogQueue&) = delete;
    LogQueue& operator=(const LogQueue&) = delete;

    // Starts the writer thread. Call once (again after stop() is allowed).
    void start();
    // Writes what is queued, ends the writer thread; later lines are written
    // synchronously.
    void stop();

    void push(LogLevel level, std::int64_t unix_seconds, std::string_view text);

    // Lines whose callers found the queue full and write (or are about to
    // write, waiting for the sink) themselves.
    std::uint64_t written_by_callers() const;
    // Times a caller found the writer idle and woke it.
    std::uint64_t idle_wakeups() const;

private:
    enum class WriterState { Absent, Idle, Gathering, Busy };
    struct Buffer {
        std::vector<LogRecord> records;
        std::size_t count = 0;
    };

    void run();
    // Writes out_ (under sink_mutex_) and empties it.
    void write_out();

    LogSink& sink_;
    const std::size_t capacity_;
    const std::chrono::milliseconds gather_wait_;
    // Lock order: sink_mutex_ before mutex_. The writer and a caller whose line
    // did not fit take sink_mutex_ for a whole write; push() takes only mutex_.
    std::mutex sink_mutex_;
    Buffer out_;  // guarded by sink_mutex_
    mutable std::mutex mutex_;
    std::condition_variable wake_;
    Buffer in_;  // guarded by mutex_
    WriterState state_ = WriterState::Absent;
    bool stopping_ = false;
    std::uint64_t written_by_callers_ = 0;
    std::uint64_t idle_wakeups_ = 0;
    std::thread writer_;
};

}  // namespace rcptguard
