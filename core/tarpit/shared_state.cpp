// shared_state: see shared_state.hpp.
#include "core/tarpit/shared_state.hpp"

#include <unistd.h>

#include "util/secret_file.hpp"
#include "util/text.hpp"

namespace rcptguard {

namespace {

std::string system_host_name() {
    char buf[256] = {0};
    if (gethostname(buf, sizeof buf - 1) != 0 || buf[0] == '\0') return "localhost";
    return buf;
}

// A name for logs, Redis and "rcptguard-ctl bans": printable, no blanks.
bool valid_name(const std::string& s, std::size_t max) {
    if (s.empty() || s.size() > max) return false;
    for (char c : s) {
        auto u = static_cast<unsigned char>(c);
        if (u <= 0x20 || u >= 0x7F) return false;
    }
    return true;
}

}  // namespace

SharedStateSettings read_shared_state_settings(SectionReader& r, std::vector<std::string>* warnings) {
    using std::chrono::milliseconds;
    SharedStateSettings s;
    s.redis = r.choice("shared_state", "local", {"local", "redis"}) == "redis";
    s.server_specs = r.list("redis_servers", {});
    for (const auto& spec : s.server_specs) {
        RedisServer server;
        std::string problem = parse_redis_server(spec, &server);
        if (!problem.empty())
            r.error("redis_servers", problem);
        else
            s.servers.push_back(std::move(server));
    }
    if (s.redis && s.server_specs.empty())
        r.error("redis_servers", "missing: shared_state = redis needs at least one server (IP:PORT or unix:/path)");
    s.password_file = r.string("redis_password_file", "");
    s.user = r.string("redis_user", "");
    if (!s.user.empty() && !valid_name(s.user, 128)) r.error("redis_user", "must be printable, without blanks");
    if (!s.user.empty() && s.password_file.empty())
        r.error("redis_password_file", "required with redis_user (the password is never written in this file)");
    s.db = static_cast<int>(r.integer("redis_db", 0, 0, 1000000));
    s.key_prefix = r.string("redis_key_prefix", s.key_prefix);
    if (!valid_name(s.key_prefix, 64)) r.error("redis_key_prefix", "must be 1 to 64 printable characters, no blanks");
    s.timeout = r.duration("redis_timeout", s.timeout, milliseconds(10), milliseconds(2000));
    s.retry_after = r.duration("redis_retry_after", s.retry_after, milliseconds(1000), milliseconds(3600 * 1000));
    s.host_name = r.string("host_name", "");
    if (s.host_name.empty()) s.host_name = system_host_name();
    if (!valid_name(s.host_name, 255))
        r.error("host_name", "must be printable, without blanks, at most 255 characters");
    s.state_file = r.string("state_file", "");
    if (!s.state_file.empty() && s.state_file.front() != '/') r.error("state_file", "must be an absolute path");
    if (s.redis && !s.password_file.empty()) {
        SecretFile secret = read_secret_file(s.password_file);
        if (!secret.problem.empty()) r.error("redis_password_file", secret.problem);
        if (!secret.warning.empty()) warnings->push_back("redis_password_file " + secret.warning);
        s.password = std::move(secret.secret);
    }
    return s;
}

RedisOptions redis_options(const SharedStateSettings& s) {
    RedisOptions o;
    o.servers = s.servers;
    o.user = s.user;
    o.password = s.password;
    o.db = s.db;
    o.timeout = s.timeout;
    o.retry_after = s.retry_after;
    // Enough for every libmilter worker busy with a bad recipient at once
    // without queueing for a connection.
    o.pool_size = 16;
    return o;
}

ClientMemory build_client_memory(const SharedStateSettings& s, const ClientMemoryContext& ctx) {
    static const SteadyClock steady_clock;
    const Clock& clock = ctx.clock ? *ctx.clock : steady_clock;
    ClientMemory m;
    LocalStateOptions lo;
    lo.max_clients = ctx.max_clients;
    lo.host_name = s.host_name;
    lo.state_file = s.state_file;
    lo.unix_time = ctx.unix_time;
    m.local = std::make_unique<LocalClientState>(lo, clock);
    if (s.redis) {
        m.store = std::make_unique<RedisStore>(redis_options(s), s.key_prefix);
        SharedStateOptions so;
        so.host_name = s.host_name;
        so.retry_after = s.retry_after;
        so.cache_size = ctx.max_clients;
        m.shared = std::make_unique<SharedClientState>(*m.store, *m.local, clock, ctx.metrics, so);
    }
    return m;
}

}  // namespace rcptguard
