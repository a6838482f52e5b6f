// Tests for proxy/upstream/upstream_runtime.*: how a server comes back after trouble. An unmeasured
// or stale p2c estimate borrows the rival's, failures stop counting once a success arrives, and an
// active-check recovery or an ejection clears the passive penalty (found by the health e2e tests).
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "metrics/registry.h"
#include "tests/unit/proxy/upstream/upstream_fixture.h"
#include "proxy/upstream/upstream_runtime.h"
#include "proxy/proxy_metrics.h"

namespace ringway::proxy {
namespace {

using base::TimePoint;
using test_support::at;
using test_support::members;

class UpstreamRecoveryTest : public ::testing::Test {
 protected:
  UpstreamRuntime& make(BalancePolicy policy) {
    config_.name = "u";
    config_.balance = policy;
    config_.outlier.consecutive_failures = 3;
    config_.outlier.base_ejection = 1000;
    rt_ = std::make_unique<UpstreamRuntime>(config_, metrics_, 0);
    rt_->apply(config_, members({"a", "b"}, {1, 1}));
    return *rt_;
  }
  ServerRuntime& server(size_t i) { return *rt_->servers().at(i); }
  std::map<std::string, int> count_picks(int n, TimePoint now) {
    std::map<std::string, int> counts;
    for (int i = 0; i < n; ++i) ++counts[rt_->pick(now, nullptr).server->address.label];
    return counts;
  }

  metrics::Registry registry_{1};
  ProxyMetrics metrics_{registry_};
  UpstreamConfig config_;
  std::unique_ptr<UpstreamRuntime> rt_;
};

TEST_F(UpstreamRecoveryTest, P2CGivesAnUnmeasuredServerItsShare) {
  // A LAN peer answering in 0.05 ms must not starve a newcomer scored by a fixed 1 ms guess.
  UpstreamRuntime& rt = make(BalancePolicy::kP2C);
  rt.on_success(server(0), 0.05);
  auto counts = count_picks(1000, at(0));
  EXPECT_GT(counts["b"], 300);  // equal in-flight: a coin flip between the two
  EXPECT_GT(counts["a"], 300);
}

TEST_F(UpstreamRecoveryTest, P2CRemeasuresAServerWhoseEstimateWentStale) {
  UpstreamRuntime& rt = make(BalancePolicy::kP2C);
  rt.on_success(server(0), 0.05);
  rt.on_success(server(1), 0.05);
  rt.on_failure(server(1), at(0), "status 500");  // estimate now a penalty (doubled + 1)
  EXPECT_EQ(count_picks(100, at(500))["b"], 0);   // within the staleness period: avoided
  // a chosen more than 1 s after b last was (never, in fact): b borrows a's estimate.
  auto later = count_picks(100, at(1500));
  EXPECT_GT(later["b"], 0);
  EXPECT_LT(later["b"], 10);  // one re-measurement, not a flood: picking b refreshes it
  rt.on_success(server(1), 0.04);
  EXPECT_DOUBLE_EQ(server(1).ewma_ms, 0.04);  // a success after failures starts over
  EXPECT_EQ(server(1).consecutive_failures, 0);
  EXPECT_GT(count_picks(1000, at(1500))["b"], 300);
}

TEST_F(UpstreamRecoveryTest, EstimatesAreComparedAsIsWhenBothAreStale) {
  // Low traffic: both last chosen long ago, at the same time. The faster one still wins; only
  // then is the other one stale next to it, and gets one re-measurement.
  UpstreamRuntime& rt = make(BalancePolicy::kP2C);
  rt.on_success(server(0), 1.0);
  rt.on_success(server(1), 20.0);
  EXPECT_EQ(rt.pick(at(100000), nullptr).server, &server(0));
  EXPECT_LE(count_picks(100, at(100000))["b"], 1);
}

TEST_F(UpstreamRecoveryTest, EjectionReplacesTheLatencyPenalty) {
  UpstreamRuntime& rt = make(BalancePolicy::kRoundRobin);
  rt.on_success(server(1), 2.0);
  for (int i = 0; i < 2; ++i) rt.on_failure(server(1), at(0), "reset");
  EXPECT_GT(server(1).ewma_ms, 2.0);
  EXPECT_TRUE(rt.on_failure(server(1), at(0), "reset"));
  EXPECT_DOUBLE_EQ(server(1).ewma_ms, 0.0);  // back from ejection unmeasured, on probation
}

TEST_F(UpstreamRecoveryTest, ActiveRecoveryClearsEjectionAndPenalty) {
  UpstreamRuntime& rt = make(BalancePolicy::kP2C);
  rt.on_failure(server(1), at(0), "connect: refused");
  rt.on_failure(server(1), at(0), "connect: refused");
  rt.on_failure(server(0), at(0), "connect: refused");
  ASSERT_TRUE(rt.on_failure(server(1), at(0), "connect: refused"));
  rt.apply(config_, members({"a", "b"}, {1, 0}));  // the checker: b is down
  EXPECT_TRUE(server(1).ejected(at(10)));
  rt.apply(config_, members({"a", "b"}, {1, 0}));  // still down: nothing changes
  EXPECT_TRUE(server(1).ejected(at(10)));
  rt.apply(config_, members({"a", "b"}, {1, 1}));  // healthy_threshold passes: back
  EXPECT_FALSE(server(1).ejected(at(10)));
  EXPECT_DOUBLE_EQ(server(1).ewma_ms, 0.0);
  EXPECT_EQ(server(1).consecutive_failures, 0);
  EXPECT_EQ(server(1).ejections, 1);  // history kept: a later ejection still lasts longer
  EXPECT_EQ(server(0).consecutive_failures, 1);  // a server that stayed healthy keeps its state
  EXPECT_GT(count_picks(1000, at(10))["b"], 300);
}

}  // namespace
}  // namespace ringway::proxy
