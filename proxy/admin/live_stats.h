// The numbers behind /stats and the live page: a ring of per-second snapshots of the same
// route counters and histograms /metrics exports, sampled on the admin thread, from which
// rates, p50/p99 over the last minute and 5-minute sparkline series are computed.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "prometheus/metric_family.h"

namespace ringway::proxy {

// Prometheus' histogram_quantile over one histogram: `bounds` ascending finite upper bounds,
// `cumulative` their cumulative counts plus the +Inf count last. Linear interpolation inside
// the bucket holding the rank; the +Inf bucket answers its lower bound. Returns: NaN when empty.
double histogram_quantile(double q, const std::vector<double>& bounds,
                          const std::vector<double>& cumulative);

class LiveStats {
 public:
  static constexpr size_t kKeepSeconds = 300;

  // One snapshot (call about once a second). `families` is Registry::Collect().
  void sample(int64_t unix_ms, const std::vector<prometheus::MetricFamily>& families);
  // Per route (label value of `route`): rps and 2xx/4xx/5xx per second over the last 5 s,
  // p50/p99 (ms) over the last minute, and per-second series for the last 5 minutes.
  nlohmann::ordered_json routes_json() const;
  // {"result": "success"|"error"|"none", "unix_ms": when it was noticed (0 = before start)}.
  nlohmann::ordered_json last_reload_json() const;
  size_t samples() const { return ring_.size(); }

 private:
  struct RouteSample {
    double requests = 0, c2 = 0, c4 = 0, c5 = 0;
    std::vector<double> cumulative;  // histogram buckets, +Inf last
  };
  struct Snapshot {
    int64_t unix_ms = 0;
    std::map<std::string, RouteSample> routes;
    double reload_ok = 0, reload_error = 0;
  };
  // The snapshot about `seconds` before the newest (the oldest one if the ring is shorter).
  const Snapshot& back_by(size_t seconds) const;

  std::deque<Snapshot> ring_;
  std::vector<double> bounds_;
  std::string last_reload_ = "none";
  int64_t last_reload_ms_ = 0;
};

}  // namespace ringway::proxy
