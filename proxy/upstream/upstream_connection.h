// One TCP connection to an upstream server: its socket, response parser and receive buffer.
// Owned by a ProxyConnection while in use, or by its server's keep-alive pool while idle.
#pragma once

#include <memory>
#include <vector>

#include "net/address.h"
#include "net/http_parser.h"
#include "net/input_buffer.h"
#include "net/loop.h"

namespace ringway::proxy {

struct ServerRuntime;
class IdlePool;

// What the proxy connection using it receives.
class UpstreamEvents {
 public:
  virtual ~UpstreamEvents() = default;
  virtual void on_upstream_connected(int res) = 0;
  virtual void on_upstream_data(const char* data, size_t len) = 0;
  virtual void on_upstream_end(int err) = 0;
  virtual void on_upstream_sent(ssize_t res) = 0;
  virtual void on_upstream_spliced(uint64_t moved, int err, bool sink_failed) = 0;
};

class UpstreamConnection final : public net::SocketHandler {
 public:
  // REQUIRES: the caller took a slot on `server` (ServerRuntime::take_slot); the connection
  // returns it when destroyed.
  UpstreamConnection(net::Loop& loop, std::shared_ptr<ServerRuntime> server);
  ~UpstreamConnection() override;

  // Opens a socket and starts connecting to `addr`. Returns: false with -errno in *err.
  bool connect(const net::ResolvedAddress& addr, int* err);
  // Hands the connection to `user` (nullptr parks it in the pool).
  void attach(UpstreamEvents* user);
  // Makes the connection idle in `pool` (IdlePool::park calls this and takes ownership).
  void park(IdlePool* pool);

  net::Loop& loop() { return loop_; }
  net::Socket* socket() { return sock_; }
  ServerRuntime& server() { return *server_; }
  const std::shared_ptr<ServerRuntime>& server_ptr() const { return server_; }
  net::HttpParser& parser() { return parser_; }
  bool reused() const { return requests_ > 0; }
  void count_request() { ++requests_; }
  bool dead() const { return dead_; }

  void on_connected(int res) override;
  void on_data(const char* data, size_t len) override;
  void on_recv_end(int err) override;
  void on_sent(ssize_t res) override;
  void on_spliced(uint64_t moved, int err, bool sink_failed) override;

 private:
  net::Loop& loop_;
  std::shared_ptr<ServerRuntime> server_;
  net::Socket* sock_ = nullptr;
  UpstreamEvents* user_ = nullptr;
  IdlePool* pool_ = nullptr;  // set while parked
  net::HttpParser parser_;
  uint64_t requests_ = 0;
  bool dead_ = false;  // idle connection closed by the server: drop from the pool
};

// One server's keep-alive connections, most recently used last (LIFO keeps the warmest
// connection in use and lets the oldest time out on the server side first).
class IdlePool {
 public:
  bool empty() const { return conns_.empty(); }
  size_t size() const { return conns_.size(); }
  void park(std::unique_ptr<UpstreamConnection> conn);
  // Returns: the most recently parked connection, or nullptr.
  std::unique_ptr<UpstreamConnection> take();
  // Drops `conn` (the server closed it while idle); deletes it.
  void remove(UpstreamConnection* conn);
  void clear() { conns_.clear(); }

 private:
  std::vector<std::unique_ptr<UpstreamConnection>> conns_;
};

}  // namespace ringway::proxy
