// The metrics registry: owns every family of one binary, runs collect hooks, and renders the
// exposition (Prometheus text via prometheus-cpp, or OpenMetrics) for the /metrics endpoint.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "metrics/families.h"
#include "metrics/format.h"
#include "prometheus/collectable.h"

namespace ringway::metrics {

// Set-up (add_*, add_collect_hook, enable_process_metrics) normally happens once at start-up and
// throws std::invalid_argument on bad names; everything here is thread-safe. Families live as
// long as the Registry and never move, so references and handles stay valid.
class Registry : public prometheus::Collectable {
 public:
  // shards = number of writer threads (workers); each writes only its own shard index.
  explicit Registry(size_t shards);
  ~Registry() override;
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  size_t shards() const { return shards_; }

  // Pass the full contract name ("ringway_http_requests_total"); the OpenMetrics writer derives
  // the family name without _total. A name that clashes with another family's series (including
  // the OpenMetrics counter name and histogram _bucket/_count/_sum) is rejected.
  CounterFamily& add_counter(std::string name, std::string help,
                             std::vector<std::string> label_names);
  GaugeFamily& add_gauge(std::string name, std::string help, std::vector<std::string> label_names);
  HistogramFamily& add_histogram(std::string name, std::string help,
                                 std::vector<std::string> label_names,
                                 std::vector<double> bounds = latency_buckets());

  // Runs at the start of every render(), before any family is read (refresh gauges that mirror
  // state owned elsewhere). Hooks run one render at a time, outside the registry lock, so they
  // may call with()/set() freely.
  void add_collect_hook(std::function<void()> hook);

  // Adds the process_* families (process_collector.h). Idempotent.
  void enable_process_metrics();

  // Full exposition in the requested format. Runs the collect hooks first.
  std::string render(Format f);

  // prometheus::Collectable: a snapshot of every family in registration order, then process_*.
  // Hooks are not run here (render() runs them) so that Collect() stays const and side-effect free.
  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  // Reserves the sample names a family will emit; throws if one is taken.
  void reserve_names(const std::vector<std::string>& names);
  template <typename F>
  F& add(std::unique_ptr<F> family, std::vector<std::string> names);

  const size_t shards_;
  mutable std::mutex mu_;  // guards the members below
  std::vector<std::unique_ptr<Family>> families_;
  std::set<std::string, std::less<>> taken_names_;
  std::vector<std::function<void()>> hooks_;
  bool process_metrics_ = false;
  std::mutex render_mu_;  // one render at a time, so hooks never run concurrently
};

}  // namespace ringway::metrics
