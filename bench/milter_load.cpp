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
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

#include "bench/load_run.hpp"
#include "bench/milter_client.hpp"

using namespace rcptguard::bench;
using Clock = std::chrono::steady_clock;

namespace {

struct Options {
    LoadOptions load;  // total: --rcpts
    std::string socket;
    int rcpts_per_message = 10;
    int messages_per_connection = 10;
};

void run_connection_worker(const Options& o, long my_rcpts, int id, LoadResult* out) {
    std::uint64_t rnd = random_seed(id);
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
                Recipient next = next_recipient(o.load, &rnd);
                bool valid = next.valid;
                std::string addr = "<" + next.address + ">";
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
                if (o.load.check && cls != (valid ? "accept" : "reject")) {
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
    const char* usage =
        "milter_load --socket SPEC [--connections N] [--rcpts N] [--rcpts-per-message N] "
        "[--messages-per-connection N] [--valid-ratio R] [--users N] [--domain D] [--check]";
    bool ok = parse_load_options(argc, argv, "milter_load", "--rcpts", usage, &o->load,
                                 [o](const std::string& option, const std::function<std::string()>& value) {
                                     if (option == "--socket")
                                         o->socket = value();
                                     else if (option == "--rcpts-per-message")
                                         o->rcpts_per_message = std::atoi(value().c_str());
                                     else if (option == "--messages-per-connection")
                                         o->messages_per_connection = std::atoi(value().c_str());
                                     else
                                         return false;
                                     return true;
                                 });
    if (ok && (o->socket.empty() || o->rcpts_per_message < 1 || o->messages_per_connection < 1)) {
        std::fprintf(stderr, "usage: %s\n", usage);
        return false;
    }
    return ok;
}

}  // namespace

int main(int argc, char** argv) {
    Options o;
    if (!parse(argc, argv, &o)) return 64;
    return run_load("milter_load", "rcpts", o.load.connections, o.load.total,
                    [&o](long share, int id, LoadResult* out) { run_connection_worker(o, share, id, out); });
}
