// network: see network.hpp.
#include "util/network.hpp"

#include <arpa/inet.h>

#include <cstring>

#include "util/text.hpp"

namespace rcptguard {

std::optional<IpAddress> IpAddress::parse(std::string_view text) {
    std::string s(text);
    if (s.size() >= 2 && s.front() == '[' && s.back() == ']') s = s.substr(1, s.size() - 2);
    if (s.compare(0, 5, "IPv6:") == 0 || s.compare(0, 5, "ipv6:") == 0) s = s.substr(5);
    if (s.empty() || s.size() > 64) return std::nullopt;
    IpAddress a;
    if (inet_pton(AF_INET, s.c_str(), a.bytes.data()) == 1) return a;
    if (inet_pton(AF_INET6, s.c_str(), a.bytes.data()) == 1) {
        static const std::uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        if (std::memcmp(a.bytes.data(), mapped, 12) == 0) {
            IpAddress v4;
            std::memcpy(v4.bytes.data(), a.bytes.data() + 12, 4);
            return v4;
        }
        a.v6 = true;
        return a;
    }
    return std::nullopt;
}

std::string IpAddress::to_string() const {
    char buf[INET6_ADDRSTRLEN] = {0};
    inet_ntop(v6 ? AF_INET6 : AF_INET, bytes.data(), buf, sizeof buf);
    return buf;
}

IpAddress IpAddress::masked(unsigned prefix_bits) const {
    IpAddress m = *this;
    unsigned total = v6 ? 128 : 32;
    if (prefix_bits >= total) return m;
    for (unsigned bit = prefix_bits; bit < total; ++bit)
        m.bytes[bit / 8] = static_cast<std::uint8_t>(m.bytes[bit / 8] & ~(0x80u >> (bit % 8)));
    return m;
}

bool Network::contains(const IpAddress& a) const {
    if (a.v6 != base.v6) return false;
    return a.masked(prefix_bits).bytes == base.bytes;
}

std::optional<Network> parse_network(std::string_view text) {
    auto slash = text.find('/');
    auto addr = IpAddress::parse(text.substr(0, slash));
    if (!addr) return std::nullopt;
    unsigned max = addr->v6 ? 128 : 32;
    unsigned bits = max;
    if (slash != std::string_view::npos) {
        std::string_view p = text.substr(slash + 1);
        if (p.empty() || p.size() > 3) return std::nullopt;
        bits = 0;
        for (char c : p) {
            if (c < '0' || c > '9') return std::nullopt;
            bits = bits * 10 + static_cast<unsigned>(c - '0');
        }
        if (bits > max) return std::nullopt;
    }
    return Network{addr->masked(bits), bits};
}

bool networks_overlap(const Network& a, const Network& b) {
    if (a.base.v6 != b.base.v6) return false;
    unsigned bits = a.prefix_bits < b.prefix_bits ? a.prefix_bits : b.prefix_bits;
    return a.base.masked(bits).bytes == b.base.masked(bits).bytes;
}

std::string NetworkList::add_all(const std::vector<std::string>& entries) {
    for (const auto& e : entries) {
        auto n = parse_network(e);
        if (!n) return e;
        networks_.push_back(*n);
    }
    return "";
}

bool NetworkList::contains(const IpAddress& a) const {
    for (const auto& n : networks_)
        if (n.contains(a)) return true;
    return false;
}

std::string parse_host_port(const std::string& spec, std::string* host, int* port) {
    std::string h, p;
    if (!spec.empty() && spec.front() == '[') {
        auto close = spec.find(']');
        if (close == std::string::npos || close + 1 >= spec.size() || spec[close + 1] != ':')
            return "expected [ADDRESS]:PORT";
        h = spec.substr(1, close - 1);
        p = spec.substr(close + 2);
    } else {
        auto colon = spec.rfind(':');
        if (colon == std::string::npos) return "expected ADDRESS:PORT, e.g. 127.0.0.1:9894";
        h = spec.substr(0, colon);
        p = spec.substr(colon + 1);
    }
    if (!IpAddress::parse(h)) return "'" + printable(h, 64) + "' is not an IP address";
    if (p.empty() || p.size() > 5 || p.find_first_not_of("0123456789") != std::string::npos || std::stoi(p) < 1 ||
        std::stoi(p) > 65535)
        return "port must be a number from 1 to 65535";
    *host = h;
    *port = std::stoi(p);
    return "";
}

std::string ServerAddress::to_string() const {
    if (socket) return host;
    if (host.find(':') != std::string::npos) return "[" + host + "]:" + std::to_string(port);
    return host + ":" + std::to_string(port);
}

std::string parse_server_address(const std::string& spec, int default_port, ServerAddress* out) {
    ServerAddress a;
    if (spec.empty()) return "an empty host";
    if (spec.front() == '/') {
        a.host = spec;
        a.socket = true;
        *out = a;
        return "";
    }
    std::string p;
    if (spec.front() == '[') {
        auto close = spec.find(']');
        if (close == std::string::npos) return "'" + printable(spec, 64) + "': expected [IPV6] or [IPV6]:PORT";
        a.host = spec.substr(1, close - 1);
        if (close + 1 < spec.size()) {
            if (spec[close + 1] != ':') return "'" + printable(spec, 64) + "': expected [IPV6]:PORT";
            p = spec.substr(close + 2);
        }
        auto ip = IpAddress::parse(a.host);
        if (!ip || !ip->v6) return "'" + printable(a.host, 64) + "' is not an IPv6 address";
    } else {
        auto colon = spec.find(':');
        if (colon != std::string::npos && spec.find(':', colon + 1) != std::string::npos)
            return "'" + printable(spec, 64) + "': write an IPv6 address in brackets, e.g. [2001:db8::1]:5432";
        a.host = spec.substr(0, colon);
        if (colon != std::string::npos) p = spec.substr(colon + 1);
        if (a.host.empty() || a.host.size() > 253) return "'" + printable(spec, 64) + "' has no host name";
        for (char c : a.host)
            if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
                  c == '_'))
                return "'" + printable(a.host, 64) + "' is not a host name or IP address";
    }
    a.port = default_port;
    if (!p.empty() || (spec.back() == ':')) {
        if (p.empty() || p.size() > 5 || p.find_first_not_of("0123456789") != std::string::npos || std::stoi(p) < 1 ||
            std::stoi(p) > 65535)
            return "'" + printable(spec, 64) + "': the port must be a number from 1 to 65535";
        a.port = std::stoi(p);
    }
    *out = a;
    return "";
}

std::string client_key(std::string_view address, unsigned ipv4_prefix, unsigned ipv6_prefix) {
    auto a = IpAddress::parse(address);
    if (!a) return "";
    unsigned bits = a->v6 ? ipv6_prefix : ipv4_prefix;
    unsigned max = a->v6 ? 128 : 32;
    std::string s = a->masked(bits).to_string();
    if (bits < max) s += "/" + std::to_string(bits);
    return s;
}

}  // namespace rcptguard
