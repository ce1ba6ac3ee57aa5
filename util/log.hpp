// log: one logging path for the daemon and tools: syslog (facility mail by
// default, as Postfix and Sendmail do) and, in the foreground, stderr too.
//
// Line format (doc/STYLE.md): "queue-id: component: object: what happened: cause".
// The queue id is "NOQUEUE" until the MTA has assigned one (Postfix does so
// only after the first accepted recipient).
// Thread-safety: log calls may come from any thread; configure_logging() and
// set_log_capture() are called before threads start (or in tests).
// Never pass secrets to these functions.
#pragma once

#include <functional>
#include <string>

namespace rcptguard {

enum class LogLevel { Error = 0, Warning = 1, Notice = 2, Info = 3, Debug = 4 };

struct LogSettings {
    std::string ident = "rcptguard";
    int facility = 2 << 3;  // LOG_MAIL
    bool to_syslog = true;
    bool to_stderr = false;
    LogLevel level = LogLevel::Info;
};

void configure_logging(const LogSettings& s);
void set_log_level(LogLevel level);
bool log_enabled(LogLevel level);
void log_line(LogLevel level, const std::string& line);
// Start, stop and reload: logged at notice whatever log_level says, as
// Postfix logs "daemon started".
void log_event(const std::string& line);

// For tests: receives every line that passes the level filter (nullptr = off).
void set_log_capture(std::function<void(LogLevel, const std::string&)> capture);

// Parses error|warning|notice|info|debug.
bool parse_log_level(const std::string& s, LogLevel* out);
// Parses a syslog facility name: mail, daemon, local0..local7, user.
bool parse_syslog_facility(const std::string& s, int* out);

inline void log_error(const std::string& l) { log_line(LogLevel::Error, l); }
inline void log_warning(const std::string& l) { log_line(LogLevel::Warning, l); }
inline void log_notice(const std::string& l) { log_line(LogLevel::Notice, l); }
inline void log_info(const std::string& l) { log_line(LogLevel::Info, l); }
inline void log_debug(const std::string& l) {
    if (log_enabled(LogLevel::Debug)) log_line(LogLevel::Debug, l);
}

}  // namespace rcptguard
