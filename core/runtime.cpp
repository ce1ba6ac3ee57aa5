// runtime: see runtime.hpp.
#include "core/runtime.hpp"

#include <algorithm>
#include <ctime>
#include <map>

#include "backends/registry.hpp"

namespace rcptguard {

void Runtime::maintain() const {
    for (const auto& b : backends) b->maintain();
}

std::shared_ptr<const Runtime> build_runtime(const std::string& config_path, unsigned long serial,
                                             const RuntimeContext& context) {
    return build_runtime_from(load_config_file(config_path), serial, context);
}

namespace {

// The line of a global key, for problems found while building.
int global_line(const ConfigFile& file, const std::string& key) {
    for (const auto& v : file.global.values)
        if (v.key == key) return v.line;
    return 0;
}

}  // namespace

std::shared_ptr<const Runtime> build_runtime_from(const ConfigFile& file, unsigned long serial,
                                                  const RuntimeContext& context) {
    static const SteadyClock steady_clock;
    auto settings = std::make_shared<Settings>(read_global_settings(file));
    const RecipientSettings& rs = settings->recipients;
    auto rt = std::make_shared<Runtime>();
    rt->serial = serial;
    rt->loaded_unix = static_cast<std::int64_t>(std::time(nullptr));
    rt->source = file;
    rt->warnings = settings->warnings;
    BackendContext ctx{rs.address};
    // Every backend named anywhere, built once, in the order first named.
    std::vector<std::string> names = settings->backend_names;
    auto add_names = [&names](const std::vector<std::string>& more) {
        for (const auto& n : more)
            if (std::find(names.begin(), names.end(), n) == names.end()) names.push_back(n);
    };
    add_names(rs.domain_backends);
    for (const auto& d : rs.per_domain) add_names(d.backend_names);
    std::map<std::string, BackendPtr> built;
    std::map<std::string, DomainSet> scopes;
    for (const std::string& name : names) {
        for (const auto& sec : file.sections) {
            if (sec.type != "backend" || sec.name != name) continue;
            SectionReader r(file, sec);
            BuiltBackend b = make_backend(r, ctx);
            if (!b.backend) continue;  // its problems are recorded in the file
            if (!b.startup_warning.empty())
                rt->warnings.push_back("backend " + name + ": " + b.startup_warning +
                                       ": lookups answer temporary failure until this is fixed");
            if (!b.query_problem.empty()) rt->query_problems.push_back("backend " + name + ": " + b.query_problem);
            if (std::find(rs.domain_backends.begin(), rs.domain_backends.end(), name) != rs.domain_backends.end() &&
                !b.backend->answers_domains())
                file.add_problem(global_line(file, "domains"), "domains",
                                 std::string(kBackendDomainsPrefix) + name + ": [backend " + name +
                                     "] has no domain_query (type " + b.backend->type() + ")");
            build_domain_set(b.domains, &scopes[name]);  // checked by the registry already
            built[name] = b.backend;
            rt->backends.push_back(std::move(b.backend));
        }
    }
    // Every problem of the whole file at once, in file order.
    file.throw_if_problems();
    rt->lookups_local =
        std::all_of(rt->backends.begin(), rt->backends.end(), [](const BackendPtr& b) { return b->answers_locally(); });
    const Clock& clock = context.clock ? *context.clock : steady_clock;
    // Every chain records into one set of per-backend counters, which
    // rcptguard-ctl status reads through all_backends: the daemon's metrics,
    // or (rcptguard -q, tests) the runtime's own.
    Metrics* metrics = context.metrics;
    if (!metrics) {
        rt->own_metrics = std::make_shared<Metrics>();
        metrics = rt->own_metrics.get();
    }
    auto chain_of = [&](const std::vector<std::string>& list) {
        std::vector<BackendPtr> members;
        std::vector<DomainSet> member_scopes;
        for (const auto& n : list) {
            members.push_back(built.at(n));
            member_scopes.push_back(scopes[n]);
        }
        return std::make_shared<BackendChain>(std::move(members), std::move(member_scopes), metrics);
    };
    auto cached = [&](std::shared_ptr<const BackendChain> chain, Metrics* counted) -> std::shared_ptr<const KeyLookup> {
        if (!settings->cache.enabled) return chain;
        return std::make_shared<CachedLookup>(std::move(chain), settings->cache, clock, counted);
    };
    RecipientLookups lookups;
    auto chain = chain_of(settings->backend_names);
    lookups.recipients = chain;
    // rcptguard-ctl status: every backend in use, whichever chain asks it
    // (the counters are the metrics' per-backend ones, shared by name).
    rt->all_backends = std::make_shared<BackendChain>(rt->backends, metrics);
    if (settings->cache.enabled) {
        rt->cache = std::make_shared<CachedLookup>(chain, settings->cache, clock, metrics);
        lookups.recipients = rt->cache;
    }
    if (!rs.domain_backends.empty()) {
        // "Is this domain ours?", cached like recipients (serve-stale for a
        // domain found before an outage). Its lookups count as the backend's
        // (a failure marks it failing in rcptguard-ctl status), its cache
        // hits not as the recipient cache's.
        std::vector<BackendPtr> views;
        for (const auto& n : rs.domain_backends) views.push_back(domain_query_view(built.at(n)));
        lookups.domains = cached(std::make_shared<BackendChain>(std::move(views), metrics), nullptr);
    }
    for (const auto& d : rs.per_domain)
        lookups.per_domain.push_back(d.backend_names.empty() ? nullptr : cached(chain_of(d.backend_names), metrics));
    rt->rules = std::make_shared<RecipientRules>(rs, std::move(lookups));
    rt->settings = std::move(settings);
    return rt;
}

std::vector<std::string> restart_only_changes(const Settings& a, const Settings& b) {
    std::vector<std::string> keys;
    if (a.socket != b.socket) keys.push_back("socket");
    if (a.socket_mode != b.socket_mode) keys.push_back("socket_mode");
    if (a.socket_group != b.socket_group) keys.push_back("socket_group");
    if (a.user != b.user) keys.push_back("user");
    if (a.group != b.group) keys.push_back("group");
    if (a.pid_file != b.pid_file) keys.push_back("pid_file");
    if (a.log.ident != b.log.ident) keys.push_back("syslog_name");
    if (a.log.facility != b.log.facility) keys.push_back("syslog_facility");
    if (a.tarpit.max_clients != b.tarpit.max_clients) keys.push_back("ban_table_size");
    if (a.metrics_listen != b.metrics_listen) keys.push_back("metrics_listen");
    if (a.policy_socket != b.policy_socket) keys.push_back("policy_socket");
    if (a.policy_workers != b.policy_workers) keys.push_back("policy_workers");
    if (a.control_socket != b.control_socket) keys.push_back("control_socket");
    const SharedStateSettings &x = a.shared, &y = b.shared;
    if (x.redis != y.redis) keys.push_back("shared_state");
    if (x.server_specs != y.server_specs) keys.push_back("redis_servers");
    if (x.password_file != y.password_file || x.password != y.password) keys.push_back("redis_password_file");
    if (x.user != y.user) keys.push_back("redis_user");
    if (x.db != y.db) keys.push_back("redis_db");
    if (x.key_prefix != y.key_prefix) keys.push_back("redis_key_prefix");
    if (x.timeout != y.timeout) keys.push_back("redis_timeout");
    if (x.retry_after != y.retry_after) keys.push_back("redis_retry_after");
    if (x.host_name != y.host_name) keys.push_back("host_name");
    if (x.state_file != y.state_file) keys.push_back("state_file");
    return keys;
}

}  // namespace rcptguard
