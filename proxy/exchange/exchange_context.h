// What a proxy connection needs from the worker that owns it: the loop, the current config
// generation with its per-route runtime, metric handles, request ids and its own release.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "metrics/families.h"
#include "net/loop.h"
#include "proxy/config/config.h"
#include "proxy/exchange/exchange_state.h"
#include "proxy/exchange/router.h"
#include "proxy/proxy_metrics.h"
#include "proxy/upstream/upstream_runtime.h"

namespace ringway::proxy {

class ProxyConnection;
class AccessLog;

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

// The worker implements release(); everything else is plain per-worker state, so the hot
// path pays no virtual call but the one at connection close.
class ExchangeContext {
 public:
  ExchangeContext(size_t index, net::Loop& loop, ProxyMetrics& metrics);
  virtual ~ExchangeContext();
  ExchangeContext(const ExchangeContext&) = delete;
  ExchangeContext& operator=(const ExchangeContext&) = delete;

  net::Loop& loop() { return loop_; }
  size_t index() const { return index_; }
  ProxyMetrics& metrics() { return metrics_; }
  const std::shared_ptr<WorkerConfig>& current() const { return current_; }
  bool draining() const { return draining_; }
  // The worker's access log buffer, nullptr when access_log is off.
  AccessLog* access_log() const { return access_log_; }
  // Random 128-bit request id as 32 hex chars.
  void new_request_id(char out[32]);
  // A response code counter for `route`, created on first use.
  metrics::Counter& route_code(RouteRuntime& route, int status);
  metrics::Counter& server_code(const std::string& upstream, ServerRuntime& server, int status);
  // The connection is done with its client: back to the worker's pool.
  virtual void release(ProxyConnection* c) = 0;

  // Lends an exchange renewed for a request under `limits`: a spare one (keeping its strings'
  // capacity) or a new one. The borrower gives it back with return_exchange().
  ExchangeState* lease_exchange(const net::HttpLimits& limits);
  // Takes an exchange back; strings past `watermark` bytes are freed. Beyond kMaxSpareExchanges
  // it is destroyed, so a burst's memory does not stay with the worker.
  // REQUIRES: nothing references the exchange any more.
  void return_exchange(ExchangeState* x, size_t watermark);
  size_t lent_exchanges() const { return lent_; }
  size_t spare_exchanges() const { return spares_; }
  static constexpr size_t kMaxSpareExchanges = 256;

 protected:
  size_t index_;
  net::Loop& loop_;
  ProxyMetrics& metrics_;
  std::shared_ptr<WorkerConfig> current_;
  bool draining_ = false;
  AccessLog* access_log_ = nullptr;

 private:
  uint64_t rng_[2];
  ExchangeState* spare_ = nullptr;  // intrusive list through next_spare
  size_t spares_ = 0;
  size_t lent_ = 0;
};

}  // namespace ringway::proxy
