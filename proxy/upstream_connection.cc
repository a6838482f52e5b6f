// Upstream connection lifecycle: connect, forward events to the active request, and watch
// for the server closing it while it idles in the pool.
#include "proxy/upstream_connection.h"

#include <algorithm>

#include "net/socket.h"
#include "proxy/balancer.h"

namespace ringway::proxy {

UpstreamConnection::UpstreamConnection(net::Loop& loop, std::shared_ptr<ServerRuntime> server)
    : loop_(loop),
      server_(std::move(server)),
      // Response heads are bounded like request heads; bodies are streamed, never limited.
      parser_(net::HttpParser::Mode::kResponse, net::HttpLimits{65536, 1000, 0}) {}

UpstreamConnection::~UpstreamConnection() {
  if (sock_) loop_.close(sock_);
}

bool UpstreamConnection::connect(int* err) {
  int fd = net::connect_socket(server_->address.addr.family());
  if (fd < 0) {
    *err = fd;
    return false;
  }
  sock_ = loop_.add(fd, this);
  loop_.connect(sock_, reinterpret_cast<const sockaddr*>(&server_->address.addr.addr),
                server_->address.addr.len);
  return true;
}

void UpstreamConnection::attach(UpstreamEvents* user) { user_ = user; }

void UpstreamConnection::park() {
  user_ = nullptr;
  parser_.reset();
}

void UpstreamConnection::on_connected(int res) {
  if (user_) user_->on_upstream_connected(res);
}

void UpstreamConnection::on_data(const char* data, size_t len) {
  if (user_) {
    user_->on_upstream_data(data, len);
    return;
  }
  // Bytes from an idle connection answer no request: the server is confused or closing.
  dead_ = true;
}

void UpstreamConnection::on_recv_end(int err) {
  if (user_) {
    user_->on_upstream_end(err);
    return;
  }
  dead_ = true;
  // Idle in the pool and the server closed it: remove ourselves (this deletes `this`).
  auto& idle = server_->idle;
  auto it = std::find_if(idle.begin(), idle.end(), [this](const auto& p) { return p.get() == this; });
  if (it != idle.end()) idle.erase(it);
}

void UpstreamConnection::on_sent(ssize_t res) {
  if (user_) user_->on_upstream_sent(res);
}

}  // namespace ringway::proxy
