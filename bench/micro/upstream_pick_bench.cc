// Micro-benchmarks for the per-request upstream pick: p2c (the default), least_request and
// round_robin over a small and a larger healthy pool, as one worker's UpstreamRuntime sees it.
#include <benchmark/benchmark.h>

#include <memory>
#include <string>

#include "metrics/registry.h"
#include "proxy/upstream/upstream_runtime.h"
#include "proxy/proxy_metrics.h"

namespace ringway::proxy {
namespace {

// An upstream of n healthy servers with some in-flight spread, so p2c compares real loads.
struct Pool {
  Pool(BalancePolicy policy, int n) {
    config.name = "u";
    config.balance = policy;
    UpstreamMembers members;
    for (int i = 0; i < n; ++i) {
      ServerAddress a;
      a.label = a.configured = "10.0.0." + std::to_string(i + 1) + ":8001";
      members.servers.push_back(a);
    }
    runtime = std::make_unique<UpstreamRuntime>(config, metrics, 0);
    runtime->apply(config, members);
    for (int i = 0; i < n; ++i) runtime->servers()[i]->in_flight = static_cast<uint32_t>(i % 4);
  }
  metrics::Registry registry{1};
  ProxyMetrics metrics{registry};
  UpstreamConfig config;
  std::unique_ptr<UpstreamRuntime> runtime;
};

void pick_loop(benchmark::State& state, BalancePolicy policy) {
  Pool pool(policy, static_cast<int>(state.range(0)));
  base::TimePoint now{base::Millis{1000}};
  for (auto _ : state) {
    UpstreamRuntime::Pick p = pool.runtime->pick(now, nullptr);
    benchmark::DoNotOptimize(p.server);
  }
}

void BM_PickP2C(benchmark::State& state) {
  pick_loop(state, BalancePolicy::kP2C);
}
BENCHMARK(BM_PickP2C)->Arg(2)->Arg(16);

void BM_PickLeastRequest(benchmark::State& state) {
  pick_loop(state, BalancePolicy::kLeastRequest);
}
BENCHMARK(BM_PickLeastRequest)->Arg(2)->Arg(16);

void BM_PickRoundRobin(benchmark::State& state) {
  pick_loop(state, BalancePolicy::kRoundRobin);
}
BENCHMARK(BM_PickRoundRobin)->Arg(2)->Arg(16);

}  // namespace
}  // namespace ringway::proxy
