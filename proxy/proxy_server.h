// The running proxy process: worker pool, health checker, admin listener, hot reload and
// graceful drain. main.cc only parses the command line and drives this.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "metrics/registry.h"
#include "net/worker_pool.h"
#include "proxy/admin/admin_source.h"
#include "proxy/config/config.h"
#include "proxy/upstream/health_checker.h"
#include "proxy/proxy_metrics.h"
#include "proxy/worker.h"

namespace ringway::proxy {

class AdminServer;

class ProxyServer final : public AdminSource {
 public:
  // `overrides` (command-line --io/--workers) are applied to every config read, reloads too.
  using Overrides = std::function<void(Config&)>;
  ProxyServer(std::string config_path, std::shared_ptr<const Config> config, Overrides overrides);
  ~ProxyServer() override;

  // Starts health checks, workers and the admin listener. Returns: false with *error.
  bool start(std::string* error);
  // SIGHUP: re-reads the config file; on errors keeps the old config and logs them.
  // Returns: true when the new config is active.
  bool reload();
  // SIGTERM: stops accepting, lets in-flight requests finish up to timeouts.drain, stops.
  void drain_and_stop();
  // SIGUSR1: workers hand over their buffered lines, then the writer reopens the file.
  void reopen_access_log();

  // For the admin endpoints (any thread).
  std::shared_ptr<const Config> config() const override;
  HealthSnapshotPtr health() const override { return health_->current(); }
  bool ready() const override { return ready_.load(); }
  bool draining() const override { return draining_.load(); }
  const std::string& io_backend() const override { return pool_.backend(); }
  const std::string& io_fallback_reason() const override { return pool_.fallback_reason(); }
  metrics::Registry& registry() override { return registry_; }
  // Runs fn on every worker thread, waits (up to 1 s) and returns their results in order.
  std::vector<std::vector<ServerStatus>> collect_server_status() override;
  // Runs fn on worker 0's thread and waits for it (up to 1 s). Returns: false on timeout.
  bool on_worker0(const std::function<void(Worker&)>& fn) override;
  ClientConnections client_connections() override;
  size_t workers() const override { return workers_.size(); }
  const ConnectionLimits& connection_limits() const override { return limits_; }
  int admin_port() const;

 private:
  void publish_health(HealthSnapshotPtr snapshot);
  // Runs fn on every worker thread and waits for all (up to 2 s). Main thread only.
  void on_each_worker(const std::function<void(Worker&)>& fn);
  // The file for `c` (the running one when the path is unchanged). Returns: false with *error.
  bool access_file_for(const Config& c, std::shared_ptr<AccessLogFile>* out, std::string* error);

  std::string config_path_;
  Overrides overrides_;
  mutable std::mutex config_mu_;
  std::shared_ptr<const Config> config_;
  // The config the process started with: what listen, admin, io and limits.recv_buffer still
  // are after any number of reloads (they change only at a restart).
  std::shared_ptr<const Config> started_with_;
  size_t worker_count_;
  metrics::Registry registry_;
  ProxyMetrics metrics_;
  ConnectionLimits limits_;  // before workers_: they unregister from it when destroyed
  std::unique_ptr<HealthChecker> health_;
  net::WorkerPool pool_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::atomic<bool> workers_ready_{false};
  std::unique_ptr<AdminServer> admin_;
  std::shared_ptr<AccessLogFile> access_file_;  // nullptr: access log off. Main thread only.
  std::atomic<bool> ready_{false};
  std::atomic<bool> draining_{false};
};

}  // namespace ringway::proxy
