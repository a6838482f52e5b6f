// libFuzzer target: one whole exchange through a real Worker + ProxyConnection on an epoll loop:
// the client bytes go in over a socketpair, the upstream (a loopback listener in the same loop)
// answers with the reply bytes, both in one input. Bounded: each input runs at most ~300 ms.
// Input: 2 bytes little-endian client length, client bytes, then the upstream reply bytes.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "metrics/registry.h"
#include "net/loop.h"
#include "net/socket.h"
#include "net/timer.h"
#include "proxy/config/config.h"
#include "proxy/proxy_metrics.h"
#include "proxy/worker.h"

namespace {

using namespace ringway;

net::Loop* g_loop = nullptr;
std::string g_reply;
bool g_client_done = false;

// One end the fuzzer plays, the client or an upstream: writes its bytes, half-closes, and
// reads until the proxy closes. `on_closed` runs once when this end is closed.
class Peer final : public net::SocketHandler {
 public:
  Peer(int fd, std::string bytes, std::function<void()> on_closed = {})
      : bytes_(std::move(bytes)), on_closed_(std::move(on_closed)) {
    sock_ = g_loop->add(fd, this);
    g_loop->start_recv(sock_);
    if (bytes_.empty()) {
      g_loop->shutdown_write(sock_);
    } else {
      iovec iov{bytes_.data(), bytes_.size()};
      g_loop->send(sock_, &iov, 1);
    }
  }
  void on_sent(ssize_t) override { if (!closed_) g_loop->shutdown_write(sock_); }
  void on_recv_end(int) override { close(); }
  void close() {
    if (closed_) return;
    closed_ = true;
    g_loop->close(sock_);
    if (on_closed_) on_closed_();
  }
  bool closed() const { return closed_; }

 private:
  net::Socket* sock_;
  std::string bytes_;
  std::function<void()> on_closed_;
  bool closed_ = false;
};

class Acceptor final : public net::SocketHandler {
 public:
  void on_accept(int fd) override { peers.push_back(std::make_unique<Peer>(fd, g_reply)); }
  std::vector<std::unique_ptr<Peer>> peers;
};

struct World {
  std::unique_ptr<net::Loop> loop;
  metrics::Registry registry{1};  // one shard: one worker
  std::unique_ptr<proxy::ProxyMetrics> metrics;
  std::unique_ptr<proxy::Worker> worker;
  Acceptor acceptor;
  int port = 0;

  World() {
    net::LoopOptions lo;
    lo.mode = net::IoMode::kEpoll;  // deterministic, and no io_uring under the fuzzer's sandbox
    std::string why, err;
    loop = net::Loop::create(lo, &why, &err);
    if (!loop) __builtin_trap();
    g_loop = loop.get();
    int lfd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (::bind(lfd, reinterpret_cast<sockaddr*>(&a), len) != 0 || ::listen(lfd, 64) != 0) __builtin_trap();
    ::getsockname(lfd, reinterpret_cast<sockaddr*>(&a), &len);
    port = ntohs(a.sin_port);
    loop->start_accept(loop->add(lfd, &acceptor));
    metrics = std::make_unique<proxy::ProxyMetrics>(registry);
    worker = std::make_unique<proxy::Worker>(0, *loop, *metrics);
    const std::string server = "127.0.0.1:" + std::to_string(port);
    const std::string yaml =
        "listen: [\"127.0.0.1:0\"]\n"
        "limits: {max_header_bytes: 4096, max_headers: 32, max_body_bytes: 65536, request_buffer: 1KiB}\n"
        "timeouts: {client_header: 200ms, client_idle: 200ms, upstream_connect: 200ms, "
        "upstream_response: 200ms, drain: 0s}\n"
        "upstreams:\n  u: {servers: [\"" + server + "\"], keepalive: 0, retries: 0, "
        "health_check: {enabled: false}}\n"
        "routes:\n  - {prefix: /, upstream: u}\n";
    std::vector<proxy::ConfigError> errors;
    auto cfg = proxy::parse_config(yaml, "fuzz.yaml", &errors);
    if (!cfg) __builtin_trap();
    auto health = std::make_shared<proxy::HealthSnapshot>();
    health->config = cfg;
    proxy::UpstreamMembers m;
    proxy::ServerAddress sa;
    sa.label = sa.configured = server;
    net::HostPort hp{"127.0.0.1", static_cast<uint16_t>(port)};
    if (!net::to_sockaddr(hp, &sa.addr)) __builtin_trap();
    m.servers.push_back(sa);
    m.healthy.push_back(1);
    m.last_check.emplace_back("fuzz");
    health->upstreams.push_back(m);
    worker->apply(cfg, health);
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static World* world = new World();  // lives for the process: one loop, one worker
  if (size < 2) return 0;
  size_t client_len = static_cast<size_t>(data[0]) | static_cast<size_t>(data[1]) << 8;
  if (client_len > size - 2) client_len = size - 2;
  std::string client(reinterpret_cast<const char*>(data + 2), client_len);
  g_reply.assign(reinterpret_cast<const char*>(data + 2 + client_len), size - 2 - client_len);

  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) != 0) return 0;
  g_client_done = false;
  Peer c(sv[0], std::move(client), [] {
    g_client_done = true;
    g_loop->stop();
  });
  world->worker->on_accept(sv[1]);
  net::Timer guard([] { g_loop->stop(); });
  g_loop->add_timer(&guard, 300);
  g_loop->clear_stop();
  g_loop->run();
  g_loop->cancel_timer(&guard);
  c.close();  // if the proxy kept the client past the bound: drop our side
  // Let the proxy see the close and the upstream peers finish before the next input.
  net::Timer settle([] { g_loop->stop(); });
  g_loop->add_timer(&settle, 1);
  g_loop->clear_stop();
  g_loop->run();
  auto& peers = world->acceptor.peers;
  for (auto it = peers.begin(); it != peers.end();) it = (*it)->closed() ? peers.erase(it) : it + 1;
  return 0;
}
