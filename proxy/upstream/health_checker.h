// Active health checks and DNS re-resolution for every upstream, on a thread of their own; the
// result is published as immutable HealthSnapshots (the only state workers share with it).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "net/loop.h"
#include "proxy/config/config.h"
#include "proxy/proxy_metrics.h"
#include "proxy/upstream/upstream_state.h"

namespace ringway::proxy {

// Per server address (each address every configured host:port of an upstream resolves to):
// every health_check.interval (±10% jitter; the first probe after a random 0..interval delay)
// a GET on a new connection; 2xx/3xx pass. healthy_threshold consecutive passes make a server
// healthy, unhealthy_threshold consecutive failures (timeouts included) unhealthy. Upstreams
// with checks disabled have every server healthy. Hostnames are re-resolved every
// resolve_every; addresses that appear join healthy, those that vanish leave. A snapshot
// (generation + 1) is published on every health flip, membership change, resolve_error change
// and config switch, never merely because a probe ran.
class HealthChecker {
 public:
  // Called with every new snapshot, in generation order, on the checker's thread (during start()
  // and update_config() too, while the caller waits). Must not call back into the checker.
  using Publish = std::function<void(HealthSnapshotPtr)>;

  HealthChecker(ProxyMetrics& metrics, Publish publish);
  ~HealthChecker();  // stop()
  HealthChecker(const HealthChecker&) = delete;
  HealthChecker& operator=(const HealthChecker&) = delete;

  // Resolves every upstream's servers (blocking), starts the checker thread with its own loop
  // (`mode`; if that backend cannot start, epoll, as the workers fall back) and publishes the
  // first snapshot (all servers healthy) before returning.
  // Returns: false with *error, e.g. "upstream service1: server foo:80: cannot resolve 'foo':
  // Name or service not known", when a server cannot be resolved or no loop can be created.
  bool start(std::shared_ptr<const Config> config, net::IoMode mode, std::string* error);

  // Switches to `config` (already validated) and publishes its snapshot before returning.
  // Servers that persist (same upstream name and address label) keep their health, counters
  // and probe schedule; new ones start healthy; removed ones leave the snapshot and their
  // ringway_upstream_server_healthy series is removed. Hostnames are resolved here (blocking);
  // a failure keeps the addresses the name had before (none if new) and sets resolve_error.
  // REQUIRES: start() succeeded; not called from the Publish callback.
  void update_config(std::shared_ptr<const Config> config);

  // The latest state, thread-safe (for /status and /explain). Between published snapshots it
  // may carry fresher last_check texts under the same generation (refreshed every ~100 ms).
  HealthSnapshotPtr current() const;

  // Stops probing and re-resolution and joins the threads (prompt unless a getaddrinfo is
  // in flight). Idempotent.
  void stop();

  // The backend the checker's loop runs ("io_uring" / "epoll"); empty before start().
  const std::string& backend() const { return backend_; }

 private:
  class Engine;  // the checker thread's state (health_checker.cc)

  // On the checker's thread: stores `snapshot` as current() and, if `publish`, hands it out.
  void set_current(HealthSnapshotPtr snapshot, bool publish);

  ProxyMetrics& metrics_;
  Publish publish_;

  mutable std::mutex current_mu_;
  HealthSnapshotPtr current_;
  uint64_t generation_ = 0;  // of the last published snapshot; written by the checker thread

  std::mutex control_mu_;  // serializes start / update_config / stop
  std::thread thread_;
  std::string backend_;

  // Shared with the checker thread: its loop and engine while it runs, and whether it exited.
  std::mutex sync_mu_;
  std::condition_variable sync_cv_;
  net::Loop* loop_ = nullptr;
  Engine* engine_ = nullptr;
  bool exited_ = false;
};

}  // namespace ringway::proxy
