// Metric families (counter, gauge, histogram) and the cheap handles the request path writes to.
// Handles update per-worker shards without locks; families sum the shards when scraped.
#pragma once

#include <atomic>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "metrics/sharded_cell.h"
#include "prometheus/metric_family.h"

namespace ringway::metrics {

// Histogram bounds in seconds from 50us to 10s, dense below 1ms where a proxy hop lives.
std::vector<double> latency_buckets();

// Handles are plain pointers: copy them freely, cache them per worker, and keep them no longer than
// the Registry. A default-constructed handle is empty and must not be written.
class Counter {
 public:
  Counter() = default;
  // REQUIRES: only thread `shard` writes shard `shard`; shard < Registry::shards().
  void inc(size_t shard, uint64_t n = 1) const { cells_->add(shard, 0, n); }
  // Any thread, with an atomic RMW: for cold paths that own no shard (signal handling, admin).
  void inc_shared(uint64_t n = 1) const { cells_->add_shared(0, n); }
  uint64_t value() const { return cells_->sum(0); }
  explicit operator bool() const { return cells_ != nullptr; }

 private:
  friend class CounterFamily;
  explicit Counter(const ShardedCells* cells) : cells_(cells) {}
  const ShardedCells* cells_ = nullptr;
};

// Word layout per shard: [0, bounds) finite buckets, [bounds] the +Inf bucket, [bounds + 1] the
// sum. Buckets are stored non-cumulative so observe() touches one bucket; count is their total,
// which keeps count and the +Inf bucket equal in every scrape.
struct HistogramCells {
  HistogramCells(const std::vector<double>* b, size_t shards)
      : bounds(b), cells(shards, b->size() + 2) {}
  const std::vector<double>* bounds;  // owned by the family, sorted ascending, finite
  ShardedCells cells;

  size_t sum_word() const { return bounds->size() + 1; }
  // Prometheus buckets are inclusive (v <= le).
  size_t bucket_of(double v) const {
    const double* b = bounds->data();
    size_t lo = 0, hi = bounds->size();
    // Finds the first bound >= v. NaN compares false with every bound, so it walks right to the
    // +Inf bucket, as in the Go client.
    while (lo < hi) {
      const size_t mid = (lo + hi) / 2;
      if (b[mid] >= v) {
        hi = mid;
      } else {
        lo = mid + 1;
      }
    }
    return lo;
  }
  // Cumulative counts per bucket, +Inf last (size bounds + 1).
  std::vector<uint64_t> cumulative() const;
};

class Histogram {
 public:
  Histogram() = default;
  // REQUIRES: only thread `shard` writes shard `shard`; shard < Registry::shards().
  void observe(size_t shard, double seconds) const {
    cells_->cells.add(shard, cells_->bucket_of(seconds), 1);
    cells_->cells.add_double(shard, cells_->sum_word(), seconds);
  }
  // Any thread, with atomic RMWs: for cold paths that own no shard.
  void observe_shared(double seconds) const {
    cells_->cells.add_shared(cells_->bucket_of(seconds), 1);
    cells_->cells.add_double_shared(cells_->sum_word(), seconds);
  }
  uint64_t count() const;
  double sum() const { return cells_->cells.sum_double(cells_->sum_word()); }
  // Cumulative count for each bound in the family's order, then +Inf.
  std::vector<uint64_t> cumulative_counts() const { return cells_->cumulative(); }
  explicit operator bool() const { return cells_ != nullptr; }

 private:
  friend class HistogramFamily;
  explicit Histogram(const HistogramCells* cells) : cells_(cells) {}
  const HistogramCells* cells_ = nullptr;
};

// A gauge is either set as a whole (any thread: the last set() wins) or built from per-shard
// int64 contributions (in-flight requests: +1/-1 from the worker that owns the request).
// value() = last set value + sum of contributions.
struct GaugeCells {
  explicit GaugeCells(size_t shards) : deltas(shards, 1) {}
  std::atomic<double> set_value{0};
  ShardedCells deltas;
};

class Gauge {
 public:
  Gauge() = default;
  void set(double v) const { cells_->set_value.store(v, std::memory_order_relaxed); }
  // REQUIRES: only thread `shard` writes shard `shard`; shard < Registry::shards().
  void add(size_t shard, int64_t delta) const {
    cells_->deltas.add(shard, 0, static_cast<uint64_t>(delta));
  }
  void add_shared(int64_t delta) const {
    cells_->deltas.add_shared(0, static_cast<uint64_t>(delta));
  }
  double value() const;
  explicit operator bool() const { return cells_ != nullptr; }

 private:
  friend class GaugeFamily;
  // Shared ownership so a handle stays valid after GaugeFamily::remove() drops the series.
  explicit Gauge(std::shared_ptr<GaugeCells> cells) : cells_(std::move(cells)) {}
  std::shared_ptr<GaugeCells> cells_;
};

// Common part of the three families: identity, label schema, and the scrape entry point.
// with() and collect() take the family mutex; the request path never does (handles are cached).
class Family {
 public:
  virtual ~Family() = default;
  Family(const Family&) = delete;
  Family& operator=(const Family&) = delete;

  const std::string& name() const { return name_; }
  const std::string& help() const { return help_; }
  const std::vector<std::string>& label_names() const { return label_names_; }
  // Snapshot of all children, summed over shards, sorted by label values.
  virtual prometheus::MetricFamily collect() const = 0;

 protected:
  Family(std::string name, std::string help, std::vector<std::string> label_names, size_t shards);
  // Throws std::invalid_argument unless there is one value per label name.
  void check_arity(const std::vector<std::string>& label_values) const;
  prometheus::MetricFamily start_collect(prometheus::MetricType type) const;
  prometheus::ClientMetric labelled(const std::vector<std::string>& label_values) const;

  std::string name_;
  std::string help_;
  std::vector<std::string> label_names_;
  size_t shards_;
  mutable std::mutex mu_;
};

class CounterFamily final : public Family {
 public:
  CounterFamily(std::string name, std::string help, std::vector<std::string> label_names,
                size_t shards);
  // Same label values -> same child. Thread-safe; call once and cache the handle.
  Counter with(const std::vector<std::string>& label_values);
  prometheus::MetricFamily collect() const override;

 private:
  std::map<std::vector<std::string>, std::unique_ptr<ShardedCells>> children_;
};

class GaugeFamily final : public Family {
 public:
  GaugeFamily(std::string name, std::string help, std::vector<std::string> label_names,
              size_t shards);
  Gauge with(const std::vector<std::string>& label_values);
  // Drops the series from scrapes (e.g. a server that left DNS). Existing handles stay valid but
  // are detached; a later with() of the same values starts a fresh series.
  void remove(const std::vector<std::string>& label_values);
  prometheus::MetricFamily collect() const override;

 private:
  std::map<std::vector<std::string>, std::shared_ptr<GaugeCells>> children_;
};

class HistogramFamily final : public Family {
 public:
  // Throws std::invalid_argument unless bounds are finite and strictly increasing; a trailing
  // +Inf is accepted and dropped (the +Inf bucket is always present).
  HistogramFamily(std::string name, std::string help, std::vector<std::string> label_names,
                  std::vector<double> bounds, size_t shards);
  Histogram with(const std::vector<std::string>& label_values);
  const std::vector<double>& bounds() const { return bounds_; }
  prometheus::MetricFamily collect() const override;

 private:
  std::vector<double> bounds_;
  std::map<std::vector<std::string>, std::unique_ptr<HistogramCells>> children_;
};

}  // namespace ringway::metrics
