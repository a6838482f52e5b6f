// Socket set-up helpers: listeners (SO_REUSEPORT per worker), outgoing connect sockets,
// and the options every Ringway TCP socket gets.
#pragma once

#include <sys/socket.h>

#include <string>

namespace ringway::net {

// Creates a non-blocking listening socket bound to addr. reuse_port lets every worker
// bind its own listener to the same address (the kernel balances connections).
// Returns: fd, or -1 with *error like "bind 0.0.0.0:8080: Address already in use".
int listen_tcp(const sockaddr* addr, socklen_t len, bool reuse_port, int backlog,
               std::string* error);

// Creates a non-blocking TCP socket for connecting to an address of `family`, with
// TCP_NODELAY set. Returns: fd or -errno.
int connect_socket(int family);

// Returns: the local port a socket is bound to (for tests that bind port 0).
int local_port(int fd);

// Returns: the peer's IP as text ("127.0.0.1", "::1"), empty if unknown; its port in *port.
std::string peer_ip(int fd, int* port = nullptr);

// Returns: true when bytes, an EOF or an error already wait to be read on the connected
// socket fd (a peek, nothing is consumed); false when a read would block.
bool has_unread_input(int fd);

// Closes fd if >= 0 (for fds never registered with a loop).
void close_fd(int fd);

}  // namespace ringway::net
