// Unit tests for SyslogSocket (util/syslog_socket.hpp): the bytes match what
// glibc's syslog() sends, a missing socket is retried only after the
// backoff, a restarted syslog daemon is reconnected at once. A datagram (or
// stream) socket in a temporary directory plays /dev/log; the clock is fake.
#include "util/syslog_socket.hpp"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <ctime>
#include <string>
#include <thread>
#include <vector>

#include "tests/fakes/fake_clock.hpp"
#include "tests/test_support.hpp"

namespace rcptguard {
namespace {

using testing::FakeClock;
using testing::TempDir;

constexpr int kLogMail = 2 << 3;

int bind_socket(const std::string& path, int type) {
    int fd = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::strncpy(a.sun_path, path.c_str(), sizeof a.sun_path - 1);
    unlink(path.c_str());
    EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0) << std::strerror(errno);
    if (type == SOCK_STREAM) listen(fd, 4);
    return fd;
}

std::string receive(int fd) {
    char buf[4096];
    ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    return n < 0 ? std::string() : std::string(buf, static_cast<std::size_t>(n));
}

LogRecord record(LogLevel level, std::int64_t when, std::string text) { return {level, when, std::move(text)}; }

// What glibc 2.36 puts before the message: "<PRI>%h %e %T ident[pid]: ".
std::string glibc_header(int pri, std::int64_t when) {
    std::time_t t = static_cast<std::time_t>(when);
    std::tm tm{};
    localtime_r(&t, &tm);
    char stamp[64];
    std::strftime(stamp, sizeof stamp, "%h %e %T", &tm);
    return "<" + std::to_string(pri) + ">" + stamp + " rcptguard[" + std::to_string(getpid()) + "]: ";
}

TEST(SyslogSocket, Datagrams_SameBytesAsGlibcSyslog) {
    TempDir dir;
    int server = bind_socket(dir.file("log"), SOCK_DGRAM);
    FakeClock clock;
    SyslogSocket s(dir.file("log"), "rcptguard", kLogMail, clock);
    const std::int64_t when = 1'764'547'200 + 3 * 86400 + 3723;  // a day with a one-digit date
    LogRecord lines[] = {
        record(LogLevel::Info, when, "NOQUEUE: rcpt: <x@example.test>: reject: 550 5.1.1 100%s"),
        record(LogLevel::Warning, when + 1, "second"),
        record(LogLevel::Error, when + 1, "third"),
        record(LogLevel::Notice, when + 2, "fourth"),
        record(LogLevel::Debug, when + 2, ""),
    };
    s.send(lines, 5);
    EXPECT_EQ(receive(server), glibc_header(22, when) + "NOQUEUE: rcpt: <x@example.test>: reject: 550 5.1.1 100%s");
    EXPECT_EQ(receive(server), glibc_header(20, when + 1) + "second");
    EXPECT_EQ(receive(server), glibc_header(19, when + 1) + "third");
    EXPECT_EQ(receive(server), glibc_header(21, when + 2) + "fourth");
    EXPECT_EQ(receive(server), glibc_header(23, when + 2));
    EXPECT_EQ(s.dropped(), 0u);
    close(server);
}

TEST(SyslogSocket, ManyLines_AllDeliveredInOrder) {
    TempDir dir;
    int server = bind_socket(dir.file("log"), SOCK_DGRAM);
    FakeClock clock;
    SyslogSocket s(dir.file("log"), "rcptguard", kLogMail, clock);
    std::vector<LogRecord> lines;
    for (int i = 0; i < 200; ++i) lines.push_back(record(LogLevel::Info, 0, "line " + std::to_string(i)));
    // More than one sendmmsg(2) batch, and more than a unix datagram queue
    // holds (net.unix.max_dgram_qlen, often 10): the sender blocks until the
    // reader catches up, and nothing is lost.
    std::vector<std::string> got;
    std::thread reader([&] {
        char buf[4096];
        while (got.size() < lines.size()) {
            ssize_t n = recv(server, buf, sizeof buf, 0);
            if (n < 0) return;
            got.emplace_back(buf, static_cast<std::size_t>(n));
        }
    });
    s.send(lines.data(), lines.size());
    reader.join();
    ASSERT_EQ(got.size(), lines.size());
    for (std::size_t i = 0; i < lines.size(); ++i) EXPECT_EQ(got[i], glibc_header(22, 0) + lines[i].text);
    EXPECT_EQ(s.dropped(), 0u);
    close(server);
}

TEST(SyslogSocket, Stream_EachMessageEndsWithNul) {
    TempDir dir;
    int server = bind_socket(dir.file("log"), SOCK_STREAM);
    FakeClock clock;
    SyslogSocket s(dir.file("log"), "rcptguard", kLogMail, clock);
    LogRecord lines[] = {record(LogLevel::Info, 0, "one"), record(LogLevel::Info, 0, "two")};
    s.send(lines, 2);
    int conn = accept(server, nullptr, nullptr);
    ASSERT_GE(conn, 0);
    std::string got;
    char buf[1024];
    while (got.size() < 2 * glibc_header(22, 0).size() + 8) {
        ssize_t n = recv(conn, buf, sizeof buf, 0);
        ASSERT_GT(n, 0);
        got.append(buf, static_cast<std::size_t>(n));
    }
    EXPECT_EQ(got,
              glibc_header(22, 0) + "one" + std::string(1, '\0') + glibc_header(22, 0) + "two" + std::string(1, '\0'));
    close(conn);
    close(server);
}

TEST(SyslogSocket, Missing_LinesDroppedAndRetriedOnlyAfterBackoff) {
    TempDir dir;
    FakeClock clock;
    SyslogSocket s(dir.file("log"), "rcptguard", kLogMail, clock);
    LogRecord line = record(LogLevel::Info, 0, "lost");
    s.send(&line, 1);
    EXPECT_EQ(s.connect_attempts(), 1u);
    EXPECT_EQ(s.dropped(), 1u);
    for (int i = 0; i < 10; ++i) s.send(&line, 1);  // no new attempt before the backoff
    EXPECT_EQ(s.connect_attempts(), 1u);
    EXPECT_EQ(s.dropped(), 11u);
    clock.advance(Millis(100));
    s.send(&line, 1);
    EXPECT_EQ(s.connect_attempts(), 2u);
    clock.advance(Millis(100));  // the backoff doubled: 200 ms now
    s.send(&line, 1);
    EXPECT_EQ(s.connect_attempts(), 2u);
    // The syslog daemon appears: after the backoff the line goes through.
    int server = bind_socket(dir.file("log"), SOCK_DGRAM);
    clock.advance(Millis(100));
    LogRecord found = record(LogLevel::Info, 0, "delivered");
    s.send(&found, 1);
    EXPECT_EQ(s.connect_attempts(), 3u);
    EXPECT_TRUE(s.connected());
    EXPECT_EQ(receive(server), glibc_header(22, 0) + "delivered");
    close(server);
}

TEST(SyslogSocket, BackoffCapped_AtTenSeconds) {
    TempDir dir;
    FakeClock clock;
    SyslogSocket s(dir.file("log"), "rcptguard", kLogMail, clock);
    LogRecord line = record(LogLevel::Info, 0, "x");
    for (int i = 0; i < 20; ++i) {
        s.send(&line, 1);
        clock.advance(Millis(10'000));
    }
    EXPECT_EQ(s.connect_attempts(), 20u);  // every 10 s, however long it has been missing
}

TEST(SyslogSocket, DaemonRestarted_ReconnectsAtOnceWithoutLosingTheLine) {
    TempDir dir;
    int server = bind_socket(dir.file("log"), SOCK_DGRAM);
    FakeClock clock;
    SyslogSocket s(dir.file("log"), "rcptguard", kLogMail, clock);
    LogRecord a = record(LogLevel::Info, 0, "before");
    s.send(&a, 1);
    EXPECT_EQ(receive(server), glibc_header(22, 0) + "before");
    close(server);
    server = bind_socket(dir.file("log"), SOCK_DGRAM);  // a new socket at the same path
    LogRecord b = record(LogLevel::Info, 0, "after");
    s.send(&b, 1);
    EXPECT_EQ(receive(server), glibc_header(22, 0) + "after");
    EXPECT_EQ(s.dropped(), 0u);
    close(server);
}

}  // namespace
}  // namespace rcptguard
