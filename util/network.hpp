// network: IP addresses, CIDR lists (trusted_networks) and the key under which
// a client is remembered across connections (IPv6 aggregated to a prefix,
// default /64, because one host usually owns a whole /64).
// Thread-safety: value types; NetworkList is immutable after construction.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace rcptguard {

struct IpAddress {
    bool v6 = false;
    std::array<std::uint8_t, 16> bytes{};  // IPv4 uses the first 4

    // Parses "192.0.2.1", "2001:db8::1", "[2001:db8::1]", "IPv6:2001:db8::1";
    // an IPv4-mapped IPv6 address (::ffff:a.b.c.d) becomes IPv4.
    static std::optional<IpAddress> parse(std::string_view text);
    std::string to_string() const;
    // This address with all bits after prefix_bits cleared.
    IpAddress masked(unsigned prefix_bits) const;
};

struct Network {
    IpAddress base;
    unsigned prefix_bits = 0;
    bool contains(const IpAddress& a) const;
};

// Parses "192.0.2.0/24", "2001:db8::/32", "[::1]/128" or a bare address.
std::optional<Network> parse_network(std::string_view text);

// True when the two networks share an address: one contains the other (a
// client key "192.0.2.0/24" and the address 192.0.2.7, or the reverse).
bool networks_overlap(const Network& a, const Network& b);

class NetworkList {
public:
    // Returns "" or the first entry that is not a network.
    std::string add_all(const std::vector<std::string>& entries);
    bool contains(const IpAddress& a) const;
    bool empty() const { return networks_.empty(); }

private:
    std::vector<Network> networks_;
};

// Splits "ADDRESS:PORT" or "[IPV6]:PORT" (an IP address, a port 1-65535);
// returns "" or the problem.
std::string parse_host_port(const std::string& spec, std::string* host, int* port);

// A database server as written in "hosts": "db.example.com", "db:5433",
// "192.0.2.7:3306", "[2001:db8::7]:5432", or an absolute path (a unix socket;
// for PostgreSQL the directory holding it). Without a port, default_port.
struct ServerAddress {
    std::string host;  // name or IP address (no brackets), or the socket path
    int port = 0;      // 0 for a socket path
    bool socket = false;
    std::string to_string() const;  // as written in logs: host:port, [v6]:port or the path
};
// Returns "" or the problem.
std::string parse_server_address(const std::string& spec, int default_port, ServerAddress* out);

// "192.0.2.7" (IPv4 with ipv4_prefix 32), "2001:db8:1:2::/64" (IPv6 at
// ipv6_prefix); "" for anything that is not an IP address.
std::string client_key(std::string_view address, unsigned ipv4_prefix, unsigned ipv6_prefix);

}  // namespace rcptguard
