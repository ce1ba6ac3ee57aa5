// log: see log.hpp.
#include "util/log.hpp"

#include <sys/uio.h>
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
constexpr std::chrono::milliseconds kGatherWait{2};
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

// Writes all iovecs, continuing after a partial write (a pipe may take less).
void write_all(int fd, iovec* iov, int count) {
    while (count > 0) {
        ssize_t w = writev(fd, iov, count);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return;
        std::size_t skip = static_cast<std::size_t>(w);
        while (count > 0 && skip >= iov->iov_len) {
            skip -= iov->iov_len;
            ++iov;
            --count;
        }
        if (count > 0) {
            iov->iov_base = static_cast<char*>(iov->iov_base) + skip;
            iov->iov_len -= skip;
        }
    }
}

// The daemon's sink: the syslog socket, and stderr in the foreground.
class DaemonSink final : public LogSink {
public:
    explicit DaemonSink(const LogSettings& s) : settings_(s) {
        if (s.to_syslog) syslog_ = std::make_unique<SyslogSocket>(kDevLog, s.ident, s.facility, clock_);
    }

    void connect() {
        if (syslog_) syslog_->connect_now();
    }

    void write(const LogRecord* records, std::size_t count) noexcept override {
        if (syslog_) syslog_->send(records, count);
        if (settings_.to_stderr) write_stderr(records, count);
    }

private:
    void write_stderr(const LogRecord* records, std::size_t count) noexcept {
        // "ident[pid]: level: line\n", many lines per writev(2).
        constexpr std::size_t kPerWrite = 200;
        char prefix[256];
        int n = std::snprintf(prefix, sizeof prefix, "%s[%ld]: ", settings_.ident.c_str(), static_cast<long>(getpid()));
        std::size_t plen = n < 0 ? 0 : std::min(static_cast<std::size_t>(n), sizeof prefix - 1);
        static const char kColon[] = ": ";
        static const char kNewline[] = "\n";
        iovec iov[kPerWrite * 5];
        for (std::size_t done = 0; done < count;) {
            std::size_t k = std::min(kPerWrite, count - done);
            int v = 0;
            for (std::size_t i = 0; i < k; ++i) {
                const LogRecord& r = records[done + i];
                const char* level = level_name(r.level);
                iov[v++] = {prefix, plen};
                iov[v++] = {const_cast<char*>(level), std::strlen(level)};
                iov[v++] = {const_cast<char*>(kColon), 2};
                iov[v++] = {const_cast<char*>(r.text.data()), r.text.size()};
                iov[v++] = {const_cast<char*>(kNewline), 1};
            }
            write_all(STDERR_FILENO, iov, v);
            done += k;
        }
    }

    LogSettings settings_;
    SteadyClock clock_;
    std::unique_ptr<SyslogSocket> syslog_;
};

struct LogState {
    explicit LogState(const LogSettings& s) : sink(s), queue(sink, kQueueLines, kGatherWait) {}
    DaemonSink sink;
    LogQueue queue;
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
    state().queue.push(level, static_cast<std::int64_t>(std::time(nullptr)), line);
    if (!g_has_capture.load(std::memory_order_relaxed)) return;
    std::lock_guard<std::mutex> lock(g_capture_mutex);
    if (g_capture) g_capture(level, line);
}

}  // namespace

void configure_logging(const LogSettings& s) {
    if (g_state) g_state->queue.stop();
    g_state = new LogState(s);  // the previous one stays: a line may still be on its way
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
