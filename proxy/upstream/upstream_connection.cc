// Upstream connection lifecycle: connect, forward events to the active request, and watch
// for the server closing it while it idles in the pool.
#include "proxy/upstream/upstream_connection.h"

#include <sys/socket.h>

#include <algorithm>

#include "net/socket.h"
#include "proxy/upstream/upstream_runtime.h"

namespace ringway::proxy {

UpstreamConnection::UpstreamConnection(net::Loop& loop, std::shared_ptr<ServerRuntime> server)
    : loop_(loop),
      server_(std::move(server)),
      // Response heads are bounded like request heads; bodies are streamed, never limited.
      parser_(net::HttpParser::Mode::kResponse, net::HttpLimits{65536, 1000, 0}) {}

UpstreamConnection::~UpstreamConnection() {
  // The loop may close the fd a turn later (io_uring cancels outstanding receives first); the
  // slot is free now, so end the TCP connection now too, or the server would briefly see the
  // replacement connection beside this one.
  if (sock_) {
    ::shutdown(loop_.fd(sock_), SHUT_RDWR);
    loop_.close(sock_);
  }
  // Every connection was opened under a slot of its server's max_connections.
  server_->return_slot();
}

bool UpstreamConnection::connect(const net::ResolvedAddress& addr, int* err) {
  int fd = net::connect_socket(addr.family());
  if (fd < 0) {
    *err = fd;
    return false;
  }
  sock_ = loop_.add(fd, this);
  // A response may stream faster than its client reads: pauses must stop it promptly.
  loop_.pace_recv(sock_);
  loop_.connect(sock_, reinterpret_cast<const sockaddr*>(&addr.addr), addr.len);
  return true;
}

void UpstreamConnection::attach(UpstreamEvents* user) {
  user_ = user;
  pool_ = nullptr;
}

void UpstreamConnection::park(IdlePool* pool) {
  user_ = nullptr;
  pool_ = pool;
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
  if (pool_) pool_->remove(this);
}

void UpstreamConnection::on_sent(ssize_t res) {
  if (user_) user_->on_upstream_sent(res);
}

void UpstreamConnection::on_spliced(uint64_t moved, int err, bool sink_failed) {
  if (user_) user_->on_upstream_spliced(moved, err, sink_failed);
}

void IdlePool::park(std::unique_ptr<UpstreamConnection> conn) {
  conn->park(this);
  conns_.push_back(std::move(conn));
}

std::unique_ptr<UpstreamConnection> IdlePool::take() {
  if (conns_.empty()) return nullptr;
  std::unique_ptr<UpstreamConnection> conn = std::move(conns_.back());
  conns_.pop_back();
  return conn;
}

void IdlePool::remove(UpstreamConnection* conn) {
  auto it = std::find_if(conns_.begin(), conns_.end(), [conn](const auto& p) { return p.get() == conn; });
  if (it != conns_.end()) conns_.erase(it);
}

}  // namespace ringway::proxy
