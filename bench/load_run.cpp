// load_run: see load_run.hpp.
#include "bench/load_run.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>

namespace rcptguard::bench {

bool parse_load_options(int argc, char** argv, const char* program, const char* total_flag, const char* usage,
                        LoadOptions* o,
                        const std::function<bool(const std::string&, const std::function<std::string()>&)>& own) {
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        bool missing = false;
        std::function<std::string()> value = [&]() -> std::string {
            if (i + 1 >= argc) {
                missing = true;
                return "";
            }
            return argv[++i];
        };
        bool known = true;
        if (a == "--connections")
            o->connections = std::atoi(value().c_str());
        else if (a == total_flag)
            o->total = std::atol(value().c_str());
        else if (a == "--valid-ratio")
            o->valid_ratio = std::atof(value().c_str());
        else if (a == "--users")
            o->users = std::atol(value().c_str());
        else if (a == "--domain")
            o->domain = value();
        else if (a == "--check")
            o->check = true;
        else
            known = own(a, value);
        if (!known || missing) {
            std::fprintf(stderr, "%s: %s %s\nusage: %s\n", program, a.c_str(),
                         missing ? "needs a value" : "is not an option", usage);
            return false;
        }
    }
    if (o->connections < 1 || o->total < 1 || o->users < 1) {
        std::fprintf(stderr, "usage: %s\n", usage);
        return false;
    }
    return true;
}

Recipient next_recipient(const LoadOptions& o, std::uint64_t* state) {
    Recipient r;
    r.valid = static_cast<double>(next_random(state) % 1000000) / 1e6 < o.valid_ratio;
    long n = static_cast<long>(next_random(state) % static_cast<std::uint64_t>(o.users));
    r.address = std::string(r.valid ? "u" : "nx") + std::to_string(n) + "@" + o.domain;
    return r;
}

std::uint64_t next_random(std::uint64_t* s) {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

std::uint64_t random_seed(int connection) {
    return 0x9E3779B97F4A7C15ULL ^ static_cast<std::uint64_t>(connection + 1) * 0xD1B54A32D192ED03ULL;
}

int run_load(const char* program, const char* unit, int connections, long total,
             const std::function<void(long, int, LoadResult*)>& worker) {
    using Clock = std::chrono::steady_clock;
    std::vector<LoadResult> results(static_cast<std::size_t>(connections));
    std::vector<std::thread> threads;
    auto t0 = Clock::now();
    for (int i = 0; i < connections; ++i) {
        long share = total / connections + (i < total % connections ? 1 : 0);
        threads.emplace_back(worker, share, i, &results[static_cast<std::size_t>(i)]);
    }
    for (auto& t : threads) t.join();
    double secs = std::chrono::duration<double>(Clock::now() - t0).count();
    LoadResult all;
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
        "%s=%ld seconds=%.3f rate=%.0f p50_us=%u p99_us=%u p999_us=%u accept=%ld reject=%ld "
        "tempfail=%ld errors=%ld wrong=%ld\n",
        unit, n, secs, secs > 0 ? static_cast<double>(n) / secs : 0.0, pct(0.50), pct(0.99), pct(0.999), all.accept,
        all.reject, all.tempfail, all.errors, all.wrong);
    if (!all.first_error.empty()) std::fprintf(stderr, "%s: first problem: %s\n", program, all.first_error.c_str());
    return (all.errors > 0 || all.wrong > 0 || n != total) ? 1 : 0;
}

}  // namespace rcptguard::bench
