// host:port text as written in config, and its resolution to socket addresses.
// Parsing never touches DNS; resolve() is the only blocking call and runs off the hot path.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ringway::net {

// A host (name or IP literal, IPv6 stored without brackets) and a port.
struct HostPort {
  std::string host;
  uint16_t port = 0;
  // "host:port", or "[v6]:port" when host is an IPv6 literal.
  std::string to_string() const;
  friend bool operator==(const HostPort&, const HostPort&) = default;
};

// Whether port 0 ("any free port") is acceptable: fine for a listener, never for a server.
enum class PortZero { kReject, kAllow };

// Parses "host:port", "1.2.3.4:80", "[::1]:8080", "localhost:8001". Hostnames may use
// letters, digits, '-', '_' and '.'; an all-numeric host must be a dotted-quad IPv4.
// Returns: false and sets *error (e.g. "port out of range (1-65535)") on bad input.
bool parse_host_port(std::string_view text, HostPort* out, std::string* error);
bool parse_host_port(std::string_view text, HostPort* out, std::string* error, PortZero zero);

// Whether `host` is an IPv4 or IPv6 literal (brackets around IPv6 are tolerated).
bool is_ip_literal(std::string_view host);

// Whether `host` is the IPv4 or IPv6 wildcard ("0.0.0.0", "::").
bool is_wildcard_host(std::string_view host);

struct ResolvedAddress {
  sockaddr_storage addr{};
  socklen_t len = 0;
  // "127.0.0.1:8001" or "[::1]:8001".
  std::string to_string() const;
  int family() const { return addr.ss_family; }
  // Compares family, address, port (and IPv6 scope); padding bytes are ignored.
  friend bool operator==(const ResolvedAddress& a, const ResolvedAddress& b);
};

// Orders IPv4 before IPv6, then by address bytes, then by port: the order resolve() returns.
bool operator<(const ResolvedAddress& a, const ResolvedAddress& b);

// Blocking getaddrinfo (SOCK_STREAM): every A/AAAA record, deduplicated and sorted (see
// operator<) so that a DNS server rotating its answers does not look like a change.
// IP literals skip DNS. Returns: false and sets *error on failure or an empty answer.
bool resolve(const HostPort& hp, std::vector<ResolvedAddress>* out, std::string* error);

// Parses an IP literal + port without DNS. Returns: false when host is not a literal.
bool to_sockaddr(const HostPort& hp, ResolvedAddress* out);

}  // namespace ringway::net
