// runtime: see runtime.hpp.
#include "core/runtime.hpp"

#include "backends/registry.hpp"

namespace rcptguard {

void Runtime::maintain() const {
    for (const auto& b : backends) b->maintain();
}

std::shared_ptr<const Runtime> build_runtime(const std::string& config_path, unsigned long serial,
                                             const RuntimeContext& context) {
    return build_runtime_from(load_config_file(config_path), serial, context);
}

std::shared_ptr<const Runtime> build_runtime_from(const ConfigFile& file, unsigned long serial,
                                                  const RuntimeContext& context) {
    static const SteadyClock steady_clock;
    auto settings = std::make_shared<Settings>(read_global_settings(file));
    auto rt = std::make_shared<Runtime>();
    rt->serial = serial;
    rt->source = file;
    rt->warnings = settings->warnings;
    BackendContext ctx{settings->recipients.address};
    for (const std::string& name : settings->backend_names) {
        for (const auto& sec : file.sections) {
            if (sec.type != "backend" || sec.name != name) continue;
            SectionReader r(file, sec);
            BuiltBackend b = make_backend(r, ctx);
            if (!b.backend) continue;  // its problems are recorded in the file
            if (!b.startup_warning.empty())
                rt->warnings.push_back("backend " + name + ": " + b.startup_warning +
                                       ": lookups answer temporary failure until this is fixed");
            rt->backends.push_back(std::move(b.backend));
        }
    }
    // Every problem of the whole file at once, in file order.
    file.throw_if_problems();
    auto chain = std::make_shared<BackendChain>(rt->backends, context.metrics);
    std::shared_ptr<const KeyLookup> lookup = chain;
    if (settings->cache.enabled) {
        rt->cache = std::make_shared<CachedLookup>(chain, settings->cache,
                                                   context.clock ? *context.clock : steady_clock, context.metrics);
        lookup = rt->cache;
    }
    rt->rules = std::make_shared<RecipientRules>(settings->recipients, lookup);
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
    return keys;
}

}  // namespace rcptguard
