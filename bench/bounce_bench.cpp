// bounce_bench: throughput and memory of the bounce stripper on a large
// bounce, against a plain scan of the same bytes (counting line ends).
// The bounce is generated in 64 KiB pieces as it is fed, so the process never
// holds it: the resident-memory growth measured is the stripper's own.
//
//   bounce_bench [MEGABYTES]      (default 50)
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "core/bounce/bounce_stripper.hpp"

using namespace rcptguard;
using Clock = std::chrono::steady_clock;

namespace {

const char kHead[] =
    "--BOUND\r\nContent-Type: text/plain\r\n\r\nThe message could not be delivered.\r\n"
    "--BOUND\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.test\r\n\r\n"
    "Final-Recipient: rfc822; gone@example.test\r\nAction: failed\r\nStatus: 5.1.1\r\n"
    "--BOUND\r\nContent-Type: message/rfc822\r\n\r\n"
    "From: someone@example.org\r\nTo: gone@example.test\r\nSubject: a large message\r\n"
    "Message-ID: <large@example.org>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\n";

// Calls feed(chunk) for every 64 KiB piece of a bounce of about `bytes`.
template <typename F>
std::size_t generate(std::size_t bytes, F&& feed) {
    std::string line = "0123456789 the returned original's body, line after line, of a message nobody wanted\r\n";
    std::string chunk;
    std::size_t total = 0;
    chunk = kHead;
    while (total + chunk.size() < bytes) {
        while (chunk.size() < 65536) chunk += line;
        total += chunk.size();
        if (!feed(chunk)) return total;
        chunk.clear();
    }
    chunk += "\r\n--BOUND--\r\n";
    total += chunk.size();
    feed(chunk);
    return total;
}

long max_rss_kib() {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

void feed_headers(BounceStripper& s) {
    s.header("From", " MAILER-DAEMON@example.test");
    s.header("Subject", " Undelivered Mail Returned to Sender");
    s.header("MIME-Version", " 1.0");
    s.header("Content-Type", " multipart/report; report-type=delivery-status; boundary=\"BOUND\"");
    s.end_of_headers();
}

}  // namespace

int main(int argc, char** argv) {
    std::size_t mb = argc > 1 ? static_cast<std::size_t>(std::atol(argv[1])) : 50;
    std::size_t bytes = mb << 20;

    // Warm up the allocator and page cache with a small run.
    {
        BounceStripper s;
        feed_headers(s);
        generate(1 << 20, [&](const std::string& c) {
            s.body(c);
            return true;
        });
        s.finish(true);
    }

    auto t0 = Clock::now();
    std::size_t lines = 0;
    std::size_t n = generate(bytes, [&](const std::string& c) {
        for (const char* p = c.data(); (p = static_cast<const char*>(std::memchr(p, '\n', c.data() + c.size() - p)));
             ++p)
            ++lines;
        return true;
    });
    double scan = seconds_since(t0);

    long rss0 = max_rss_kib();
    t0 = Clock::now();
    BounceStripper full;
    feed_headers(full);
    generate(bytes, [&](const std::string& c) {
        full.body(c);
        return true;
    });
    StripResult r = full.finish(true);
    double strip = seconds_since(t0);
    long rss1 = max_rss_kib();

    t0 = Clock::now();
    BounceStripper skip;
    feed_headers(skip);
    std::size_t fed = generate(bytes, [&](const std::string& c) { return skip.body(c); });
    StripResult rs = skip.finish(false);
    double skipped = seconds_since(t0);

    double total_mb = static_cast<double>(n) / (1 << 20);
    std::printf("bounce of %.1f MB (%zu lines): %s, %zu bytes removed, new body %zu bytes\n", total_mb, lines,
                r.action == StripResult::Action::Replace ? "stripped" : "UNCHANGED", r.bytes_removed,
                r.new_body.size());
    std::printf("plain scan (count line ends): %8.0f MB/s\n", total_mb / scan);
    std::printf("stripper, whole body fed:     %8.0f MB/s (%.2fx the plain scan's time)\n", total_mb / strip,
                strip / scan);
    std::printf("stripper, stops when done:    %.3f ms, fed %zu bytes (%s) - the milter answers SKIP then\n",
                skipped * 1000, fed, rs.action == StripResult::Action::Replace ? "stripped" : "UNCHANGED");
    std::printf("peak resident memory growth while stripping: %ld KiB\n", rss1 - rss0);
    return r.action == StripResult::Action::Replace ? 0 : 1;
}
