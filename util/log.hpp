// log: one logging path for the daemon and tools: syslog (facility mail by
// default, as Postfix and Sendmail do) and, in the foreground, stderr too.
//
// Lines go through a bounded queue to one writer thread (log_queue.hpp), so
// a reply never waits for the syslog daemon; the daemon starts the writer
// with start_log_writer() once it has detached and stops it (writing every
// queued line) with stop_log_writer() before it exits. Without a writer
// (tools, tests, before start) every line is written at once by the caller.
// When the queue is full the caller writes the queued lines and its own: no
// line is ever dropped for lack of room. Lines keep the order they were
// logged in. The syslog socket is rcptguard's own (syslog_socket.hpp), with
// the bytes glibc's syslog() would send. The stderr copy (foreground, tools)
// is written by the caller at once, one write(2) per line
// "ident[pid]: level: line", as before.
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

// Before any thread starts (it replaces the sink and stops a running writer).
void configure_logging(const LogSettings& s);
// After the daemon forked (threads do not survive fork()).
void start_log_writer();
// Writes every queued line; later lines are written by their callers.
void stop_log_writer();
void set_log_level(LogLevel level);
bool log_enabled(LogLevel level);
void log_line(LogLevel level, const std::string& line);
// Start, stop and reload: logged at notice whatever log_level says, as
// Postfix logs "daemon started".
void log_event(const std::string& line);

// For tests: receives every line that passes the level filter (nullptr = off),
// in the logging thread, at once.
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
