// What the admin endpoints read from the running proxy. ProxyServer implements it; the admin
// room depends only on this interface, so nothing below it has to know the admin exists.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "metrics/registry.h"
#include "proxy/config/config.h"
#include "proxy/upstream/upstream_state.h"
#include "proxy/worker.h"

namespace ringway::proxy {

// Client connections summed over workers: idle ones wait for their next request.
struct ClientConnections {
  size_t active = 0, idle = 0;
};

class AdminSource {
 public:
  virtual ~AdminSource() = default;
  // All of these may be called from the admin thread.
  virtual std::shared_ptr<const Config> config() const = 0;
  virtual HealthSnapshotPtr health() const = 0;
  virtual bool ready() const = 0;
  virtual bool draining() const = 0;
  virtual const std::string& io_backend() const = 0;
  virtual const std::string& io_fallback_reason() const = 0;
  virtual metrics::Registry& registry() = 0;
  virtual size_t workers() const = 0;
  // Open connections per server and queued requests per upstream, over all workers.
  virtual const ConnectionLimits& connection_limits() const = 0;
  // Every worker's live per-server numbers, in worker order (waits up to 1 s for each).
  virtual std::vector<std::vector<ServerStatus>> collect_server_status() = 0;
  // Runs fn on worker 0's thread and waits for it (up to 1 s). Returns: false on timeout.
  virtual bool on_worker0(const std::function<void(Worker&)>& fn) = 0;
  // Asks every worker (waits up to 1 s).
  virtual ClientConnections client_connections() = 0;
};

}  // namespace ringway::proxy
