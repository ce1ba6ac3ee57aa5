// settings: see settings.hpp.
#include "core/settings.hpp"

#include <algorithm>

#include "util/network.hpp"
#include "util/socket_spec.hpp"
#include "util/text.hpp"

namespace rcptguard {

namespace {

// The keys of a [domain NAME] section; each defaults to the global value.
const KeySpec kDomainKeys[] = {
    {"mode", "", "enforce or monitor for this domain (default: the global mode)"},
    {"backends", "", "the backends asked about this domain's recipients (default: the global backends)"},
    {"reject_message", "", "the words after \"Recipient address rejected:\" (default: the global one)"},
};

bool has_section(const ConfigFile& file, const std::string& type, const std::string& name) {
    for (const auto& sec : file.sections)
        if (sec.type == type && sec.name == name) return true;
    return false;
}

// Every name must be a [backend NAME] section, each listed once.
void check_backend_list(const ConfigFile& file, const std::vector<std::string>& names, SectionReader& r) {
    for (std::size_t i = 0; i < names.size(); ++i) {
        if (!has_section(file, "backend", names[i]))
            r.error("backends", "no [backend " + printable(names[i], 64) + "] section");
        for (std::size_t j = 0; j < i; ++j)
            if (names[j] == names[i]) r.error("backends", "'" + names[i] + "' listed twice");
    }
}

std::vector<DomainSettings> read_domain_sections(const ConfigFile& file, const Settings& s,
                                                 std::vector<std::string>* warnings) {
    const RecipientSettings& p = s.recipients;
    std::vector<DomainSettings> out;
    for (const auto& sec : file.sections) {
        if (sec.type != "domain") continue;
        SectionReader r(file, sec, kDomainKeys);
        DomainSettings d;
        d.domain = sec.name;
        d.monitor = r.choice("mode", p.monitor ? "monitor" : "enforce", {"enforce", "monitor"}) == "monitor";
        d.reject_message = r.string("reject_message", p.reject_message);
        if (std::string e = check_reply_text(d.reject_message); !e.empty()) r.error("reject_message", e);
        if (r.has("backends")) {
            d.backend_names = r.list("backends", {});
            if (d.backend_names.empty()) r.error("backends", "empty: leave the key out to use the global backends");
            check_backend_list(file, d.backend_names, r);
        }
        r.finish();
        if (!p.domains.contains(d.domain) && p.domain_backends.empty())
            warnings->push_back(file.path + ":" + std::to_string(sec.line) + ": [domain " + d.domain +
                                "]: " + d.domain + " is not in 'domains': the section never applies");
        out.push_back(std::move(d));
    }
    return out;
}

}  // namespace

Settings read_global_settings(const ConfigFile& file) {
    Settings s;
    s.config_path = file.path;
    SectionReader r(file, file.global);

    s.socket = r.string("socket", s.socket);
    if (std::string p = check_milter_socket_spec(s.socket); !p.empty()) r.error("socket", p);
    s.socket_mode = r.mode("socket_mode", s.socket_mode);
    s.socket_group = r.string("socket_group", "");
    s.user = r.string("user", "");
    s.group = r.string("group", "");
    s.pid_file = r.string("pid_file", s.pid_file);
    if (!s.pid_file.empty() && s.pid_file.front() != '/') r.error("pid_file", "must be an absolute path");

    s.log.ident = r.string("syslog_name", "rcptguard");
    if (s.log.ident.empty() || s.log.ident.size() > 32) r.error("syslog_name", "must be 1 to 32 characters");
    if (!parse_syslog_facility(r.string("syslog_facility", "mail"), &s.log.facility))
        r.error("syslog_facility", "expected mail, daemon, user or local0 to local7");
    if (!parse_log_level(r.string("log_level", "info"), &s.log.level))
        r.error("log_level", "expected error, warning, notice, info or debug");

    RecipientSettings& p = s.recipients;
    std::vector<std::string> domains = r.list("domains", {});
    if (domains.empty()) r.error("domains", "missing: list the domains rcptguard answers for");
    std::vector<std::string> names;
    for (const auto& d : domains) {
        if (d.rfind(kBackendDomainsPrefix, 0) != 0) {
            names.push_back(d);
            continue;
        }
        std::string backend = d.substr(std::string_view(kBackendDomainsPrefix).size());
        if (!has_section(file, "backend", backend))
            r.error("domains", "'" + printable(d, 80) + "': no [backend " + printable(backend, 64) +
                                   "] section (backend:NAME takes the domains from that backend's domain_query)");
        else if (std::find(p.domain_backends.begin(), p.domain_backends.end(), backend) != p.domain_backends.end())
            r.error("domains", "'" + d + "' listed twice");
        else
            p.domain_backends.push_back(backend);
    }
    if (std::string e = build_domain_set(names, &p.domains); !e.empty()) r.error("domains", e);

    s.backend_names = r.list("backends", {});
    if (s.backend_names.empty()) r.error("backends", "missing: name at least one [backend NAME] section");
    check_backend_list(file, s.backend_names, r);

    p.accept_on_backend_error = r.choice("on_backend_error", "tempfail", {"tempfail", "accept"}) == "accept";
    p.monitor = r.choice("mode", "enforce", {"enforce", "monitor"}) == "monitor";
    p.address.recipient_delimiters = r.string("recipient_delimiter", "+");
    for (char c : p.address.recipient_delimiters) {
        auto u = static_cast<unsigned char>(c);
        if (u <= 0x20 || u >= 0x7F || c == '@' || c == '"' || c == '.')
            r.error("recipient_delimiter", "must be printable characters other than '@', '.' and '\"'");
    }
    p.address.fold_local_case =
        r.choice("local_part_case", "insensitive", {"insensitive", "sensitive"}) == "insensitive";
    for (auto [key, text] : {std::pair<const char*, std::string*>{"reject_message", &p.reject_message},
                             {"tempfail_message", &p.tempfail_message}}) {
        *text = r.string(key, *text);
        // Older configurations spelled out what every reply now starts with.
        constexpr std::string_view kPrefix = "Recipient address rejected: ";
        if (text->compare(0, kPrefix.size(), kPrefix) == 0) {
            text->erase(0, kPrefix.size());
            s.warnings.push_back(file.path + ":" + std::to_string(r.line_of(key)) + ": " + key + ": '" +
                                 std::string(kPrefix) +
                                 "' is added to every reply by rcptguard (and by Postfix "
                                 "for the policy service): leave it out of " +
                                 key);
        }
        if (std::string e = check_reply_text(*text); !e.empty()) r.error(key, e);
    }

    s.tarpit = read_tarpit_settings(r);
    s.shared = read_shared_state_settings(r, &s.warnings);
    s.cache = read_cache_settings(r);
    s.bounces = read_bounce_settings(r);
    s.batv = read_batv_settings(r, p.address.recipient_delimiters);
    s.milter_recipient_checks = r.boolean("milter_recipient_checks", s.milter_recipient_checks);
    s.policy_socket = r.string("policy_socket", "");
    if (!s.policy_socket.empty())
        if (std::string e = check_policy_socket_spec(s.policy_socket); !e.empty()) r.error("policy_socket", e);
    s.policy_workers = static_cast<unsigned>(r.integer("policy_workers", s.policy_workers, 1, 64));
    s.control_socket = r.string("control_socket", "");
    if (!s.control_socket.empty() && s.control_socket.front() != '/')
        r.error("control_socket", "must be an absolute path (a unix socket)");
    if (s.control_socket.size() >= 108) r.error("control_socket", "the path is too long for a unix socket");
    s.metrics_listen = r.string("metrics_listen", "");
    if (!s.metrics_listen.empty()) {
        std::string host;
        int port = 0;
        if (std::string e = parse_host_port(s.metrics_listen, &host, &port); !e.empty()) r.error("metrics_listen", e);
    }

    r.finish();
    p.per_domain = read_domain_sections(file, s, &s.warnings);
    for (const auto& sec : file.sections) {
        if (sec.type != "backend") continue;
        std::vector<std::string> users = s.backend_names;
        users.insert(users.end(), p.domain_backends.begin(), p.domain_backends.end());
        for (const auto& d : p.per_domain) users.insert(users.end(), d.backend_names.begin(), d.backend_names.end());
        if (std::find(users.begin(), users.end(), sec.name) == users.end())
            s.warnings.push_back(file.path + ":" + std::to_string(sec.line) + ": [backend " + sec.name +
                                 "] is defined but not listed in 'backends' (nor in a [domain] section or as "
                                 "backend:" +
                                 sec.name + " in 'domains'): it is not used");
    }
    return s;
}

Settings read_settings(const ConfigFile& file) {
    Settings s = read_global_settings(file);
    file.throw_if_problems();
    return s;
}

}  // namespace rcptguard
