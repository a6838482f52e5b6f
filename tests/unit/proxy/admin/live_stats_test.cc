// Tests for proxy/admin/live_stats.*: histogram_quantile matches Prometheus' interpolation,
// and rates / quantiles / series come from differences between per-second snapshots.
#include "proxy/admin/live_stats.h"

#include <gtest/gtest.h>

#include <cmath>

#include "metrics/registry.h"

namespace ringway::proxy {
namespace {

TEST(HistogramQuantile, InterpolatesInsideTheBucket) {
  const std::vector<double> bounds = {0.1, 0.2, 0.4};
  // 10 in (0, 0.1], 10 in (0.1, 0.2], 0 in (0.2, 0.4], 0 above.
  const std::vector<double> cum = {10, 20, 20, 20};
  EXPECT_DOUBLE_EQ(histogram_quantile(0.5, bounds, cum), 0.1);
  EXPECT_DOUBLE_EQ(histogram_quantile(0.25, bounds, cum), 0.05);
  EXPECT_DOUBLE_EQ(histogram_quantile(0.75, bounds, cum), 0.15);
  EXPECT_TRUE(std::isnan(histogram_quantile(0.5, bounds, {0, 0, 0, 0})));
  // Everything above the last bound: the answer is that bound, as in Prometheus.
  EXPECT_DOUBLE_EQ(histogram_quantile(0.99, bounds, {0, 0, 0, 5}), 0.4);
}

TEST(LiveStats, RatesAndQuantilesFromSnapshots) {
  metrics::Registry reg(1);
  auto& requests = reg.add_counter("ringway_http_requests_total", "h", {"route", "code"});
  auto& duration = reg.add_histogram("ringway_http_request_duration_seconds", "h", {"route"});
  metrics::Counter ok = requests.with({"/a/", "200"});
  metrics::Counter bad = requests.with({"/a/", "503"});
  metrics::Histogram h = duration.with({"/a/"});
  LiveStats stats;
  int64_t t = 1000000;
  stats.sample(t, reg.Collect());
  for (int s = 1; s <= 6; ++s) {
    ok.inc(0, 10);
    bad.inc(0, 2);
    for (int i = 0; i < 12; ++i) h.observe(0, 0.003);
    stats.sample(t + s * 1000, reg.Collect());
  }
  auto routes = stats.routes_json();
  ASSERT_EQ(routes.size(), 1u);
  const auto& r = routes[0];
  EXPECT_EQ(r["route"], "/a/");
  EXPECT_DOUBLE_EQ(r["rps"].get<double>(), 12.0);
  EXPECT_DOUBLE_EQ(r["rate_2xx"].get<double>(), 10.0);
  EXPECT_DOUBLE_EQ(r["rate_5xx"].get<double>(), 2.0);
  EXPECT_DOUBLE_EQ(r["rate_4xx"].get<double>(), 0.0);
  // All observations are 3 ms: both quantiles fall in the bucket holding 0.003.
  EXPECT_GT(r["p50_ms"].get<double>(), 0.0);
  EXPECT_LE(r["p99_ms"].get<double>(), 5.0);
  EXPECT_GE(r["p99_ms"].get<double>(), r["p50_ms"].get<double>());
  EXPECT_EQ(r["series"]["rps"].size(), 6u);
  EXPECT_DOUBLE_EQ(r["series"]["rps"][5].get<double>(), 12.0);
}

TEST(LiveStats, NoticesReloadResults) {
  metrics::Registry reg(1);
  auto& reloads = reg.add_counter("ringway_config_reloads_total", "h", {"result"});
  LiveStats stats;
  stats.sample(1000, reg.Collect());
  EXPECT_EQ(stats.last_reload_json()["result"], "none");
  reloads.with({"error"}).inc(0);
  stats.sample(2000, reg.Collect());
  EXPECT_EQ(stats.last_reload_json()["result"], "error");
  EXPECT_EQ(stats.last_reload_json()["unix_ms"], 2000);
  reloads.with({"success"}).inc(0);
  stats.sample(3000, reg.Collect());
  EXPECT_EQ(stats.last_reload_json()["result"], "success");
}

}  // namespace
}  // namespace ringway::proxy
