// log: see log.hpp.
#include "util/log.hpp"

#include <syslog.h>
#include <unistd.h>

#include <atomic>
#include <mutex>

#include "util/text.hpp"

namespace rcptguard {

namespace {

// Set before threads start; read afterwards.
LogSettings g_settings;
std::atomic<int> g_level{static_cast<int>(LogLevel::Info)};
std::function<void(LogLevel, const std::string&)> g_capture;
std::mutex g_capture_mutex;
std::atomic<bool> g_has_capture{false};

int syslog_priority(LogLevel l) {
    switch (l) {
        case LogLevel::Error: return LOG_ERR;
        case LogLevel::Warning: return LOG_WARNING;
        case LogLevel::Notice: return LOG_NOTICE;
        case LogLevel::Info: return LOG_INFO;
        case LogLevel::Debug: return LOG_DEBUG;
    }
    return LOG_INFO;
}

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

void write_line(LogLevel level, const std::string& line) {
    if (g_settings.to_syslog) syslog(syslog_priority(level), "%s", line.c_str());
    if (g_settings.to_stderr) {
        // One write(2) per line so lines from different threads never interleave.
        std::string out =
            g_settings.ident + "[" + std::to_string(getpid()) + "]: " + level_name(level) + ": " + line + "\n";
        ssize_t ignored = write(STDERR_FILENO, out.data(), out.size());
        (void)ignored;
    }
    if (!g_has_capture.load(std::memory_order_relaxed)) return;
    std::lock_guard<std::mutex> lock(g_capture_mutex);
    if (g_capture) g_capture(level, line);
}

}  // namespace

void configure_logging(const LogSettings& s) {
    g_settings = s;
    g_level.store(static_cast<int>(s.level));
    if (s.to_syslog) openlog(g_settings.ident.c_str(), LOG_PID | LOG_NDELAY, s.facility);
}

void set_log_level(LogLevel level) { g_level.store(static_cast<int>(level)); }

bool log_enabled(LogLevel level) { return static_cast<int>(level) <= g_level.load(); }

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
