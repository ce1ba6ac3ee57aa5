// log_queue: see log_queue.hpp.
#include "util/log_queue.hpp"

namespace rcptguard {

namespace {

constexpr std::size_t kKeepBytes = 2048;

void store(LogRecord* r, LogLevel level, std::int64_t unix_seconds, std::string_view text) {
    r->level = level;
    r->unix_seconds = unix_seconds;
    r->text.assign(text.data(), text.size());  // reuses the slot's capacity
}

}  // namespace

LogQueue::LogQueue(LogSink& sink, std::size_t capacity, std::chrono::milliseconds gather_wait)
    : sink_(sink), capacity_(capacity < 1 ? 1 : capacity), gather_wait_(gather_wait) {
    in_.records.resize(capacity_);
    out_.records.resize(capacity_ + 1);  // + the line of a caller that found the queue full
}

LogQueue::~LogQueue() { stop(); }

void LogQueue::start() {
    std::lock_guard<std::mutex> lock(mutex_);
    if (state_ != WriterState::Absent) return;
    stopping_ = false;
    state_ = WriterState::Idle;
    writer_ = std::thread([this] { run(); });
}

void LogQueue::stop() {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        if (state_ == WriterState::Absent) return;
        stopping_ = true;
    }
    wake_.notify_all();
    writer_.join();
    std::lock_guard<std::mutex> sink_lock(sink_mutex_);
    std::unique_lock<std::mutex> lock(mutex_);
    state_ = WriterState::Absent;
    // Lines pushed while the writer was finishing.
    std::swap(in_, out_);
    lock.unlock();
    write_out();
}

std::uint64_t LogQueue::written_by_callers() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return written_by_callers_;
}

std::uint64_t LogQueue::idle_wakeups() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return idle_wakeups_;
}

void LogQueue::push(LogLevel level, std::int64_t unix_seconds, std::string_view text) {
    {
        std::unique_lock<std::mutex> lock(mutex_);
        if (state_ != WriterState::Absent && in_.count < capacity_) {
            store(&in_.records[in_.count++], level, unix_seconds, text);
            bool wake = state_ == WriterState::Idle || (state_ == WriterState::Gathering && in_.count == capacity_ / 4);
            if (state_ == WriterState::Idle) {
                state_ = WriterState::Gathering;
                ++idle_wakeups_;
            }
            lock.unlock();
            if (wake) wake_.notify_one();
            return;
        }
        if (state_ != WriterState::Absent) ++written_by_callers_;
    }
    // Full (or no writer): write everything queued, then this line, in order.
    std::lock_guard<std::mutex> sink_lock(sink_mutex_);
    {
        std::lock_guard<std::mutex> lock(mutex_);
        std::swap(in_.records, out_.records);
        std::swap(in_.count, out_.count);
        if (in_.records.size() < capacity_) in_.records.resize(capacity_);
    }
    if (out_.records.size() <= out_.count) out_.records.resize(out_.count + 1);
    store(&out_.records[out_.count++], level, unix_seconds, text);
    write_out();
}

void LogQueue::write_out() {
    if (out_.count > 0) sink_.write(out_.records.data(), out_.count);
    // A rare long line (a configuration error listing) need not hold its
    // memory for the rest of the daemon's life.
    for (std::size_t i = 0; i < out_.count; ++i)
        if (out_.records[i].text.capacity() > kKeepBytes) std::string().swap(out_.records[i].text);
    out_.count = 0;
}

void LogQueue::run() {
    // While lines keep coming the writer wakes on its own timer, once per
    // gather_wait, and callers need not wake it; only after a window in which
    // nothing was logged does it sleep until a caller wakes it.
    bool busy = false;
    for (;;) {
        {
            std::unique_lock<std::mutex> lock(mutex_);
            while (!busy && in_.count == 0 && !stopping_) {
                state_ = WriterState::Idle;
                wake_.wait(lock);
            }
            if (in_.count == 0 && stopping_) return;
            // Let lines gather so one write carries them all.
            state_ = WriterState::Gathering;
            if (gather_wait_.count() > 0 && in_.count < capacity_ / 4)
                wake_.wait_for(lock, gather_wait_, [this] { return stopping_ || in_.count >= capacity_ / 4; });
            state_ = WriterState::Busy;
            busy = in_.count > 0;
            if (!busy) continue;
        }
        std::lock_guard<std::mutex> sink_lock(sink_mutex_);
        {
            std::lock_guard<std::mutex> lock(mutex_);
            std::swap(in_.records, out_.records);
            std::swap(in_.count, out_.count);
            if (in_.records.size() < capacity_) in_.records.resize(capacity_);
        }
        write_out();
    }
}

}  // namespace rcptguard
