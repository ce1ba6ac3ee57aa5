// call_ahead_bench: drives the call-ahead backend (backends/smtp/) directly,
// from several threads, against a real downstream SMTP server, and reports
// probes per second, latency percentiles and how many connections the
// downstream saw - the cost of one probe without an MTA or a milter in front.
//
//   call_ahead_bench --host 127.0.0.1:PORT [--probes 20000] [--threads 8]
//                    [--max-connections 4] [--probes-per-connection 100]
//                    [--refusals-per-connection 8] [--users 100000]
//                    [--domain example.test] [--check]
//
// Recipients are u<i>@DOMAIN with i random below users; the downstream is
// expected to accept exactly those whose i is even. With --check any other
// answer (or a temporary failure) makes the exit status 1.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "backends/smtp/smtp_backend.hpp"
#include "backends/smtp/smtp_config.hpp"

using namespace rcptguard;
using Clock = std::chrono::steady_clock;

namespace {

struct Options {
    std::string host;
    long probes = 20000;
    int threads = 8;
    int max_connections = 4;
    int probes_per_connection = 100;
    int refusals_per_connection = 8;
    long users = 100000;
    std::string domain = "example.test";
    bool check = false;
};

struct ThreadResult {
    std::vector<std::uint32_t> latency_us;
    long found = 0, not_found = 0, tempfail = 0, wrong = 0;
    std::string first_tempfail;
};

std::uint64_t next_random(std::uint64_t* s) {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

void worker(const SmtpBackend& b, const Options& o, long n, int id, ThreadResult* out) {
    std::uint64_t rnd = 0x9E3779B97F4A7C15ULL ^ static_cast<std::uint64_t>(id + 1) * 0xD1B54A32D192ED03ULL;
    out->latency_us.reserve(static_cast<std::size_t>(n));
    for (long k = 0; k < n; ++k) {
        long i = static_cast<long>(next_random(&rnd) % static_cast<std::uint64_t>(o.users));
        std::string key = "u" + std::to_string(i) + "@" + o.domain;
        auto t0 = Clock::now();
        LookupResult r = b.lookup(key);
        auto us = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t0).count();
        out->latency_us.push_back(static_cast<std::uint32_t>(us));
        LookupStatus want = i % 2 == 0 ? LookupStatus::Found : LookupStatus::NotFound;
        if (r.status == LookupStatus::Found) ++out->found;
        if (r.status == LookupStatus::NotFound) ++out->not_found;
        if (r.status == LookupStatus::TempFail) {
            ++out->tempfail;
            if (out->first_tempfail.empty()) out->first_tempfail = r.reason;
        }
        if (r.status != want) ++out->wrong;
    }
}

bool parse(int argc, char** argv, Options* o) {
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        auto value = [&]() -> const char* {
            if (i + 1 >= argc) {
                std::fprintf(stderr, "call_ahead_bench: %s needs a value\n", a.c_str());
                std::exit(2);
            }
            return argv[++i];
        };
        if (a == "--host")
            o->host = value();
        else if (a == "--probes")
            o->probes = std::atol(value());
        else if (a == "--threads")
            o->threads = std::atoi(value());
        else if (a == "--max-connections")
            o->max_connections = std::atoi(value());
        else if (a == "--probes-per-connection")
            o->probes_per_connection = std::atoi(value());
        else if (a == "--refusals-per-connection")
            o->refusals_per_connection = std::atoi(value());
        else if (a == "--users")
            o->users = std::atol(value());
        else if (a == "--domain")
            o->domain = value();
        else if (a == "--check")
            o->check = true;
        else {
            std::fprintf(stderr, "call_ahead_bench: unknown option %s\n", a.c_str());
            return false;
        }
    }
    return !o->host.empty() && o->probes > 0 && o->threads > 0 && o->users > 1;
}

}  // namespace

int main(int argc, char** argv) {
    Options o;
    if (!parse(argc, argv, &o)) {
        std::fprintf(stderr, "usage: call_ahead_bench --host ADDRESS:PORT [--probes N] [--threads N] ...\n");
        return 2;
    }
    SmtpOptions so;
    SmtpServer server;
    std::string problem;
    if (!parse_smtp_host(o.host, &server, &problem)) {
        std::fprintf(stderr, "call_ahead_bench: %s\n", problem.c_str());
        return 2;
    }
    so.hosts = {server};
    so.client.helo_name = "bench.example.test";
    so.client.probes_per_connection = o.probes_per_connection;
    so.client.refusals_per_connection = o.refusals_per_connection;
    so.max_connections = o.max_connections;
    so.blind_check_interval = std::chrono::hours(1);
    SmtpBackend backend("bench", so);

    std::vector<ThreadResult> results(static_cast<std::size_t>(o.threads));
    std::vector<std::thread> threads;
    auto t0 = Clock::now();
    for (int t = 0; t < o.threads; ++t) {
        long n = o.probes / o.threads + (t < o.probes % o.threads ? 1 : 0);
        threads.emplace_back(worker, std::cref(backend), std::cref(o), n, t, &results[static_cast<std::size_t>(t)]);
    }
    for (auto& th : threads) th.join();
    double seconds = std::chrono::duration<double>(Clock::now() - t0).count();

    std::vector<std::uint32_t> all;
    ThreadResult sum;
    for (auto& r : results) {
        all.insert(all.end(), r.latency_us.begin(), r.latency_us.end());
        sum.found += r.found;
        sum.not_found += r.not_found;
        sum.tempfail += r.tempfail;
        sum.wrong += r.wrong;
        if (sum.first_tempfail.empty()) sum.first_tempfail = r.first_tempfail;
    }
    std::sort(all.begin(), all.end());
    auto pct = [&](double p) { return all.empty() ? 0u : all[static_cast<std::size_t>(p * (all.size() - 1))]; };
    std::printf("rate=%.1f p50_us=%u p99_us=%u found=%ld not_found=%ld tempfail=%ld wrong=%ld seconds=%.2f\n",
                static_cast<double>(all.size()) / seconds, pct(0.5), pct(0.99), sum.found, sum.not_found, sum.tempfail,
                sum.wrong, seconds);
    if (!sum.first_tempfail.empty()) std::fprintf(stderr, "first temporary failure: %s\n", sum.first_tempfail.c_str());
    return o.check && sum.wrong > 0 ? 1 : 0;
}
