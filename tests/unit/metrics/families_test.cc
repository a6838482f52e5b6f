// Tests metrics/families.* and metrics/sharded_cell.h: handle semantics, shard summing, histogram
// bucketing and the validation families do at registration.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <stdexcept>
#include <thread>

#include "metrics/registry.h"

namespace ringway::metrics {
namespace {

TEST(MetricsShardedCells, SumsEveryShardAndTheSharedRow) {
  ShardedCells cells(3, 2);
  cells.add(0, 0, 5);
  cells.add(2, 0, 7);
  cells.add_shared(0, 1);
  cells.add(1, 1, 9);
  EXPECT_EQ(cells.sum(0), 13u);
  EXPECT_EQ(cells.sum(1), 9u);
  ShardedCells sums(2, 1);
  sums.add_double(0, 0, 0.25);
  sums.add_double(1, 0, 0.5);
  sums.add_double_shared(0, 1.0);
  EXPECT_DOUBLE_EQ(sums.sum_double(0), 1.75);
}

TEST(MetricsCounter, SameLabelsSameChildDifferentLabelsDifferentChild) {
  Registry reg(2);
  auto& fam = reg.add_counter("t_requests_total", "Requests.", {"route", "code"});
  Counter a = fam.with({"r1", "200"});
  Counter a2 = fam.with({"r1", "200"});
  Counter b = fam.with({"r1", "500"});
  a.inc(0);
  a2.inc(1, 4);
  b.inc(1);
  EXPECT_EQ(a.value(), 5u);
  EXPECT_EQ(a2.value(), 5u);
  EXPECT_EQ(b.value(), 1u);
}

TEST(MetricsCounter, WrongLabelArityThrows) {
  Registry reg(1);
  auto& fam = reg.add_counter("t_total", "", {"a"});
  EXPECT_THROW(fam.with({}), std::invalid_argument);
  EXPECT_THROW(fam.with({"x", "y"}), std::invalid_argument);
}

TEST(MetricsCounter, TwoThreadsOnTwoShardsSumExactly) {
  constexpr uint64_t kIters = 1'000'000;
  Registry reg(2);
  Counter c = reg.add_counter("t_total", "", {}).with({});
  std::thread t0([&] {
    for (uint64_t i = 0; i < kIters; ++i) c.inc(0);
  });
  std::thread t1([&] {
    for (uint64_t i = 0; i < kIters; ++i) c.inc(1);
  });
  t0.join();
  t1.join();
  EXPECT_EQ(c.value(), 2 * kIters);
}

TEST(MetricsCounter, SharedIncrementsFromManyThreadsAreNotLost) {
  Registry reg(1);
  Counter c = reg.add_counter("t_total", "", {}).with({});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 100'000; ++i) c.inc_shared();
    });
  }
  for (auto& t : threads) t.join();
  c.inc(0, 3);
  EXPECT_EQ(c.value(), 400'003u);
}

TEST(MetricsGauge, SetPlusShardedDeltas) {
  Registry reg(2);
  auto& fam = reg.add_gauge("t_inflight", "", {"upstream"});
  Gauge g = fam.with({"u"});
  g.set(10);
  g.add(0, 3);
  g.add(1, -5);
  g.add_shared(-1);
  EXPECT_DOUBLE_EQ(g.value(), 7);
  g.add(0, -3);
  EXPECT_DOUBLE_EQ(g.value(), 4);
  g.set(0.5);
  EXPECT_DOUBLE_EQ(g.value(), -5.5);
}

TEST(MetricsGauge, RemoveDropsSeriesButOldHandleStaysUsable) {
  Registry reg(1);
  auto& fam = reg.add_gauge("t_healthy", "", {"server"});
  Gauge old = fam.with({"a"});
  old.set(1);
  fam.remove({"a"});
  EXPECT_TRUE(fam.collect().metric.empty());
  old.set(2);  // detached, must not crash (ASan checks the memory is still alive)
  EXPECT_DOUBLE_EQ(old.value(), 2);
  Gauge fresh = fam.with({"a"});
  EXPECT_DOUBLE_EQ(fresh.value(), 0);
  ASSERT_EQ(fam.collect().metric.size(), 1u);
}

TEST(MetricsHistogram, BucketsAreInclusiveAndCumulative) {
  Registry reg(2);
  Histogram h = reg.add_histogram("t_seconds", "", {}, {0.001, 0.01, 0.1}).with({});
  h.observe(0, 0.0005);                                    // <= 0.001
  h.observe(1, 0.001);                                     // exactly on a bound: le is inclusive
  h.observe(0, 0.05);                                      // <= 0.1
  h.observe(1, 3.0);                                       // +Inf only
  h.observe(0, std::numeric_limits<double>::quiet_NaN());  // +Inf, as in the Go client
  EXPECT_EQ(h.cumulative_counts(), (std::vector<uint64_t>{2, 2, 3, 5}));
  EXPECT_EQ(h.count(), 5u);
  EXPECT_TRUE(std::isnan(h.sum()));  // NaN poisons the sum, as in every client
}

TEST(MetricsHistogram, SumAndCountAcrossShards) {
  Registry reg(3);
  Histogram h = reg.add_histogram("t_seconds", "", {}, {1, 2}).with({});
  h.observe(0, 0.5);
  h.observe(1, 1.5);
  h.observe(2, 2.5);
  h.observe_shared(0.25);
  EXPECT_EQ(h.count(), 4u);
  EXPECT_DOUBLE_EQ(h.sum(), 4.75);
  EXPECT_EQ(h.cumulative_counts(), (std::vector<uint64_t>{2, 3, 4}));
}

TEST(MetricsHistogram, BoundsValidation) {
  Registry reg(1);
  EXPECT_THROW(reg.add_histogram("a_seconds", "", {}, {1, 1}), std::invalid_argument);
  EXPECT_THROW(reg.add_histogram("b_seconds", "", {}, {2, 1}), std::invalid_argument);
  EXPECT_THROW(reg.add_histogram("c_seconds", "", {}, {std::nan("")}), std::invalid_argument);
  EXPECT_THROW(reg.add_histogram("d_seconds", "", {"le"}, {1}), std::invalid_argument);
  auto& f = reg.add_histogram("e_seconds", "", {}, {1, std::numeric_limits<double>::infinity()});
  EXPECT_EQ(f.bounds(), std::vector<double>{1});
}

TEST(MetricsHistogram, LatencyBucketsSpan50usTo10sAndIncrease) {
  const auto b = latency_buckets();
  ASSERT_GE(b.size(), 10u);
  EXPECT_DOUBLE_EQ(b.front(), 50e-6);
  EXPECT_DOUBLE_EQ(b.back(), 10);
  for (size_t i = 1; i < b.size(); ++i) EXPECT_LT(b[i - 1], b[i]);
  // Sub-millisecond resolution is the point: at least 5 bounds below 1ms.
  size_t below_ms = 0;
  for (double x : b) below_ms += x < 0.001;
  EXPECT_GE(below_ms, 5u);
}

TEST(MetricsRegistry, RejectsBadAndClashingNames) {
  Registry reg(1);
  reg.add_counter("x_total", "", {});
  EXPECT_THROW(reg.add_counter("x_total", "", {}), std::invalid_argument);
  EXPECT_THROW(reg.add_gauge("x", "", {}), std::invalid_argument);  // OpenMetrics family of x_total
  reg.add_histogram("h_seconds", "", {});
  EXPECT_THROW(reg.add_gauge("h_seconds_count", "", {}), std::invalid_argument);
  EXPECT_THROW(reg.add_gauge("bad-name", "", {}), std::invalid_argument);
  EXPECT_THROW(reg.add_gauge("ok", "", {"bad label"}), std::invalid_argument);
  EXPECT_THROW(reg.add_gauge("ok2", "", {"a", "a"}), std::invalid_argument);
  EXPECT_THROW(Registry(0), std::invalid_argument);
  reg.enable_process_metrics();
  reg.enable_process_metrics();  // idempotent
  EXPECT_THROW(reg.add_gauge("process_open_fds", "", {}), std::invalid_argument);
}

}  // namespace
}  // namespace ringway::metrics
