// log: see log.hpp.
#include "util/log.hpp"

#include <syslog.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <memory>
#include <mutex>

#include "util/clock.hpp"
#include "util/log_queue.hpp"
#include "util/syslog_socket.hpp"
#include "util/text.hpp"

namespace rcptguard {

namespace {

// Enough for bursts of refusals while the writer sleeps; each slot keeps its
// string's capacity, so this bounds the queue's memory to a few hundred KiB.
constexpr std::size_t kQueueLines = 1024;
// How long the writer lets lines gather before one sendmmsg(2) takes them all.
// Every wake-up of the writer is a context switch, and on a virtual machine a
// switch costs more than the write itself: under a flood of refusals a 10 ms
// batch (tens of lines) made the writer's share per line small (measured with
// perf stat through Postfix, BENCHMARKS.md). A line reaches syslog at most
// this much later; its timestamp is the time it was logged.
constexpr std::chrono::milliseconds kGatherWait{10};
constexpr char kDevLog[] = "/dev/log";

const char* level_name(LogLevel l) {
    switch (l) {
        case LogLevel::Error: return "error";
        case LogLevel::Warning: return "warning";
        case LogLevel::Notice: return "notice";
        case LogLevel::Info: return "info";
        case LogLevel::Debug: return "debug";
    }
    return "info";
}

// The daemon's sink: the syslog socket.
class DaemonSink final : public LogSink {
public:
    explicit DaemonSink(const LogSettings& s) {
        if (s.to_syslog) syslog_ = std::make_unique<SyslogSocket>(kDevLog, s.ident, s.facility, clock_);
    }

    void connect() {
        if (syslog_) syslog_->connect_now();
    }

    void write(const LogRecord* records, std::size_t count) noexcept override {
        if (syslog_) syslog_->send(records, count);
    }

private:
    SteadyClock clock_;
    std::unique_ptr<SyslogSocket> syslog_;
};

// In the foreground (rcptguard -f, the tools) the stderr copy is written at
// once by the caller, as before: whoever watches the terminal (or a test
// reading the file) sees a line before the reply it explains goes out.
void write_stderr(const LogSettings& s, LogLevel level, const std::string& line) {
    // One write(2) per line so lines from different threads never interleave.
    std::string out;
    out.reserve(s.ident.size() + line.size() + 32);
    out += s.ident;
    out += '[';
    out += std::to_string(getpid());
    out += "]: ";
    out += level_name(level);
    out += ": ";
    out += line;
    out += '\n';
    ssize_t ignored = write(STDERR_FILENO, out.data(), out.size());
    (void)ignored;
}

struct LogState {
    explicit LogState(const LogSettings& s) : settings(s), sink(s), queue(sink, kQueueLines, kGatherWait) {}
    LogSettings settings;
    DaemonSink sink;
    LogQueue queue;
    // The state this one replaced. Kept, and kept reachable, because a
    // thread may still be writing through it.
    LogState* previous = nullptr;
};

// Replaced only by configure_logging(), before threads start; never freed,
// because threads may log until the process ends.
LogState* g_state = nullptr;
std::atomic<int> g_level{static_cast<int>(LogLevel::Info)};
std::function<void(LogLevel, const std::string&)> g_capture;
std::mutex g_capture_mutex;
std::atomic<bool> g_has_capture{false};

LogState& state() {
    if (!g_state) g_state = new LogState(LogSettings{});
    return *g_state;
}

void write_line(LogLevel level, const std::string& line) {
    LogState& st = state();
    if (st.settings.to_stderr) write_stderr(st.settings, level, line);
    if (st.settings.to_syslog) st.queue.push(level, static_cast<std::int64_t>(std::time(nullptr)), line);
    if (!g_has_capture.load(std::memory_order_relaxed)) return;
    std::lock_guard<std::mutex> lock(g_capture_mutex);
    if (g_capture) g_capture(level, line);
}

}  // namespace

void configure_logging(const LogSettings& s) {
    if (g_state) g_state->queue.stop();
    auto* next = new LogState(s);
    next->previous = g_state;  // the previous one stays: a line may still be on its way
    g_state = next;
    g_level.store(static_cast<int>(s.level));
    if (s.to_syslog) {
        g_state->sink.connect();
        // libmilter's own messages still go through glibc's syslog().
        openlog(s.ident.c_str(), LOG_PID | LOG_NDELAY, s.facility);
    }
}

void start_log_writer() { state().queue.start(); }

void stop_log_writer() { state().queue.stop(); }

void set_log_level(LogLevel level) { g_level.store(static_cast<int>(level)); }

bool log_enabled(LogLevel level) { return static_cast<int>(level) <= g_level.load(std::memory_order_relaxed); }

void log_event(const std::string& line) { write_line(LogLevel::Notice, line); }

void log_line(LogLevel level, const std::string& line) {
    if (!log_enabled(level)) return;
    write_line(level, line);
}

void set_log_capture(std::function<void(LogLevel, const std::string&)> capture) {
    std::lock_guard<std::mutex> lock(g_capture_mutex);
    g_capture = std::move(capture);
    g_has_capture.store(static_cast<bool>(g_capture));
}

bool parse_log_level(const std::string& s, LogLevel* out) {
    std::string l = to_lower_ascii(s);
    if (l == "error")
        *out = LogLevel::Error;
    else if (l == "warning")
        *out = LogLevel::Warning;
    else if (l == "notice")
        *out = LogLevel::Notice;
    else if (l == "info")
        *out = LogLevel::Info;
    else if (l == "debug")
        *out = LogLevel::Debug;
    else
        return false;
    return true;
}

bool parse_syslog_facility(const std::string& s, int* out) {
    std::string l = to_lower_ascii(s);
    if (l == "mail")
        *out = LOG_MAIL;
    else if (l == "daemon")
        *out = LOG_DAEMON;
    else if (l == "user")
        *out = LOG_USER;
    else if (l.size() == 6 && l.compare(0, 5, "local") == 0 && l[5] >= '0' && l[5] <= '7')
        *out = LOG_LOCAL0 + ((l[5] - '0') << 3);
    else
        return false;
    return true;
}

}  // namespace rcptguard
