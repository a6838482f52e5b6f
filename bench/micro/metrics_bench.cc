// Micro-benchmarks for metrics/: our sharded single-writer counters and histograms against
// prometheus-cpp's shared ones (CAS loop / mutex), at 1 and 2 writer threads, and render() cost.
#include <benchmark/benchmark.h>
#include <prometheus/counter.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <array>
#include <string>

#include "metrics/registry.h"

namespace ringway::metrics {
namespace {

constexpr size_t kMaxThreads = 8;

// Latencies spread over the bucket range so the bucket search is not a single predicted branch.
const std::array<double, 1024>& sample_latencies() {
  static const auto values = [] {
    std::array<double, 1024> v{};
    uint64_t x = 88172645463325252ull;  // xorshift64: deterministic, no <random> state to share
    for (double& d : v) {
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
      d = 20e-6 * static_cast<double>(1u << (x % 12)) * (1 + static_cast<double>(x % 1000) / 1000);
    }
    return v;
  }();
  return values;
}

// One registry per benchmark family, shared by all benchmark threads (the point is contention).
Registry& our_registry() {
  static Registry reg(kMaxThreads);
  return reg;
}

void BM_RingwayCounterInc(benchmark::State& state) {
  static const Counter c =
      our_registry().add_counter("bench_requests_total", "", {"route"}).with({"r"});
  const size_t shard = static_cast<size_t>(state.thread_index());
  for (auto _ : state) c.inc(shard);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RingwayCounterInc)->Threads(1)->Threads(2);

void BM_PrometheusCounterIncrement(benchmark::State& state) {
  static auto reg = std::make_shared<prometheus::Registry>();
  static prometheus::Counter& c =
      prometheus::BuildCounter().Name("bench_requests_total").Register(*reg).Add({{"route", "r"}});
  for (auto _ : state) c.Increment();
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_PrometheusCounterIncrement)->Threads(1)->Threads(2);

void BM_RingwayHistogramObserve(benchmark::State& state) {
  static const Histogram h =
      our_registry().add_histogram("bench_duration_seconds", "", {"route"}).with({"r"});
  const size_t shard = static_cast<size_t>(state.thread_index());
  const auto& values = sample_latencies();
  size_t i = 0;
  for (auto _ : state) h.observe(shard, values[i++ & 1023]);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RingwayHistogramObserve)->Threads(1)->Threads(2);

void BM_PrometheusHistogramObserve(benchmark::State& state) {
  static auto reg = std::make_shared<prometheus::Registry>();
  static prometheus::Histogram& h = prometheus::BuildHistogram()
                                        .Name("bench_duration_seconds")
                                        .Register(*reg)
                                        .Add({{"route", "r"}}, latency_buckets());
  const auto& values = sample_latencies();
  size_t i = 0;
  for (auto _ : state) h.Observe(values[i++ & 1023]);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_PrometheusHistogramObserve)->Threads(1)->Threads(2);

// ~200 series shaped like ringway's: 120 upstream request counters, 60 health gauges and 20
// latency histograms (each histogram is one series of 22 sample lines).
Registry& populated_registry() {
  static Registry reg(4);
  static const bool populated = [](Registry* r) {
    auto& req = r->add_counter("ringway_upstream_requests_total", "Upstream requests.",
                               {"upstream", "server", "code"});
    auto& healthy =
        r->add_gauge("ringway_upstream_server_healthy", "Health.", {"upstream", "server"});
    auto& lat = r->add_histogram("ringway_http_request_duration_seconds", "Latency.", {"route"});
    const auto& values = sample_latencies();
    for (int u = 0; u < 2; ++u) {
      const std::string up = "service" + std::to_string(u + 1);
      for (int s = 0; s < 30; ++s) {
        const std::string server = "10.0." + std::to_string(u) + "." + std::to_string(s) + ":8001";
        healthy.with({up, server}).set(1);
        if (s >= 15) continue;  // 2 upstreams x 15 servers x 4 codes = 120 counters
        uint64_t n = 1;
        for (const char* code : {"200", "404", "502", "503"}) {
          req.with({up, server, code}).inc(static_cast<size_t>(s % 4), n *= 7);
        }
      }
    }
    for (int i = 0; i < 20; ++i) {
      Histogram h = lat.with({"/route" + std::to_string(i) + "/"});
      for (size_t k = 0; k < 1000; ++k) h.observe(k % 4, values[k]);
    }
    return true;
  }(&reg);
  (void)populated;
  return reg;
}

void BM_RingwayRender(benchmark::State& state) {
  Registry& reg = populated_registry();
  const auto format = state.range(0) == 0 ? Format::kPrometheusText : Format::kOpenMetrics;
  size_t bytes = 0;
  for (auto _ : state) {
    std::string out = reg.render(format);
    bytes = out.size();
    benchmark::DoNotOptimize(out);
  }
  state.counters["bytes"] = static_cast<double>(bytes);
  state.SetLabel(format == Format::kPrometheusText ? "text" : "openmetrics");
}
BENCHMARK(BM_RingwayRender)->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace ringway::metrics
