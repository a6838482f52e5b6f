// Kept apart from socket.cc: glibc's <netinet/tcp.h> has a shorter struct tcp_info without
// tcpi_bytes_acked, and the kernel's <linux/tcp.h> cannot be included beside it.
#include "net/tcp_progress.h"

#include <linux/tcp.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstddef>

namespace ringway::net {

uint64_t bytes_acked(int fd) {
  tcp_info info{};
  socklen_t len = sizeof info;
  if (::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len) != 0) return 0;
  // An older kernel fills less of the struct; the field is then simply absent.
  if (len < offsetof(tcp_info, tcpi_bytes_acked) + sizeof info.tcpi_bytes_acked) return 0;
  return info.tcpi_bytes_acked;
}

}  // namespace ringway::net
