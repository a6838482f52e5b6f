// Family bookkeeping: label validation, child lookup under the family mutex, and the scrape-time
// conversion of sharded cells into prometheus-cpp's data model (MetricFamily / ClientMetric).
#include "metrics/families.h"

#include <cmath>
#include <set>
#include <stdexcept>

#include "prometheus/check_names.h"

namespace ringway::metrics {

std::vector<double> latency_buckets() {
  // A loopback proxy hop is 20-200us, a slow upstream is seconds: keep the resolution where the
  // proxy's own cost shows (sub-ms) and a coarse tail up to the default 10s timeout scale.
  return {0.00005, 0.0001, 0.0002, 0.0003, 0.0005, 0.00075, 0.001, 0.002, 0.005, 0.01,
          0.025,   0.05,   0.1,    0.25,   0.5,    1,       2.5,   5,     10};
}

std::vector<uint64_t> HistogramCells::cumulative() const {
  std::vector<uint64_t> out(bounds->size() + 1);
  uint64_t running = 0;
  for (size_t i = 0; i < out.size(); ++i) {
    running += cells.sum(i);
    out[i] = running;
  }
  return out;
}

uint64_t Histogram::count() const {
  uint64_t total = 0;
  for (size_t i = 0; i <= cells_->bounds->size(); ++i) total += cells_->cells.sum(i);
  return total;
}

double Gauge::value() const {
  const auto deltas = static_cast<int64_t>(cells_->deltas.sum(0));
  return cells_->set_value.load(std::memory_order_relaxed) + static_cast<double>(deltas);
}

// ---- Family -------------------------------------------------------------------------------------

Family::Family(std::string name, std::string help, std::vector<std::string> label_names,
               size_t shards)
    : name_(std::move(name)),
      help_(std::move(help)),
      label_names_(std::move(label_names)),
      shards_(shards) {
  if (!prometheus::CheckMetricName(name_)) {
    throw std::invalid_argument("invalid metric name '" + name_ + "'");
  }
  std::set<std::string> seen;
  for (const auto& l : label_names_) {
    if (!prometheus::CheckLabelName(l)) {
      throw std::invalid_argument("metric " + name_ + ": invalid label name '" + l + "'");
    }
    if (!seen.insert(l).second) {
      throw std::invalid_argument("metric " + name_ + ": duplicate label name '" + l + "'");
    }
  }
  if (shards_ == 0) throw std::invalid_argument("metric " + name_ + ": zero shards");
}

void Family::check_arity(const std::vector<std::string>& label_values) const {
  if (label_values.size() != label_names_.size()) {
    throw std::invalid_argument("metric " + name_ + ": expected " +
                                std::to_string(label_names_.size()) + " label values, got " +
                                std::to_string(label_values.size()));
  }
}

prometheus::MetricFamily Family::start_collect(prometheus::MetricType type) const {
  prometheus::MetricFamily f;
  f.name = name_;
  f.help = help_;
  f.type = type;
  return f;
}

prometheus::ClientMetric Family::labelled(const std::vector<std::string>& label_values) const {
  prometheus::ClientMetric m;
  m.label.reserve(label_names_.size());
  for (size_t i = 0; i < label_names_.size(); ++i) {
    m.label.push_back({label_names_[i], label_values[i]});
  }
  return m;
}

// ---- Counter ------------------------------------------------------------------------------------

CounterFamily::CounterFamily(std::string name, std::string help,
                             std::vector<std::string> label_names, size_t shards)
    : Family(std::move(name), std::move(help), std::move(label_names), shards) {
  // An unlabelled counter exists from registration and scrapes as 0, as in the Go client.
  if (label_names_.empty()) with({});
}

Counter CounterFamily::with(const std::vector<std::string>& label_values) {
  check_arity(label_values);
  std::lock_guard lock(mu_);
  auto& slot = children_[label_values];
  if (!slot) slot = std::make_unique<ShardedCells>(shards_, 1);
  return Counter(slot.get());
}

prometheus::MetricFamily CounterFamily::collect() const {
  auto f = start_collect(prometheus::MetricType::Counter);
  std::lock_guard lock(mu_);
  f.metric.reserve(children_.size());
  for (const auto& [values, cells] : children_) {
    auto m = labelled(values);
    m.counter.value = static_cast<double>(cells->sum(0));
    f.metric.push_back(std::move(m));
  }
  return f;
}

// ---- Gauge --------------------------------------------------------------------------------------

GaugeFamily::GaugeFamily(std::string name, std::string help, std::vector<std::string> label_names,
                         size_t shards)
    : Family(std::move(name), std::move(help), std::move(label_names), shards) {
  if (label_names_.empty()) with({});
}

Gauge GaugeFamily::with(const std::vector<std::string>& label_values) {
  check_arity(label_values);
  std::lock_guard lock(mu_);
  auto& slot = children_[label_values];
  if (!slot) slot = std::make_shared<GaugeCells>(shards_);
  return Gauge(slot);
}

void GaugeFamily::remove(const std::vector<std::string>& label_values) {
  std::lock_guard lock(mu_);
  children_.erase(label_values);
}

prometheus::MetricFamily GaugeFamily::collect() const {
  auto f = start_collect(prometheus::MetricType::Gauge);
  std::lock_guard lock(mu_);
  f.metric.reserve(children_.size());
  for (const auto& [values, cells] : children_) {
    auto m = labelled(values);
    m.gauge.value = Gauge(cells).value();
    f.metric.push_back(std::move(m));
  }
  return f;
}

// ---- Histogram ----------------------------------------------------------------------------------

namespace {

std::vector<double> checked_bounds(const std::string& name, std::vector<double> bounds) {
  if (!bounds.empty() && bounds.back() == INFINITY) bounds.pop_back();
  for (size_t i = 0; i < bounds.size(); ++i) {
    if (!std::isfinite(bounds[i])) {
      throw std::invalid_argument("histogram " + name + ": bucket bounds must be finite");
    }
    if (i > 0 && !(bounds[i - 1] < bounds[i])) {
      throw std::invalid_argument("histogram " + name + ": bucket bounds must increase strictly");
    }
  }
  return bounds;
}

}  // namespace

HistogramFamily::HistogramFamily(std::string name, std::string help,
                                 std::vector<std::string> label_names, std::vector<double> bounds,
                                 size_t shards)
    : Family(std::move(name), std::move(help), std::move(label_names), shards),
      bounds_(checked_bounds(name_, std::move(bounds))) {
  for (const auto& l : label_names_) {
    // The exposition adds `le` to every bucket line; a user label of that name would collide.
    if (l == "le") throw std::invalid_argument("histogram " + name_ + ": label 'le' is reserved");
  }
  if (label_names_.empty()) with({});
}

Histogram HistogramFamily::with(const std::vector<std::string>& label_values) {
  check_arity(label_values);
  std::lock_guard lock(mu_);
  auto& slot = children_[label_values];
  if (!slot) slot = std::make_unique<HistogramCells>(&bounds_, shards_);
  return Histogram(slot.get());
}

prometheus::MetricFamily HistogramFamily::collect() const {
  auto f = start_collect(prometheus::MetricType::Histogram);
  std::lock_guard lock(mu_);
  f.metric.reserve(children_.size());
  for (const auto& [values, cells] : children_) {
    auto m = labelled(values);
    const std::vector<uint64_t> cumulative = cells->cumulative();
    m.histogram.bucket.reserve(cumulative.size());
    for (size_t i = 0; i < bounds_.size(); ++i) {
      m.histogram.bucket.push_back({cumulative[i], bounds_[i]});
    }
    m.histogram.bucket.push_back({cumulative.back(), INFINITY});
    // Count is the +Inf bucket of this same snapshot, so the two never disagree.
    m.histogram.sample_count = cumulative.back();
    m.histogram.sample_sum = cells->cells.sum_double(cells->sum_word());
    f.metric.push_back(std::move(m));
  }
  return f;
}

}  // namespace ringway::metrics
