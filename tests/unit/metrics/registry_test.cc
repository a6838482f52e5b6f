// Tests metrics/registry.*: the exact Prometheus text exposition, collect hooks, and scrapes that
// run while workers are writing.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "metrics/registry.h"

namespace ringway::metrics {
namespace {

// One family of each type with two shards written, labels that need escaping, and a histogram
// whose observations land in different buckets on different shards.
void populate(Registry& reg) {
  auto& req =
      reg.add_counter("t_http_requests_total", "Requests by route and code.", {"route", "code"});
  req.with({"svc1", "200"}).inc(0, 3);
  req.with({"svc1", "200"}).inc(1, 2);
  req.with({"a\"b\\c\nd", "502"}).inc(1);
  auto& healthy = reg.add_gauge("t_server_healthy", "1 if healthy.\nElse 0 \\ maybe.", {"server"});
  healthy.with({"10.0.0.1:80"}).set(1);
  Gauge inflight = reg.add_gauge("t_inflight", "", {}).with({});
  inflight.add(0, 4);
  inflight.add(1, -1);
  auto& lat = reg.add_histogram("t_duration_seconds", "Latency.", {"route"}, {0.001, 0.01, 0.1});
  Histogram h = lat.with({"svc1"});
  h.observe(0, 0.0005);
  h.observe(1, 0.005);
  h.observe(1, 0.005);
  h.observe(0, 0.25);
}

TEST(MetricsRegistryRender, ExactPrometheusText) {
  Registry reg(2);
  populate(reg);
  // Children are sorted by label values ('a' < 's'); HELP escapes \ and newline, label values
  // escape \, " and newline; buckets are cumulative and end with +Inf == count.
  const std::string expected =
      "# HELP t_http_requests_total Requests by route and code.\n"
      "# TYPE t_http_requests_total counter\n"
      "t_http_requests_total{route=\"a\\\"b\\\\c\\nd\",code=\"502\"} 1\n"
      "t_http_requests_total{route=\"svc1\",code=\"200\"} 5\n"
      "# HELP t_server_healthy 1 if healthy.\\nElse 0 \\\\ maybe.\n"
      "# TYPE t_server_healthy gauge\n"
      "t_server_healthy{server=\"10.0.0.1:80\"} 1\n"
      "# TYPE t_inflight gauge\n"
      "t_inflight 3\n"
      "# HELP t_duration_seconds Latency.\n"
      "# TYPE t_duration_seconds histogram\n"
      "t_duration_seconds_count{route=\"svc1\"} 4\n"
      "t_duration_seconds_sum{route=\"svc1\"} 0.2605\n"
      "t_duration_seconds_bucket{route=\"svc1\",le=\"0.001\"} 1\n"
      "t_duration_seconds_bucket{route=\"svc1\",le=\"0.01\"} 3\n"
      "t_duration_seconds_bucket{route=\"svc1\",le=\"0.1\"} 3\n"
      "t_duration_seconds_bucket{route=\"svc1\",le=\"+Inf\"} 4\n";
  EXPECT_EQ(reg.render(Format::kPrometheusText), expected);
}

TEST(MetricsRegistryRender, FamiliesWithoutChildrenRenderOnlyMetadata) {
  Registry reg(1);
  reg.add_counter("t_errors_total", "Errors.", {"kind"});
  reg.add_histogram("t_seconds", "", {"route"});
  EXPECT_EQ(reg.render(Format::kPrometheusText),
            "# HELP t_errors_total Errors.\n"
            "# TYPE t_errors_total counter\n"
            "# TYPE t_seconds histogram\n");
}

TEST(MetricsRegistryRender, UnlabelledFamiliesExportZeroFromTheStart) {
  Registry reg(1);
  reg.add_counter("t_accepted_total", "", {});
  reg.add_histogram("t_seconds", "", {}, {1});
  EXPECT_EQ(reg.render(Format::kPrometheusText),
            "# TYPE t_accepted_total counter\n"
            "t_accepted_total 0\n"
            "# TYPE t_seconds histogram\n"
            "t_seconds_count 0\n"
            "t_seconds_sum 0\n"
            "t_seconds_bucket{le=\"1\"} 0\n"
            "t_seconds_bucket{le=\"+Inf\"} 0\n");
}

TEST(MetricsRegistryRender, CollectHooksRunBeforeEachRender) {
  Registry reg(1);
  Gauge conns = reg.add_gauge("t_conns", "", {}).with({});
  int calls = 0;
  reg.add_collect_hook([&] { conns.set(++calls * 10); });
  EXPECT_NE(reg.render(Format::kPrometheusText).find("t_conns 10\n"), std::string::npos);
  EXPECT_NE(reg.render(Format::kOpenMetrics).find("t_conns 20.0\n"), std::string::npos);
  EXPECT_EQ(calls, 2);
}

TEST(MetricsRegistryRender, CollectableSnapshotMatchesHandles) {
  Registry reg(2);
  populate(reg);
  const auto fams = reg.Collect();
  ASSERT_EQ(fams.size(), 4u);
  EXPECT_EQ(fams[0].name, "t_http_requests_total");
  EXPECT_EQ(fams[0].type, prometheus::MetricType::Counter);
  EXPECT_EQ(fams[3].metric.at(0).histogram.sample_count, 4u);
}

// Writers hammer their own shards while a scraper renders in a loop. Every scrape must see
// monotonic counters and a histogram whose +Inf bucket equals its count; the final totals must be
// exact. Run under ASan/UBSan (and TSan clean: every shared word is a std::atomic).
TEST(MetricsRegistryRender, ScrapeWhileWritersRun) {
  constexpr int kWriters = 3;
  constexpr uint64_t kIters = 200'000;
  Registry reg(kWriters);
  auto& fam = reg.add_counter("t_total", "", {"w"});
  Histogram h = reg.add_histogram("t_seconds", "", {}).with({});
  Gauge g = reg.add_gauge("t_gauge", "", {}).with({});
  std::atomic<int> running{kWriters};
  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      Counter mine = fam.with({std::to_string(w)});
      Counter shared = fam.with({"all"});
      for (uint64_t i = 0; i < kIters; ++i) {
        mine.inc(w);
        shared.inc(w);
        h.observe(w, 0.0001 * static_cast<double>(i % 100));
        g.add(w, (i % 2) ? -1 : 1);
      }
      running.fetch_sub(1);
    });
  }
  uint64_t last_all = 0;
  int scrapes = 0;
  while (running.load() > 0 || scrapes == 0) {
    const auto fams = reg.Collect();
    ASSERT_EQ(fams.size(), 3u);
    for (const auto& m : fams[0].metric) {
      if (m.label.at(0).value == "all") {
        const auto v = static_cast<uint64_t>(m.counter.value);
        EXPECT_GE(v, last_all);
        last_all = v;
      }
    }
    const auto& hist = fams[1].metric.at(0).histogram;
    EXPECT_EQ(hist.bucket.back().cumulative_count, hist.sample_count);
    for (size_t i = 1; i < hist.bucket.size(); ++i) {
      EXPECT_LE(hist.bucket[i - 1].cumulative_count, hist.bucket[i].cumulative_count);
    }
    (void)reg.render(scrapes % 2 ? Format::kOpenMetrics : Format::kPrometheusText);
    ++scrapes;
  }
  for (auto& t : writers) t.join();
  EXPECT_EQ(fam.with({"all"}).value(), kWriters * kIters);
  for (int w = 0; w < kWriters; ++w) EXPECT_EQ(fam.with({std::to_string(w)}).value(), kIters);
  EXPECT_EQ(h.count(), kWriters * kIters);
  EXPECT_DOUBLE_EQ(g.value(), 0);
  EXPECT_GT(scrapes, 0);
}

}  // namespace
}  // namespace ringway::metrics
