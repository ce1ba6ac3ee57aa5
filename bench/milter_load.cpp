// milter_load: a load generator that speaks the milter protocol as an MTA
// does - many concurrent connections, sessions of several messages with
// several recipients each, a configurable mix of valid and unknown recipients
// - and reports RCPT verdicts per second and latency percentiles.
//
//   milter_load --socket inet:8894@127.0.0.1 [--connections 20] [--rcpts 100000]
//               [--rcpts-per-message 10] [--messages-per-connection 10]
//               [--valid-ratio 0.5] [--users 1000] [--domain example.test] [--check]
//
// Valid recipients are u<i>@DOMAIN (i < users), unknown ones nx<i>@DOMAIN.
// With --check, every valid recipient must be accepted and every unknown one
// rejected; any other answer (or a protocol error) makes the exit status 1.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "bench/milter_client.hpp"

using namespace rcptguard::bench;
using Clock = std::chrono::steady_clock;

namespace {

struct Options {
    std::string socket;
    int connections = 20;
    long rcpts = 100000;
    int rcpts_per_message = 10;
    int messages_per_connection = 10;
    double valid_ratio = 0.5;
    long users = 1000;
    std::string domain = "example.test";
    bool check = false;
};

struct ThreadResult {
    std::vector<std::uint32_t> latency_us;
    long accept = 0, reject = 0, tempfail = 0, errors = 0, wrong = 0;
    std::string first_error;
};

std::uint64_t next_random(std::uint64_t* s) {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

void run_connection_worker(const Options& o, long my_rcpts, int id, ThreadResult* out) {
    std::uint64_t rnd = 0x9E3779B97F4A7C15ULL ^ static_cast<std::uint64_t>(id + 1) * 0xD1B54A32D192ED03ULL;
    out->latency_us.reserve(static_cast<std::size_t>(my_rcpts));
    long done = 0;
    while (done < my_rcpts) {
        MilterClient c;
        std::string err = c.connect_to(o.socket);
        if (err.empty()) err = c.negotiate();
        if (!err.empty()) {
            ++out->errors;
            if (out->first_error.empty()) out->first_error = err;
            if (out->errors > 100) return;
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
            continue;
        }
        char ip[32];
        std::snprintf(ip, sizeof ip, "192.0.2.%d", 1 + id % 250);
        if (!c.helo_connect("client" + std::to_string(id) + ".test", ip).ok()) {
            ++out->errors;
            continue;
        }
        for (int m = 0; m < o.messages_per_connection && done < my_rcpts; ++m) {
            if (!c.mail("<sender" + std::to_string(id) + "@client.test>").ok()) {
                ++out->errors;
                break;
            }
            for (int r = 0; r < o.rcpts_per_message && done < my_rcpts; ++r, ++done) {
                bool valid = static_cast<double>(next_random(&rnd) % 1000000) / 1e6 < o.valid_ratio;
                long n = static_cast<long>(next_random(&rnd) % static_cast<std::uint64_t>(o.users));
                std::string addr = "<" + std::string(valid ? "u" : "nx") + std::to_string(n) + "@" + o.domain + ">";
                auto t0 = Clock::now();
                MilterReply rep = c.rcpt(addr);
                auto us = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t0).count();
                out->latency_us.push_back(static_cast<std::uint32_t>(us));
                std::string cls = rep.smtp_class();
                if (cls == "accept")
                    ++out->accept;
                else if (cls == "reject")
                    ++out->reject;
                else if (cls == "tempfail")
                    ++out->tempfail;
                else {
                    ++out->errors;
                    if (out->first_error.empty()) out->first_error = "no reply to RCPT (connection lost)";
                    done = my_rcpts;
                    break;
                }
                if (o.check && cls != (valid ? "accept" : "reject")) {
                    if (out->wrong == 0)
                        out->first_error = addr + ": expected " + (valid ? "accept" : "reject") + ", got " + cls +
                                           (rep.text.empty() ? "" : " (" + rep.text + ")");
                    ++out->wrong;
                }
            }
            c.abort_message();
        }
        c.quit();
    }
}

bool parse(int argc, char** argv, Options* o) {
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        auto val = [&]() -> std::string {
            if (i + 1 >= argc) {
                std::fprintf(stderr, "milter_load: %s needs a value\n", a.c_str());
                std::exit(64);
            }
            return argv[++i];
        };
        if (a == "--socket")
            o->socket = val();
        else if (a == "--connections")
            o->connections = std::atoi(val().c_str());
        else if (a == "--rcpts")
            o->rcpts = std::atol(val().c_str());
        else if (a == "--rcpts-per-message")
            o->rcpts_per_message = std::atoi(val().c_str());
        else if (a == "--messages-per-connection")
            o->messages_per_connection = std::atoi(val().c_str());
        else if (a == "--valid-ratio")
            o->valid_ratio = std::atof(val().c_str());
        else if (a == "--users")
            o->users = std::atol(val().c_str());
        else if (a == "--domain")
            o->domain = val();
        else if (a == "--check")
            o->check = true;
        else {
            std::fprintf(stderr, "milter_load: unknown option %s\n", a.c_str());
            return false;
        }
    }
    if (o->socket.empty() || o->connections < 1 || o->rcpts < 1 || o->rcpts_per_message < 1 ||
        o->messages_per_connection < 1 || o->users < 1) {
        std::fprintf(stderr,
                     "usage: milter_load --socket SPEC [--connections N] [--rcpts N] "
                     "[--rcpts-per-message N] [--messages-per-connection N] [--valid-ratio R] "
                     "[--users N] [--domain D] [--check]\n");
        return false;
    }
    return true;
}

}  // namespace

int main(int argc, char** argv) {
    Options o;
    if (!parse(argc, argv, &o)) return 64;
    std::vector<ThreadResult> results(static_cast<std::size_t>(o.connections));
    std::vector<std::thread> threads;
    auto t0 = Clock::now();
    for (int i = 0; i < o.connections; ++i) {
        long share = o.rcpts / o.connections + (i < o.rcpts % o.connections ? 1 : 0);
        threads.emplace_back(run_connection_worker, std::cref(o), share, i, &results[static_cast<std::size_t>(i)]);
    }
    for (auto& t : threads) t.join();
    double secs = std::chrono::duration<double>(Clock::now() - t0).count();
    ThreadResult all;
    for (auto& r : results) {
        all.latency_us.insert(all.latency_us.end(), r.latency_us.begin(), r.latency_us.end());
        all.accept += r.accept;
        all.reject += r.reject;
        all.tempfail += r.tempfail;
        all.errors += r.errors;
        all.wrong += r.wrong;
        if (all.first_error.empty()) all.first_error = r.first_error;
    }
    std::sort(all.latency_us.begin(), all.latency_us.end());
    auto pct = [&](double p) -> unsigned {
        if (all.latency_us.empty()) return 0;
        std::size_t i = static_cast<std::size_t>(p * static_cast<double>(all.latency_us.size() - 1));
        return all.latency_us[i];
    };
    long n = static_cast<long>(all.latency_us.size());
    std::printf(
        "rcpts=%ld seconds=%.3f rate=%.0f p50_us=%u p99_us=%u p999_us=%u accept=%ld reject=%ld "
        "tempfail=%ld errors=%ld wrong=%ld\n",
        n, secs, secs > 0 ? static_cast<double>(n) / secs : 0.0, pct(0.50), pct(0.99), pct(0.999), all.accept,
        all.reject, all.tempfail, all.errors, all.wrong);
    if (!all.first_error.empty()) std::fprintf(stderr, "milter_load: first problem: %s\n", all.first_error.c_str());
    return (all.errors > 0 || all.wrong > 0 || n != o.rcpts) ? 1 : 0;
}
