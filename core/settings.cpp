// settings: see settings.hpp.
#include "settings.hpp"

#include "policy_service.hpp"
#include "tarpit/network.hpp"
#include "text.hpp"

namespace rcptguard {

namespace {

bool all_digits(std::string_view s) {
    if (s.empty()) return false;
    for (char c : s)
        if (c < '0' || c > '9') return false;
    return true;
}

}  // namespace

std::string check_socket_spec(const std::string& spec) {
    auto colon = spec.find(':');
    if (colon == std::string::npos) return "expected unix:PATH, inet:PORT@HOST or inet6:PORT@HOST";
    std::string proto = spec.substr(0, colon);
    std::string rest = spec.substr(colon + 1);
    if (proto == "unix" || proto == "local") {
        if (rest.empty() || rest.front() != '/') return "unix socket path must be absolute";
        if (rest.size() > 100) return "unix socket path longer than 100 characters";
        return "";
    }
    if (proto == "inet" || proto == "inet6") {
        auto at = rest.find('@');
        std::string port = rest.substr(0, at);
        if (!all_digits(port) || port.size() > 5 || std::stoi(port) < 1 || std::stoi(port) > 65535)
            return "port must be a number from 1 to 65535 (inet:PORT@HOST)";
        if (at == std::string::npos || at + 1 >= rest.size())
            return "name the address to listen on (inet:PORT@127.0.0.1); listening on all "
                   "interfaces is never the default";
        return "";
    }
    return "unknown socket type '" + printable(proto, 20) + "' (expected unix, inet or inet6)";
}

Settings read_settings(const ConfigFile& file) {
    Settings s;
    s.config_path = file.path;
    SectionReader r(file, file.global);

    s.socket = r.string("socket", s.socket);
    if (std::string p = check_socket_spec(s.socket); !p.empty()) r.fail("socket", p);
    s.socket_mode = r.mode("socket_mode", s.socket_mode);
    s.socket_group = r.string("socket_group", "");
    s.user = r.string("user", "");
    s.group = r.string("group", "");
    s.pid_file = r.string("pid_file", s.pid_file);
    if (!s.pid_file.empty() && s.pid_file.front() != '/') r.fail("pid_file", "must be an absolute path");

    s.log.ident = r.string("syslog_name", "rcptguard");
    if (s.log.ident.empty() || s.log.ident.size() > 32) r.fail("syslog_name", "must be 1 to 32 characters");
    if (!parse_syslog_facility(r.string("syslog_facility", "mail"), &s.log.facility))
        r.fail("syslog_facility", "expected mail, daemon, user or local0 to local7");
    if (!parse_log_level(r.string("log_level", "info"), &s.log.level))
        r.fail("log_level", "expected error, warning, notice, info or debug");

    PolicySettings& p = s.policy;
    std::vector<std::string> domains = r.list("domains", {});
    if (domains.empty()) r.fail("domains", "missing: list the domains rcptguard answers for");
    if (std::string e = build_domain_set(domains, &p.domains); !e.empty()) r.fail("domains", e);

    s.backend_names = r.list("backends", {});
    if (s.backend_names.empty()) r.fail("backends", "missing: name at least one [backend NAME] section");
    for (std::size_t i = 0; i < s.backend_names.size(); ++i) {
        bool found = false;
        for (const auto& sec : file.sections)
            if (sec.type == "backend" && sec.name == s.backend_names[i]) found = true;
        if (!found) r.fail("backends", "no [backend " + printable(s.backend_names[i], 64) + "] section");
        for (std::size_t j = 0; j < i; ++j)
            if (s.backend_names[j] == s.backend_names[i])
                r.fail("backends", "'" + s.backend_names[i] + "' listed twice");
    }

    p.accept_on_backend_error = r.choice("on_backend_error", "tempfail", {"tempfail", "accept"}) == "accept";
    p.monitor = r.choice("mode", "enforce", {"enforce", "monitor"}) == "monitor";
    p.address.recipient_delimiters = r.string("recipient_delimiter", "+");
    for (char c : p.address.recipient_delimiters) {
        auto u = static_cast<unsigned char>(c);
        if (u <= 0x20 || u >= 0x7F || c == '@' || c == '"' || c == '.')
            r.fail("recipient_delimiter", "must be printable characters other than '@', '.' and '\"'");
    }
    p.address.fold_local_case =
        r.choice("local_part_case", "insensitive", {"insensitive", "sensitive"}) == "insensitive";
    p.reject_message = r.string("reject_message", p.reject_message);
    if (std::string e = check_reply_text(p.reject_message); !e.empty()) r.fail("reject_message", e);
    p.tempfail_message = r.string("tempfail_message", p.tempfail_message);
    if (std::string e = check_reply_text(p.tempfail_message); !e.empty()) r.fail("tempfail_message", e);

    s.tarpit = read_tarpit_settings(r);
    s.cache = read_cache_settings(r);
    s.bounces = read_bounce_settings(r);
    s.batv = read_batv_settings(r, p.address.recipient_delimiters);
    s.milter_recipient_checks = r.boolean("milter_recipient_checks", s.milter_recipient_checks);
    s.policy_socket = r.string("policy_socket", "");
    if (!s.policy_socket.empty())
        if (std::string e = check_policy_socket_spec(s.policy_socket); !e.empty()) r.fail("policy_socket", e);
    s.policy_workers = static_cast<unsigned>(r.integer("policy_workers", s.policy_workers, 1, 64));
    s.metrics_listen = r.string("metrics_listen", "");
    if (!s.metrics_listen.empty()) {
        std::string host;
        int port = 0;
        if (std::string e = parse_host_port(s.metrics_listen, &host, &port); !e.empty()) r.fail("metrics_listen", e);
    }

    r.finish();
    for (const auto& sec : file.sections) {
        bool used = false;
        for (const auto& n : s.backend_names) used = used || n == sec.name;
        if (!used)
            s.warnings.push_back(file.path + ":" + std::to_string(sec.line) + ": [backend " + sec.name +
                                 "] is defined but not listed in 'backends': it is not used");
    }
    return s;
}

}  // namespace rcptguard
