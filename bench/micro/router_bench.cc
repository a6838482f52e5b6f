// Micro-benchmarks for per-request routing work: normalize_target (fast and slow paths),
// Router::match over small and larger route tables, and rewrite_target.
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "proxy/exchange/router.h"
#include "net/request_target.h"

namespace ringway::proxy {
namespace {

std::vector<RouteConfig> demo_routes() {
  return {
      RouteConfig{.prefix = "/service1/", .upstream = "service1", .strip_prefix = true},
      RouteConfig{.prefix = "/service2/", .upstream = "service2", .strip_prefix = true},
  };
}

// n routes like /svc17/v1/ plus a catch-all "/": the request path hits a middle one.
std::vector<RouteConfig> many_routes(int n) {
  std::vector<RouteConfig> routes;
  for (int i = 0; i < n; ++i) {
    std::string prefix = "/svc";
    prefix.append(std::to_string(i)).append(i % 2 == 0 ? "/v1/" : "/");
    routes.push_back(RouteConfig{.prefix = std::move(prefix), .upstream = "u"});
  }
  routes.push_back(RouteConfig{.prefix = "/", .upstream = "u"});
  return routes;
}

void BM_NormalizeTargetFastPath(benchmark::State& state) {
  const std::string target = "/service1/api/v1/users/12345?expand=orders&limit=20";
  std::string scratch;
  for (auto _ : state) {
    std::string_view path, query;
    benchmark::DoNotOptimize(net::normalize_target(target, scratch, &path, &query));
    benchmark::DoNotOptimize(path);
  }
}
BENCHMARK(BM_NormalizeTargetFastPath);

void BM_NormalizeTargetShort(benchmark::State& state) {
  const std::string target = "/service1/ping";
  std::string scratch;
  for (auto _ : state) {
    std::string_view path, query;
    benchmark::DoNotOptimize(net::normalize_target(target, scratch, &path, &query));
    benchmark::DoNotOptimize(path);
  }
}
BENCHMARK(BM_NormalizeTargetShort);

void BM_NormalizeTargetDotSegments(benchmark::State& state) {
  const std::string target = "/service1/a/./b/../c/%2e%2e/users/12345?expand=orders";
  std::string scratch;
  for (auto _ : state) {
    std::string_view path, query;
    benchmark::DoNotOptimize(net::normalize_target(target, scratch, &path, &query));
    benchmark::DoNotOptimize(path);
  }
}
BENCHMARK(BM_NormalizeTargetDotSegments);

void BM_RouterMatchDemo(benchmark::State& state) {
  Router router(demo_routes());
  for (auto _ : state) {
    size_t index;
    benchmark::DoNotOptimize(router.match("/service2/ping", &index));
  }
}
BENCHMARK(BM_RouterMatchDemo);

void BM_RouterMatchMiss(benchmark::State& state) {
  Router router(demo_routes());
  for (auto _ : state) benchmark::DoNotOptimize(router.match("/favicon.ico"));
}
BENCHMARK(BM_RouterMatchMiss);

// Hits the last route of the longest length class: close to a full scan.
void BM_RouterMatchMany(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  Router router(many_routes(n));
  std::string path = "/svc";
  path.append(std::to_string((n - 1) / 2 * 2)).append("/v1/items/42");
  for (auto _ : state) benchmark::DoNotOptimize(router.match(path));
}
BENCHMARK(BM_RouterMatchMany)->Arg(10)->Arg(50)->Arg(200)->Arg(1000);

// Falls through every route to the catch-all "/": the worst case.
void BM_RouterMatchManyFallthrough(benchmark::State& state) {
  Router router(many_routes(static_cast<int>(state.range(0))));
  for (auto _ : state) benchmark::DoNotOptimize(router.match("/nothing/matches/here"));
}
BENCHMARK(BM_RouterMatchManyFallthrough)->Arg(10)->Arg(50)->Arg(200)->Arg(1000);

void BM_RouteAndRewrite(benchmark::State& state) {
  Router router(demo_routes());
  const std::string target = "/service1/ping?x=1";
  std::string scratch;
  std::string out;
  out.reserve(256);
  for (auto _ : state) {
    std::string_view path, query;
    net::normalize_target(target, scratch, &path, &query);
    const RouteConfig* route = router.match(path);
    out.clear();
    rewrite_target(*route, path, query, out);
    benchmark::DoNotOptimize(out.data());
  }
}
BENCHMARK(BM_RouteAndRewrite);

}  // namespace
}  // namespace ringway::proxy
