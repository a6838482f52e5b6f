// One proxy worker: its listeners, its pool of client connections and the per-upstream
// runtime carried across reloads. Everything here is touched only by its own thread.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "base/object_pool.h"
#include "net/loop.h"
#include "proxy/access_log/access_log.h"
#include "proxy/config/config.h"
#include "proxy/exchange/exchange_context.h"
#include "proxy/upstream/upstream_state.h"

namespace ringway::proxy {

class ProxyConnection;

// Live numbers of one server in one worker, for /status and /explain.
struct ServerStatus {
  std::string upstream, server;
  uint32_t in_flight = 0;
  double ewma_ms = 0;
  bool ejected = false;
  int64_t ejected_for_ms = 0;
  int ejections = 0;
  size_t idle_connections = 0;
  uint32_t connection_limit = 0;  // max_connections now (slow start ramps it), 0 = unlimited
  double warmth = 1;              // slow-start progress, 1 = full share
  size_t queued = 0;              // requests of its upstream waiting in this worker
  std::string last_error;
};

class Worker final : public ExchangeContext, public net::SocketHandler {
 public:
  // `limits` (shared by all workers, outliving them) counts connections per server.
  Worker(size_t index, net::Loop& loop, ProxyMetrics& metrics, ConnectionLimits* limits = nullptr);
  ~Worker() override;

  // Binds this worker's SO_REUSEPORT listeners. Returns: false with *error.
  bool listen(const std::vector<net::ResolvedAddress>& addrs, std::string* error);
  // Switches to a new config and/or health snapshot (on this worker's thread).
  void apply(std::shared_ptr<const Config> config, HealthSnapshotPtr health);
  void apply_health(HealthSnapshotPtr health);
  // Stops accepting and closes idle client connections; busy ones close after their response.
  void begin_drain();
  std::vector<ServerStatus> server_status() const;
  // Switches to `file` (nullptr: access log off) with the buffer and flush of `config`;
  // lines buffered for the previous file are handed to it first.
  void set_access_log(std::shared_ptr<AccessLogFile> file, const AccessLogConfig& config);
  // Hands buffered access log lines to the writer (SIGUSR1, reload, shutdown).
  void flush_access_log();

  size_t active_connections() const { return pool_.live(); }
  // Connections between requests (keep-alive), for the admin page.
  size_t idle_connections() const;
  void release(ProxyConnection* c) override;

  void on_accept(int fd) override;

 private:
  void rebuild(std::shared_ptr<const Config> config);

  ConnectionLimits* limits_;
  // Lives while the worker does: trim requests posted by other workers check it first.
  std::shared_ptr<Worker*> self_;
  std::vector<net::Socket*> listeners_;
  HealthSnapshotPtr health_;
  // Upstream runtimes survive reloads by name so pools and stats carry over.
  std::vector<std::shared_ptr<UpstreamRuntime>> upstreams_;
  std::unique_ptr<AccessLog> log_;  // before pool_: connections cut at shutdown still log
  base::ObjectPool<ProxyConnection> pool_;
};

}  // namespace ringway::proxy
