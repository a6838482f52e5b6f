// The health checker thread's state, split by concern: membership (health_membership.cc),
// probing (health_probing.cc), re-resolution (health_resolution.cc), snapshots (health_engine.cc).
#pragma once

#include <memory>
#include <random>
#include <string>
#include <vector>

#include "proxy/upstream/health_checker.h"
#include "proxy/upstream/health_probe.h"
#include "proxy/upstream/resolver.h"

namespace ringway::proxy {

// Coalesces per-probe last_check updates into one current() refresh (not a publish).
inline constexpr base::Millis kStatusRefresh = 100;

class HealthChecker::Engine {
 public:
  Engine(HealthChecker& owner, net::Loop& loop);
  ~Engine();
  // Switches to `config`, whose servers were just resolved.
  void apply(std::shared_ptr<const Config> config, ResolvedConfig resolved);

 private:
  struct Upstream;
  struct Server {
    explicit Server(net::Loop& l) : loop(l), probe(l) {}
    ~Server() { loop.cancel_timer(&timer); }
    net::Loop& loop;
    Upstream* owner = nullptr;  // updated when a reload moves the server to a new Upstream
    ServerAddress address;
    std::string request;
    bool healthy = true;
    int successes = 0, failures = 0;  // consecutive
    std::string last_check;
    int64_t last_transition_unix_ms = 0;  // 0: never flipped since it joined
    metrics::Counter results[3];  // by ProbeResult; empty while checks are disabled
    metrics::Gauge gauge;
    net::Timer timer;  // next probe
    base::TimePoint started;
    HealthProbe probe;
  };
  struct Host {
    net::HostPort hp;
    std::vector<net::ResolvedAddress> addresses;
    std::string error;  // last resolution failure (addresses kept from before)
  };
  struct Upstream {
    explicit Upstream(net::Loop& l) : loop(l) {}
    ~Upstream() { loop.cancel_timer(&resolve_timer); }
    net::Loop& loop;
    uint64_t id = 0;  // new per apply(): resolutions started before a reload are dropped
    const UpstreamConfig* config = nullptr;  // points into Engine::config_
    std::vector<Host> hosts;
    std::vector<std::unique_ptr<Server>> servers;
    std::string resolve_error;
    net::Timer resolve_timer;
    bool resolving = false;
  };

  bool sync_servers(Upstream& u, std::vector<std::unique_ptr<Server>> pool, bool reschedule);
  void configure_checks(Server& s, bool reschedule);
  void probe(Server& s);
  void on_probe_done(Server& s, const ProbeOutcome& outcome);
  void start_resolve(Upstream& u);
  void on_resolved(uint64_t id, std::vector<ResolveOutcome> outcomes);
  void publish();
  void refresh_status();
  HealthSnapshotPtr build(uint64_t generation) const;
  base::Millis random_in(base::Millis lo, base::Millis hi);
  static std::string resolve_errors(const Upstream& u);

  HealthChecker& owner_;
  net::Loop& loop_;
  ProxyMetrics& metrics_;
  std::shared_ptr<const Config> config_;
  std::vector<std::unique_ptr<Upstream>> upstreams_;
  uint64_t next_id_ = 0;
  net::Timer status_timer_;
  std::mt19937_64 rng_{std::random_device{}()};
  ResolverThread resolver_;
};

}  // namespace ringway::proxy
