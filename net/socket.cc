// Socket set-up helpers shared by servers, the proxy, health checks and tests.
// Non-blocking, close-on-exec descriptors everywhere; errors come back as -errno or text.
#include "net/socket.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <unistd.h>

namespace ringway::net {
namespace {

std::string addr_text(const sockaddr* addr) {
  char ip[INET6_ADDRSTRLEN] = "?";
  int port = 0;
  if (addr->sa_family == AF_INET) {
    auto* in = reinterpret_cast<const sockaddr_in*>(addr);
    inet_ntop(AF_INET, &in->sin_addr, ip, sizeof ip);
    port = ntohs(in->sin_port);
    std::string out(ip);
    out += ':';
    out += std::to_string(port);
    return out;
  }
  if (addr->sa_family == AF_INET6) {
    auto* in6 = reinterpret_cast<const sockaddr_in6*>(addr);
    inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof ip);
    port = ntohs(in6->sin6_port);
    std::string out = "[";
    out += ip;
    out += "]:";
    out += std::to_string(port);
    return out;
  }
  return "?";
}

}  // namespace

int listen_tcp(const sockaddr* addr, socklen_t len, bool reuse_port, int backlog,
               std::string* error) {
  int fd = ::socket(addr->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    *error = "socket: " + std::string(strerror(errno));
    return -1;
  }
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (reuse_port) setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
  // Accepted sockets inherit TCP_NODELAY from the listener on Linux: one setsockopt here
  // instead of one per connection. Responses are written whole, so Nagle only adds delay.
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (addr->sa_family == AF_INET6) {
    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  }
  if (::bind(fd, addr, len) < 0) {
    *error = "bind " + addr_text(addr) + ": " + strerror(errno);
    ::close(fd);
    return -1;
  }
  if (::listen(fd, backlog) < 0) {
    *error = "listen " + addr_text(addr) + ": " + strerror(errno);
    ::close(fd);
    return -1;
  }
  return fd;
}

int connect_socket(int family) {
  int fd = ::socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -errno;
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

int local_port(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) < 0) return -1;
  if (ss.ss_family == AF_INET) return ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
  if (ss.ss_family == AF_INET6) return ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
  return -1;
}

std::string peer_ip(int fd, int* port) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (port) *port = 0;
  if (getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) < 0) return {};
  char ip[INET6_ADDRSTRLEN] = "";
  if (port && ss.ss_family == AF_INET) *port = ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
  if (port && ss.ss_family == AF_INET6) *port = ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
  if (ss.ss_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(&ss)->sin_addr, ip, sizeof ip);
  } else if (ss.ss_family == AF_INET6) {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&ss);
    if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
      inet_ntop(AF_INET, &in6->sin6_addr.s6_addr[12], ip, sizeof ip);
    } else {
      inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof ip);
    }
  }
  return ip;
}

bool has_unread_input(int fd) {
  char c;
  const ssize_t n = ::recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
  return n >= 0 || (errno != EAGAIN && errno != EWOULDBLOCK);
}

void close_fd(int fd) {
  if (fd >= 0) ::close(fd);
}

}  // namespace ringway::net
