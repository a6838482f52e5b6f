// Registry bookkeeping and rendering. Text output goes through prometheus::TextSerializer from
// the same snapshot the OpenMetrics writer uses, so both formats always agree on the numbers.
#include "metrics/registry.h"

#include <stdexcept>

#include "metrics/openmetrics.h"
#include "metrics/process_collector.h"
#include "prometheus/text_serializer.h"

namespace ringway::metrics {
namespace {

constexpr std::string_view kTotalSuffix = "_total";

// prometheus-cpp 1.0.1 writes HELP verbatim; the text format (0.0.4) requires `\` and newline
// in HELP to be escaped, or a multi-line help string would break the exposition.
std::string escape_help(const std::string& help) {
  std::string out;
  out.reserve(help.size());
  for (const char c : help) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace

Registry::Registry(size_t shards) : shards_(shards) {
  if (shards == 0) throw std::invalid_argument("metrics registry needs at least one shard");
}

Registry::~Registry() = default;

void Registry::reserve_names(const std::vector<std::string>& names) {
  for (const auto& n : names) {
    if (taken_names_.count(n) != 0) {
      throw std::invalid_argument("metric name '" + n + "' is already used by another family");
    }
  }
  taken_names_.insert(names.begin(), names.end());
}

template <typename F>
F& Registry::add(std::unique_ptr<F> family, std::vector<std::string> names) {
  F& ref = *family;
  std::lock_guard lock(mu_);
  reserve_names(names);
  families_.push_back(std::move(family));
  return ref;
}

CounterFamily& Registry::add_counter(std::string name, std::string help,
                                     std::vector<std::string> label_names) {
  std::vector<std::string> names = {name};
  // The OpenMetrics family name; reserving it keeps a gauge "x" from clashing with counter
  // "x_total".
  if (name.size() > kTotalSuffix.size() && name.ends_with(kTotalSuffix)) {
    names.push_back(name.substr(0, name.size() - kTotalSuffix.size()));
  } else {
    names.push_back(name + std::string(kTotalSuffix));
  }
  auto f = std::make_unique<CounterFamily>(std::move(name), std::move(help), std::move(label_names),
                                           shards_);
  return add(std::move(f), std::move(names));
}

GaugeFamily& Registry::add_gauge(std::string name, std::string help,
                                 std::vector<std::string> label_names) {
  std::vector<std::string> names = {name};
  auto f = std::make_unique<GaugeFamily>(std::move(name), std::move(help), std::move(label_names),
                                         shards_);
  return add(std::move(f), std::move(names));
}

HistogramFamily& Registry::add_histogram(std::string name, std::string help,
                                         std::vector<std::string> label_names,
                                         std::vector<double> bounds) {
  std::vector<std::string> names = {name, name + "_bucket", name + "_count", name + "_sum"};
  auto f = std::make_unique<HistogramFamily>(std::move(name), std::move(help),
                                             std::move(label_names), std::move(bounds), shards_);
  return add(std::move(f), std::move(names));
}

void Registry::add_collect_hook(std::function<void()> hook) {
  std::lock_guard lock(mu_);
  hooks_.push_back(std::move(hook));
}

void Registry::enable_process_metrics() {
  std::lock_guard lock(mu_);
  if (process_metrics_) return;
  std::vector<std::string> names;
  for (const auto n : process_metric_names()) names.emplace_back(n);
  // process_cpu_seconds_total is a counter: its OpenMetrics family name is taken too.
  names.emplace_back("process_cpu_seconds");
  reserve_names(names);
  process_metrics_ = true;
}

std::vector<prometheus::MetricFamily> Registry::Collect() const {
  std::vector<prometheus::MetricFamily> out;
  bool process = false;
  {
    std::lock_guard lock(mu_);
    out.reserve(families_.size() + 6);
    // Families are never removed, so collecting under mu_ only blocks concurrent add_*().
    for (const auto& f : families_) out.push_back(f->collect());
    process = process_metrics_;
  }
  if (process) {
    for (auto& f : collect_process_metrics()) out.push_back(std::move(f));
  }
  return out;
}

std::string Registry::render(Format f) {
  std::lock_guard render_lock(render_mu_);
  std::vector<std::function<void()>> hooks;
  {
    std::lock_guard lock(mu_);
    hooks = hooks_;
  }
  for (const auto& h : hooks) h();

  std::vector<prometheus::MetricFamily> families = Collect();
  if (f == Format::kOpenMetrics) return serialize_openmetrics(families);
  for (auto& fam : families) fam.help = escape_help(fam.help);
  return prometheus::TextSerializer().Serialize(families);
}

}  // namespace ringway::metrics
