// host:port parsing, IP literal handling and blocking DNS resolution.
// Parse errors are worded for config users: they end up in --check-config output.
#include "net/address.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace ringway::net {
namespace {

constexpr size_t kMaxHostLength = 253;  // RFC 1035 §2.3.4 limit for a full name.

std::string_view strip_brackets(std::string_view host) {
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    return host.substr(1, host.size() - 2);
  }
  return host;
}

bool parse_v4(std::string_view host, in_addr* out) {
  if (host.empty() || host.size() > INET_ADDRSTRLEN) return false;
  char buf[INET_ADDRSTRLEN + 1];
  memcpy(buf, host.data(), host.size());
  buf[host.size()] = '\0';
  return inet_pton(AF_INET, buf, out) == 1;
}

bool parse_v6(std::string_view host, in6_addr* out) {
  if (host.empty() || host.size() > INET6_ADDRSTRLEN) return false;
  char buf[INET6_ADDRSTRLEN + 1];
  memcpy(buf, host.data(), host.size());
  buf[host.size()] = '\0';
  return inet_pton(AF_INET6, buf, out) == 1;
}

bool is_host_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_' || c == '.';
}

// Returns: an error message, empty when `host` (unbracketed, non-IPv6) is acceptable.
std::string check_name_host(std::string_view host) {
  if (host.size() > kMaxHostLength) return "host name too long";
  bool numeric = true;
  for (char c : host) {
    if (!is_host_char(c)) return "invalid character in host '" + std::string(host) + "'";
    if (!(c == '.' || (c >= '0' && c <= '9'))) numeric = false;
  }
  if (host.front() == '.' || host.front() == '-') {
    return "invalid host '" + std::string(host) + "'";
  }
  // getaddrinfo would read "10.1" as 10.0.0.1 (inet_aton rules); insist on a dotted quad.
  in_addr v4;
  if (numeric && !parse_v4(host, &v4)) return "invalid IPv4 address '" + std::string(host) + "'";
  return {};
}

bool parse_port(std::string_view text, PortZero zero, uint16_t* out, std::string* error) {
  if (text.empty()) {
    *error = "missing port";
    return false;
  }
  unsigned value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') {
      *error = "invalid port '" + std::string(text) + "'";
      return false;
    }
    value = value * 10 + static_cast<unsigned>(c - '0');
    if (value > 65535) break;
  }
  const unsigned lowest = zero == PortZero::kAllow ? 0 : 1;
  if (value > 65535 || value < lowest) {
    *error = lowest == 0 ? "port out of range (0-65535)" : "port out of range (1-65535)";
    return false;
  }
  *out = static_cast<uint16_t>(value);
  return true;
}

int family_rank(int family) {
  return family == AF_INET ? 0 : 1;
}

}  // namespace

std::string HostPort::to_string() const {
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + std::to_string(port);
  return host + ":" + std::to_string(port);
}

bool parse_host_port(std::string_view text, HostPort* out, std::string* error) {
  return parse_host_port(text, out, error, PortZero::kReject);
}

bool parse_host_port(std::string_view text, HostPort* out, std::string* error, PortZero zero) {
  if (text.empty()) {
    *error = "empty address";
    return false;
  }
  if (text.find("://") != std::string_view::npos) {
    *error = "expected host:port, not a URL (drop the scheme)";
    return false;
  }
  std::string_view host;
  std::string_view port;
  if (text.front() == '[') {
    const size_t close = text.find(']');
    if (close == std::string_view::npos) {
      *error = "missing ']' after IPv6 address";
      return false;
    }
    host = text.substr(1, close - 1);
    const std::string_view rest = text.substr(close + 1);
    if (rest.empty()) {
      *error = "missing port";
      return false;
    }
    if (rest.front() != ':') {
      *error = "expected ':' after ']'";
      return false;
    }
    port = rest.substr(1);
    in6_addr v6;
    if (!parse_v6(host, &v6)) {
      *error = "invalid IPv6 address '" + std::string(host) + "'";
      return false;
    }
  } else {
    const size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) {
      *error = "missing port";
      return false;
    }
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (host.empty()) {
      *error = "missing host";
      return false;
    }
    if (host.find(':') != std::string_view::npos) {
      *error = "IPv6 address must be in brackets, e.g. [::1]:8080";
      return false;
    }
    if (std::string message = check_name_host(host); !message.empty()) {
      *error = std::move(message);
      return false;
    }
  }
  uint16_t port_number = 0;
  if (!parse_port(port, zero, &port_number, error)) return false;
  out->host = std::string(host);
  out->port = port_number;
  return true;
}

bool is_ip_literal(std::string_view host) {
  host = strip_brackets(host);
  in_addr v4;
  in6_addr v6;
  return parse_v4(host, &v4) || parse_v6(host, &v6);
}

bool is_wildcard_host(std::string_view host) {
  host = strip_brackets(host);
  in_addr v4;
  in6_addr v6;
  if (parse_v4(host, &v4)) return v4.s_addr == htonl(INADDR_ANY);
  if (parse_v6(host, &v6)) return IN6_IS_ADDR_UNSPECIFIED(&v6);
  return false;
}

std::string ResolvedAddress::to_string() const {
  char buf[INET6_ADDRSTRLEN];
  if (addr.ss_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(&addr);
    inet_ntop(AF_INET, &in->sin_addr, buf, sizeof(buf));
    return std::string(buf) + ":" + std::to_string(ntohs(in->sin_port));
  }
  if (addr.ss_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&addr);
    inet_ntop(AF_INET6, &in6->sin6_addr, buf, sizeof(buf));
    std::string text = "[";
    text.append(buf).append("]:").append(std::to_string(ntohs(in6->sin6_port)));
    return text;
  }
  return "(unknown address family)";
}

bool operator==(const ResolvedAddress& a, const ResolvedAddress& b) {
  return !(a < b) && !(b < a);
}

bool operator<(const ResolvedAddress& a, const ResolvedAddress& b) {
  if (a.addr.ss_family != b.addr.ss_family) {
    return family_rank(a.addr.ss_family) < family_rank(b.addr.ss_family);
  }
  if (a.addr.ss_family == AF_INET) {
    const auto* x = reinterpret_cast<const sockaddr_in*>(&a.addr);
    const auto* y = reinterpret_cast<const sockaddr_in*>(&b.addr);
    if (int c = memcmp(&x->sin_addr, &y->sin_addr, sizeof(x->sin_addr)); c != 0) return c < 0;
    return ntohs(x->sin_port) < ntohs(y->sin_port);
  }
  if (a.addr.ss_family == AF_INET6) {
    const auto* x = reinterpret_cast<const sockaddr_in6*>(&a.addr);
    const auto* y = reinterpret_cast<const sockaddr_in6*>(&b.addr);
    if (int c = memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr)); c != 0) return c < 0;
    if (x->sin6_port != y->sin6_port) return ntohs(x->sin6_port) < ntohs(y->sin6_port);
    return x->sin6_scope_id < y->sin6_scope_id;
  }
  return false;  // Unknown families compare equal: nothing here produces them.
}

bool to_sockaddr(const HostPort& hp, ResolvedAddress* out) {
  const std::string_view host = strip_brackets(hp.host);
  *out = ResolvedAddress{};
  in_addr v4;
  in6_addr v6;
  if (parse_v4(host, &v4)) {
    auto* in = reinterpret_cast<sockaddr_in*>(&out->addr);
    in->sin_family = AF_INET;
    in->sin_port = htons(hp.port);
    in->sin_addr = v4;
    out->len = sizeof(sockaddr_in);
    return true;
  }
  if (parse_v6(host, &v6)) {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&out->addr);
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(hp.port);
    in6->sin6_addr = v6;
    out->len = sizeof(sockaddr_in6);
    return true;
  }
  return false;
}

bool resolve(const HostPort& hp, std::vector<ResolvedAddress>* out, std::string* error) {
  out->clear();
  ResolvedAddress literal;
  if (to_sockaddr(hp, &literal)) {
    out->push_back(literal);
    return true;
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  // No AI_ADDRCONFIG: it hides "localhost" on hosts whose only interface is loopback.
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* result = nullptr;
  const std::string port = std::to_string(hp.port);
  const int rc = getaddrinfo(hp.host.c_str(), port.c_str(), &hints, &result);
  if (rc != 0) {
    const char* reason = rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc);
    *error = "cannot resolve '" + hp.host + "': " + reason;
    return false;
  }
  for (const addrinfo* ai = result; ai != nullptr; ai = ai->ai_next) {
    if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6) continue;
    if (ai->ai_addrlen > sizeof(sockaddr_storage)) continue;
    ResolvedAddress ra;
    memcpy(&ra.addr, ai->ai_addr, ai->ai_addrlen);
    ra.len = ai->ai_addrlen;
    out->push_back(ra);
  }
  freeaddrinfo(result);
  std::sort(out->begin(), out->end());
  out->erase(std::unique(out->begin(), out->end()), out->end());
  if (out->empty()) {
    *error = "cannot resolve '" + hp.host + "': no IPv4 or IPv6 address";
    return false;
  }
  return true;
}

}  // namespace ringway::net
