// smtp_config: see smtp_config.hpp.
#include "backends/smtp/smtp_config.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "util/address.hpp"
#include "util/network.hpp"
#include "util/text.hpp"

namespace rcptguard {

namespace {

using std::chrono::milliseconds;

// Debian's bundle of public CAs; a downstream with a private or self-signed
// certificate needs its own file.
constexpr char kDefaultCaFile[] = "/etc/ssl/certs/ca-certificates.crt";

const KeySpec kKeys[] = {
    {"host", "", "the downstream server(s), ADDRESS[:PORT] (IPv6 in brackets), tried in order (required)"},
    {"helo_name", "", "the name sent with EHLO (empty: this machine's host name)"},
    {"probe_sender", "<>", "the MAIL FROM of the probes: <> or an address of ours"},
    {"starttls", "no", "no, opportunistic (when offered, unchecked) or require (certificate checked)"},
    {"tls_ca_file", kDefaultCaFile, "with starttls = require: the CA certificates the server's must chain to"},
    {"connect_timeout", "5s", "a new connection: connect, greeting, EHLO and STARTTLS together"},
    {"command_timeout", "10s", "the replies to one probe, and the wait for a free connection"},
    {"max_connections", "4", "connections per host at most (1 to 64)"},
    {"probes_per_connection", "100", "probes on one connection before it is closed"},
    {"refusals_per_connection", "8", "refused commands on one connection before it is closed (0: no limit)"},
    {"blind_check_interval", "1h", "how often, per domain, to check whether the server accepts everything (0: never)"},
    {"retry_after", "2s", "a host that failed is skipped this long (0: always tried)"},
    {"idle_timeout", "1m", "connections unused this long are closed"},
};

// RFC 5321 §4.1.1.1: a domain name or an address literal.
bool valid_helo_name(const std::string& s) {
    if (s.size() >= 3 && s.front() == '[' && s.back() == ']') return IpAddress::parse(s).has_value();
    if (s.empty() || s.size() > 253 || s.front() == '.' || s.front() == '-') return false;
    for (char c : s)
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-'))
            return false;
    return true;
}

std::string this_host_name() {
    char buf[256] = {0};
    if (gethostname(buf, sizeof buf - 1) == 0 && valid_helo_name(buf)) return buf;
    return "localhost";
}

BuiltBackend make(SectionReader& r, const BackendContext&) {
    SmtpOptions o = read_smtp_options(r);
    if (!r.ok()) return {};
    auto b = std::make_shared<SmtpBackend>(r.section().name, std::move(o));
    return {b, b->probe()};
}

}  // namespace

const BackendType kSmtpBackendType = {
    "smtp", "call-ahead: asks the downstream mail server itself (SMTP recipient verification)", kKeys, make};

bool parse_smtp_host(const std::string& spec, SmtpServer* out, std::string* problem) {
    std::string host;
    int port = 25;
    // A bare address first: "2001:db8::25" is an address, not host and port.
    if (IpAddress::parse(spec)) {
        host = spec;
    } else {
        std::string p = parse_host_port(spec, &host, &port);
        if (!p.empty()) {
            if (p.find("port") != std::string::npos && p.find("ADDRESS") == std::string::npos)
                *problem = "'" + printable(spec, 80) + "': " + p;
            else
                *problem = "'" + printable(spec, 80) +
                           "' is not ADDRESS[:PORT] with an IP address (IPv6 in brackets); host names are not "
                           "resolved, so that no lookup ever waits for DNS";
            return false;
        }
    }
    out->address = *IpAddress::parse(host);
    out->port = port;
    std::string a = out->address.to_string();
    out->name = (out->address.v6 ? "[" + a + "]" : a) + ":" + std::to_string(port);
    return true;
}

SmtpOptions read_smtp_options(SectionReader& r) {
    r.declare(kKeys);
    SmtpOptions o;

    std::vector<std::string> hosts = r.list("host");
    if (hosts.empty()) r.error("host", "required: one or more ADDRESS[:PORT], e.g. 192.0.2.25:25");
    for (const std::string& spec : hosts) {
        SmtpServer s;
        std::string problem;
        if (parse_smtp_host(spec, &s, &problem))
            o.hosts.push_back(s);
        else
            r.error("host", problem);
    }

    SmtpClientSettings& c = o.client;
    c.helo_name = r.string("helo_name");
    if (c.helo_name.empty())
        c.helo_name = this_host_name();
    else if (!valid_helo_name(c.helo_name))
        r.error("helo_name", "'" + printable(c.helo_name, 80) + "' is not a host name or an [address] literal");

    std::string sender = std::string(trim(r.string("probe_sender")));
    if (sender.empty() || sender == "<>") {
        o.probe_sender = "<>";
    } else {
        AddressOptions exact;
        exact.fold_local_case = false;
        exact.recipient_delimiters.clear();
        Address a = parse_address(sender, exact);
        if (a.status == AddressStatus::Mailbox)
            o.probe_sender = "<" + a.canonical() + ">";
        else
            r.error("probe_sender", "expected <> or an address, got '" + printable(sender, 80) + "'" +
                                        (a.error.empty() ? "" : ": " + a.error));
    }

    std::string starttls = r.choice("starttls", {"no", "opportunistic", "require"});
    c.starttls = starttls == "require"         ? StartTlsPolicy::Require
                 : starttls == "opportunistic" ? StartTlsPolicy::Opportunistic
                                               : StartTlsPolicy::No;
    std::string ca_file = r.string("tls_ca_file");
    c.connect_timeout = r.duration("connect_timeout", milliseconds(100), milliseconds(60'000));
    c.command_timeout = r.duration("command_timeout", milliseconds(100), milliseconds(300'000));
    o.max_connections = static_cast<int>(r.integer("max_connections", 1, 64));
    c.probes_per_connection = static_cast<int>(r.integer("probes_per_connection", 1, 100'000));
    c.refusals_per_connection = static_cast<int>(r.integer("refusals_per_connection", 0, 100'000));
    o.blind_check_interval = r.duration("blind_check_interval", milliseconds(0), milliseconds(30LL * 86'400'000));
    o.retry_after = r.duration("retry_after", milliseconds(0), milliseconds(300'000));
    o.idle_timeout = r.duration("idle_timeout", milliseconds(1000), milliseconds(86'400'000));
    r.finish();

    if (c.starttls != StartTlsPolicy::No) {
        bool verify = c.starttls == StartTlsPolicy::Require;
        std::string error;
        if (verify && access(ca_file.c_str(), R_OK) != 0) {
            r.error("tls_ca_file", "cannot read " + ca_file + ": " + std::strerror(errno));
        } else {
            c.tls = TlsClientContext::create(verify, ca_file, &error);
            if (!c.tls) r.error(verify ? "tls_ca_file" : "starttls", error);
        }
    }
    return o;
}

}  // namespace rcptguard
