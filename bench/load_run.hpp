// load_run: what bench/milter_load and bench/policy_load share - one thread
// per connection, each with its share of the requests, results merged into
// one summary line tools/bench parses:
//
//   <unit>=N seconds=S rate=R p50_us=.. p99_us=.. p999_us=.. accept=.. reject=..
//   tempfail=.. errors=.. wrong=..
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace rcptguard::bench {

// What one connection's thread saw.
struct LoadResult {
    std::vector<std::uint32_t> latency_us;
    long accept = 0, reject = 0, tempfail = 0, errors = 0, wrong = 0;
    std::string first_error;
};

// The options both generators take; `total` is --rcpts or --requests.
struct LoadOptions {
    int connections = 20;
    long total = 100000;
    double valid_ratio = 0.5;
    long users = 1000;
    std::string domain = "example.test";
    bool check = false;
};

// Parses argv: the shared options (--connections, TOTAL_FLAG, --valid-ratio,
// --users, --domain, --check) into *o, any other option through own(option,
// value), which returns false for one it does not know (value() takes the
// option's argument). On a problem prints it and usage on stderr, false.
bool parse_load_options(
    int argc, char** argv, const char* program, const char* total_flag, const char* usage, LoadOptions* o,
    const std::function<bool(const std::string& option, const std::function<std::string()>& value)>& own);

// xorshift64: the same recipient sequence for the same connection number.
std::uint64_t next_random(std::uint64_t* state);
std::uint64_t random_seed(int connection);

// The next recipient: u<i>@DOMAIN (valid, i < users) with probability
// valid_ratio, else nx<i>@DOMAIN.
struct Recipient {
    std::string address;
    bool valid = false;
};
Recipient next_recipient(const LoadOptions& o, std::uint64_t* state);

// Runs worker(share, connection, &result) on `connections` threads with
// `total` split evenly, prints the summary line on stdout (and the first
// problem on stderr, prefixed with program) and returns the exit status:
// 1 if there was an error, a wrong answer or fewer answers than `total`.
int run_load(const char* program, const char* unit, int connections, long total,
             const std::function<void(long share, int connection, LoadResult* out)>& worker);

}  // namespace rcptguard::bench
