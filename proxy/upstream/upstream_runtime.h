// Per-worker view of each upstream: its servers with in-flight counts, latency EWMA, passive
// outlier state and idle keep-alive connections, and the pick (p2c / least_request / round_robin).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "metrics/families.h"
#include "base/clock.h"
#include "proxy/config/config.h"
#include "net/loop.h"
#include "proxy/upstream/connection_limit.h"
#include "proxy/upstream/request_queue.h"
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
  // Connection slots shared with the other workers; every UpstreamConnection holds one.
  std::shared_ptr<ServerSlots> slots;
  metrics::Gauge connections;     // ringway_upstream_connections, this worker's share
  size_t shard = 0;
  base::TimePoint recovered_at;   // last unhealthy -> healthy transition (slow start)

  bool ejected(base::TimePoint now) const { return now < ejected_until; }
  // Takes a connection slot under `limit` (0 = unlimited). Returns: false at the limit.
  bool take_slot(uint32_t limit) {
    if (!slots->try_acquire(limit)) return false;
    connections.add(shard, 1);
    return true;
  }
  // The connection holding a slot closed (UpstreamConnection's destructor).
  void return_slot() {
    slots->release();
    connections.add(shard, -1);
  }
};

using ServerRuntimePtr = std::shared_ptr<ServerRuntime>;

class UpstreamRuntime {
 public:
  // `loop` runs the queue's timer and `limits` shares connection counts with the other
  // workers; either may be null in unit tests (no timer; counts private to this runtime).
  UpstreamRuntime(const UpstreamConfig& config, ProxyMetrics& metrics, size_t shard,
                  net::Loop* loop = nullptr, ConnectionLimits* limits = nullptr);
  ~UpstreamRuntime();

  const UpstreamConfig& config() const { return config_; }
  const std::string& name() const { return config_.name; }
  const std::vector<ServerRuntimePtr>& servers() const { return servers_; }

  // Takes the upstream's new membership and health; servers that stay keep their stats and
  // pools, removed ones are marked removed and their idle connections closed.
  void apply(const UpstreamConfig& config, const UpstreamMembers& members);

  struct Pick {
    ServerRuntime* server = nullptr;  // nullptr: the upstream has no servers at all
    bool panic = false;               // no server was healthy: picked among all of them
    bool full = false;                // every candidate is at max_connections: queue
  };
  // Picks a server for a new attempt, never `exclude` when another exists.
  Pick pick(base::TimePoint now, const ServerRuntime* exclude);
  ServerRuntimePtr share(ServerRuntime* s) const;

  // Connection limit of `s` now: max_connections, ramped during slow start (0 = unlimited).
  uint32_t limit_now(const ServerRuntime& s, base::TimePoint now) const;
  // Slow-start progress of `s` in (0, 1]: 1 when off or past the window.
  double warmth(const ServerRuntime& s, base::TimePoint now) const;
  // Takes a slot on `s` for a new connection. Returns: false at its limit.
  bool take_slot(ServerRuntime& s, base::TimePoint now) { return s.take_slot(limit_now(s, now)); }
  RequestQueue& queue() { return queue_; }
  const UpstreamSlots& shared() const { return *shared_; }
  // Closes this worker's idle connections when none of its own requests waits for them
  // (another worker's requests wait for their slots).
  void trim_idle();

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
  // Two distinct candidates, uniformly at random. REQUIRES: at least two candidates.
  std::pair<ServerRuntime*, ServerRuntime*> draw_two();
  // p2c's choice between two servers: the lower expected wait.
  static ServerRuntime* less_loaded(ServerRuntime* a, ServerRuntime* b);

  bool has_capacity(const ServerRuntime& s, base::TimePoint now) const;

  UpstreamConfig config_;
  ProxyMetrics& metrics_;
  size_t shard_;
  std::shared_ptr<UpstreamSlots> shared_;
  RequestQueue queue_;
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
