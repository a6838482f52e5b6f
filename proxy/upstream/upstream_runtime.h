// Per-worker view of each upstream: its servers with in-flight counts, latency EWMA, passive
// outlier state and idle keep-alive connections, and the pick (p2c / least_request / round_robin).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "metrics/families.h"
#include "base/clock.h"
#include "proxy/config/config.h"
#include "proxy/upstream/upstream_connection.h"
#include "proxy/upstream/upstream_state.h"

namespace ringway::proxy {

struct ProxyMetrics;

// One server as one worker sees it. Shared-owned: a request keeps its server alive even if
// a reload or DNS change removes it (in-flight requests finish, then it goes).
struct ServerRuntime {
  ServerAddress address;
  bool healthy = true;           // from the latest HealthSnapshot
  bool removed = false;          // no longer a member: finish in-flight work, pool nothing
  uint32_t in_flight = 0;
  double ewma_ms = 0;            // response-head latency, 0 until the first sample
  int consecutive_failures = 0;
  int ejections = 0;             // times ejected; scales the next ejection
  base::TimePoint ejected_until;  // ejected while now < ejected_until
  base::TimePoint last_pick;      // when p2c/least_request/round_robin last chose it
  std::string last_error;
  IdlePool idle;                 // keep-alive connections
  metrics::Counter ejection_counter;
  std::vector<metrics::Counter> code_counters;  // by status code, filled lazily

  bool ejected(base::TimePoint now) const { return now < ejected_until; }
};

using ServerRuntimePtr = std::shared_ptr<ServerRuntime>;

class UpstreamRuntime {
 public:
  UpstreamRuntime(const UpstreamConfig& config, ProxyMetrics& metrics, size_t shard);

  const UpstreamConfig& config() const { return config_; }
  const std::string& name() const { return config_.name; }
  const std::vector<ServerRuntimePtr>& servers() const { return servers_; }

  // Takes the upstream's new membership and health; servers that stay keep their stats and
  // pools, removed ones are marked removed and their idle connections closed.
  void apply(const UpstreamConfig& config, const UpstreamMembers& members);

  struct Pick {
    ServerRuntime* server = nullptr;  // nullptr: the upstream has no servers at all
    bool panic = false;               // no server was healthy: picked among all of them
  };
  // Picks a server for a new attempt, never `exclude` when another exists.
  Pick pick(base::TimePoint now, const ServerRuntime* exclude);
  ServerRuntimePtr share(ServerRuntime* s) const;

  // Passive health: a response (any status < 500) resets failures and feeds the EWMA.
  void on_success(ServerRuntime& s, double latency_ms);
  // A connect failure, reset, timeout or 5xx. Returns: true if it ejected the server.
  bool on_failure(ServerRuntime& s, base::TimePoint now, const std::string& why);

  // Retry budget: each request earns 0.2 retries (bursts up to 10); a retry spends one,
  // so retries stay a bounded fraction of traffic during an outage.
  void on_request() { budget_fifths_ = budget_fifths_ + 1 > 50 ? 50 : budget_fifths_ + 1; }
  bool take_retry();

  metrics::Histogram& duration() { return duration_; }
  metrics::Counter& retry_counter() { return retry_counter_; }
  bool in_panic() const { return panic_; }

 private:
  bool eligible(const ServerRuntime& s, base::TimePoint now) const;
  uint64_t next_random();

  UpstreamConfig config_;
  ProxyMetrics& metrics_;
  size_t shard_;
  std::vector<ServerRuntimePtr> servers_;
  std::vector<ServerRuntime*> candidates_;  // scratch, reused per pick
  uint64_t rr_ = 0;
  uint64_t rng_;
  int budget_fifths_ = 50;  // retry budget in fifths of a retry: exact, no float drift
  bool panic_ = false;
  metrics::Histogram duration_;
  metrics::Counter retry_counter_;
};

}  // namespace ringway::proxy
