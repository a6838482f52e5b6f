// One proxy worker: its loop, listeners, client connections, per-upstream runtime (pools,
// balancer state) and metric handles. Everything here is touched only by its own thread.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "metrics/families.h"
#include "net/loop.h"
#include "proxy/balancer.h"
#include "proxy/config.h"
#include "proxy/router.h"
#include "proxy/upstream_state.h"

namespace ringway::proxy {

class ProxyConnection;
struct ProxyMetrics;

// What a request needs from the configuration, resolved once per config snapshot.
struct RouteRuntime {
  const RouteConfig* config = nullptr;
  std::shared_ptr<UpstreamRuntime> upstream;
  metrics::Histogram duration;
  std::vector<metrics::Counter> codes;  // by status code, filled lazily
};

// Per-worker view of one config generation. Requests keep it alive while they run, so a
// reload never changes the rules under an in-flight request.
struct WorkerConfig {
  std::shared_ptr<const Config> config;
  Router router;
  std::vector<RouteRuntime> routes;   // parallel to config->routes
  RouteRuntime no_route;              // label "none": 404s and early errors
};

// Live numbers of one server in one worker, for /status and /explain.
struct ServerStatus {
  std::string upstream, server;
  uint32_t in_flight = 0;
  double ewma_ms = 0;
  bool ejected = false;
  int64_t ejected_for_ms = 0;
  int ejections = 0;
  size_t idle_connections = 0;
  std::string last_error;
};

class Worker : public net::SocketHandler {
 public:
  Worker(size_t index, net::Loop& loop, ProxyMetrics& metrics);
  ~Worker() override;

  // Binds this worker's SO_REUSEPORT listeners. Returns: false with *error.
  bool listen(const std::vector<net::ResolvedAddress>& addrs, std::string* error);
  // Switches to a new config and/or health snapshot (on this worker's thread).
  void apply(std::shared_ptr<const Config> config, HealthSnapshotPtr health);
  void apply_health(HealthSnapshotPtr health);
  // Stops accepting and closes idle client connections; busy ones close after their response.
  void begin_drain();
  size_t active_connections() const { return live_; }
  std::vector<ServerStatus> server_status() const;

  // Used by ProxyConnection.
  net::Loop& loop() { return loop_; }
  size_t index() const { return index_; }
  ProxyMetrics& metrics() { return metrics_; }
  const std::shared_ptr<WorkerConfig>& current() const { return current_; }
  bool draining() const { return draining_; }
  // Random 128-bit request id as 32 hex chars.
  void new_request_id(char out[32]);
  void release(ProxyConnection* c);
  // A response code counter for `route`, created on first use.
  metrics::Counter& route_code(RouteRuntime& route, int status);
  metrics::Counter& server_code(const std::string& upstream, ServerRuntime& server, int status);

  void on_accept(int fd) override;

 private:
  void rebuild(std::shared_ptr<const Config> config);

  size_t index_;
  net::Loop& loop_;
  ProxyMetrics& metrics_;
  std::vector<net::Socket*> listeners_;
  std::shared_ptr<WorkerConfig> current_;
  HealthSnapshotPtr health_;
  // Upstream runtimes survive reloads by name so pools and stats carry over.
  std::vector<std::shared_ptr<UpstreamRuntime>> upstreams_;
  std::vector<std::unique_ptr<ProxyConnection>> all_;
  std::vector<ProxyConnection*> free_;
  size_t live_ = 0;
  bool draining_ = false;
  uint64_t rng_[2];
};

}  // namespace ringway::proxy
