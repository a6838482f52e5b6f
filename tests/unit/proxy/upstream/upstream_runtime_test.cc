// Tests for proxy/upstream/upstream_runtime.*: the three pick policies, health and ejection filtering, panic mode,
// passive outlier ejection (scaling, caps, max_ejection_percent), membership updates, the
// exclude parameter, the retry budget and the ejection metric. Time is injected as TimePoints.
#include "proxy/upstream/upstream_runtime.h"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "metrics/registry.h"
#include "tests/unit/proxy/upstream/upstream_fixture.h"
#include "proxy/proxy_metrics.h"

namespace ringway::proxy {
namespace {

using base::TimePoint;
using test_support::at;
using test_support::members;

UpstreamConfig upstream(BalancePolicy policy, int consecutive_failures = 3,
                        base::Millis base_ejection = 1000, base::Millis max_ejection = 300000,
                        int max_ejection_percent = 50) {
  UpstreamConfig c;
  c.name = "u";
  c.balance = policy;
  c.outlier.consecutive_failures = consecutive_failures;
  c.outlier.base_ejection = base_ejection;
  c.outlier.max_ejection = max_ejection;
  c.outlier.max_ejection_percent = max_ejection_percent;
  return c;
}

class UpstreamRuntimeTest : public ::testing::Test {
 protected:
  // Builds the runtime and applies the membership in one go.
  UpstreamRuntime& make(const UpstreamConfig& c, const UpstreamMembers& m) {
    rt_ = std::make_unique<UpstreamRuntime>(c, metrics_, 0);
    rt_->apply(c, m);
    return *rt_;
  }
  ServerRuntime& server(size_t i) { return *rt_->servers().at(i); }
  // Counts picks per label over n picks at `now`.
  std::map<std::string, int> count_picks(int n, TimePoint now,
                                         const ServerRuntime* exclude = nullptr) {
    std::map<std::string, int> counts;
    for (int i = 0; i < n; ++i) {
      UpstreamRuntime::Pick p = rt_->pick(now, exclude);
      EXPECT_NE(p.server, nullptr);
      if (p.server) ++counts[p.server->address.label];
    }
    return counts;
  }
  // Fails `s` exactly `n` times at `now`; returns how many of those calls ejected it.
  int fail(ServerRuntime& s, int n, TimePoint now) {
    int ejected = 0;
    for (int i = 0; i < n; ++i) ejected += rt_->on_failure(s, now, "connect: refused") ? 1 : 0;
    return ejected;
  }
  std::string render() { return registry_.render(metrics::Format::kPrometheusText); }

  metrics::Registry registry_{1};
  ProxyMetrics metrics_{registry_};
  std::unique_ptr<UpstreamRuntime> rt_;
};

TEST_F(UpstreamRuntimeTest, EmptyUpstreamPicksNothing) {
  UpstreamRuntime& rt = make(upstream(BalancePolicy::kP2C), members({}));
  UpstreamRuntime::Pick p = rt.pick(at(0), nullptr);
  EXPECT_EQ(p.server, nullptr);
  EXPECT_FALSE(p.panic);
}

TEST_F(UpstreamRuntimeTest, RoundRobinAlternatesExactly) {
  UpstreamRuntime& rt = make(upstream(BalancePolicy::kRoundRobin), members({"a", "b"}));
  for (int i = 0; i < 10; ++i) {
    UpstreamRuntime::Pick p = rt.pick(at(0), nullptr);
    ASSERT_NE(p.server, nullptr);
    EXPECT_EQ(p.server->address.label, i % 2 == 0 ? "a" : "b") << "pick " << i;
    EXPECT_FALSE(p.panic);
  }
}

TEST_F(UpstreamRuntimeTest, RoundRobinCyclesThreeServersInOrder) {
  UpstreamRuntime& rt = make(upstream(BalancePolicy::kRoundRobin), members({"a", "b", "c"}));
  std::string seq;
  for (int i = 0; i < 9; ++i) seq += rt.pick(at(0), nullptr).server->address.label;
  EXPECT_EQ(seq, "abcabcabc");
}

TEST_F(UpstreamRuntimeTest, LeastRequestPicksMinimumInFlight) {
  UpstreamRuntime& rt = make(upstream(BalancePolicy::kLeastRequest), members({"a", "b", "c"}));
  server(0).in_flight = 3;
  server(1).in_flight = 1;
  server(2).in_flight = 2;
  for (int i = 0; i < 20; ++i) EXPECT_EQ(rt.pick(at(0), nullptr).server, &server(1)) << i;
  server(2).in_flight = 0;
  for (int i = 0; i < 20; ++i) EXPECT_EQ(rt.pick(at(0), nullptr).server, &server(2)) << i;
}

TEST_F(UpstreamRuntimeTest, LeastRequestSpreadsTiesAndNeverPicksBusier) {
  make(upstream(BalancePolicy::kLeastRequest), members({"a", "b", "c"}));
  server(0).in_flight = 1;
  server(1).in_flight = 1;
  server(2).in_flight = 5;
  auto counts = count_picks(300, at(0));
  EXPECT_EQ(counts["c"], 0);
  EXPECT_GT(counts["a"], 0);
  EXPECT_GT(counts["b"], 0);
  EXPECT_EQ(counts["a"] + counts["b"], 300);
}

TEST_F(UpstreamRuntimeTest, P2CAvoidsServerWithTenfoldLatency) {
  UpstreamRuntime& rt = make(upstream(BalancePolicy::kP2C), members({"slow", "fast"}));
  rt.on_success(server(0), 10.0);
  rt.on_success(server(1), 1.0);
  EXPECT_DOUBLE_EQ(server(0).ewma_ms, 10.0);
  EXPECT_DOUBLE_EQ(server(1).ewma_ms, 1.0);
  auto counts = count_picks(10000, at(0));
  EXPECT_LE(counts["slow"], 1000);
  EXPECT_EQ(counts["slow"] + counts["fast"], 10000);
}

TEST_F(UpstreamRuntimeTest, P2CSplitsEvenlyBetweenEqualServers) {
  make(upstream(BalancePolicy::kP2C), members({"a", "b"}));
  auto counts = count_picks(10000, at(0));
  // Binomial(10000, 0.5): sd = 50, so 4000..6000 is a 20-sigma band.
  EXPECT_GT(counts["a"], 4000);
  EXPECT_GT(counts["b"], 4000);
}

TEST_F(UpstreamRuntimeTest, P2CWeighsInFlightAgainstLatency) {
  UpstreamRuntime& rt = make(upstream(BalancePolicy::kP2C), members({"a", "b"}));
  rt.on_success(server(0), 2.0);
  rt.on_success(server(1), 2.0);
  server(0).in_flight = 4;  // score 5 * 2 = 10 vs 1 * 2 = 2
  auto counts = count_picks(1000, at(0));
  EXPECT_EQ(counts["b"], 1000);
}

TEST_F(UpstreamRuntimeTest, EwmaMovesTowardNewSamples) {
  UpstreamRuntime& rt = make(upstream(BalancePolicy::kP2C), members({"a"}));
  rt.on_success(server(0), 10.0);
  rt.on_success(server(0), 20.0);
  EXPECT_DOUBLE_EQ(server(0).ewma_ms, 13.0);  // 10 + 0.3 * (20 - 10)
  // A failure counts as slow: 100 ms when there was no sample, else doubled plus one.
  rt.on_failure(server(0), at(0), "reset");
  EXPECT_DOUBLE_EQ(server(0).ewma_ms, 27.0);
}

TEST_F(UpstreamRuntimeTest, UnhealthyServersAreNeverPicked) {
  for (BalancePolicy policy :
       {BalancePolicy::kP2C, BalancePolicy::kLeastRequest, BalancePolicy::kRoundRobin}) {
    UpstreamRuntime& rt = make(upstream(policy), members({"a", "sick", "c"}, {1, 0, 1}));
    EXPECT_FALSE(server(1).healthy);
    auto counts = count_picks(600, at(0));
    EXPECT_EQ(counts["sick"], 0) << static_cast<int>(policy);
    EXPECT_GT(counts["a"], 0);
    EXPECT_GT(counts["c"], 0);
    EXPECT_FALSE(rt.in_panic());
  }
}

TEST_F(UpstreamRuntimeTest, EjectedServerSkippedUntilEjectionEnds) {
  UpstreamRuntime& rt =
      make(upstream(BalancePolicy::kRoundRobin, 3, 1000), members({"a", "b", "c"}));
  EXPECT_EQ(fail(server(1), 2, at(100)), 0);
  EXPECT_FALSE(server(1).ejected(at(100)));
  EXPECT_TRUE(rt.on_failure(server(1), at(100), "reset"));
  EXPECT_EQ(server(1).ejected_until.ms, 1100);
  EXPECT_EQ(server(1).ejections, 1);
  EXPECT_EQ(server(1).consecutive_failures, 0);
  EXPECT_EQ(server(1).last_error, "reset");
  EXPECT_EQ(count_picks(100, at(100))["b"], 0);
  EXPECT_EQ(count_picks(100, at(1099))["b"], 0);
  // ejected while now < ejected_until: at exactly 1100 it is back.
  auto counts = count_picks(99, at(1100));
  EXPECT_EQ(counts["a"], 33);
  EXPECT_EQ(counts["b"], 33);
  EXPECT_EQ(counts["c"], 33);
  EXPECT_FALSE(rt.in_panic());
}

TEST_F(UpstreamRuntimeTest, SuccessResetsConsecutiveFailures) {
  UpstreamRuntime& rt = make(upstream(BalancePolicy::kP2C, 3, 1000), members({"a", "b", "c"}));
  EXPECT_EQ(fail(server(0), 2, at(0)), 0);
  rt.on_success(server(0), 1.0);
  EXPECT_EQ(server(0).consecutive_failures, 0);
  EXPECT_EQ(fail(server(0), 2, at(0)), 0);
  EXPECT_FALSE(server(0).ejected(at(0)));
  EXPECT_EQ(fail(server(0), 1, at(0)), 1);
}

TEST_F(UpstreamRuntimeTest, EjectionTimeScalesWithEjectionsAndCaps) {
  make(upstream(BalancePolicy::kP2C, 1, 1000, 2500, 50), members({"a", "b", "c", "d"}));
  ServerRuntime& s = server(0);
  // base_ejection x times ejected, capped at max_ejection.
  EXPECT_EQ(fail(s, 1, at(0)), 1);
  EXPECT_EQ(s.ejected_until.ms, 1000);
  EXPECT_EQ(fail(s, 1, at(1000)), 1);
  EXPECT_EQ(s.ejected_until.ms, 3000);  // 2 x 1000: doubled on the second ejection
  EXPECT_EQ(fail(s, 1, at(3000)), 1);
  EXPECT_EQ(s.ejected_until.ms, 5500);  // 3 x 1000 capped at 2500
  EXPECT_EQ(fail(s, 1, at(5500)), 1);
  EXPECT_EQ(s.ejected_until.ms, 8000);  // still capped
  EXPECT_EQ(s.ejections, 4);
}

TEST_F(UpstreamRuntimeTest, FailuresWhileEjectedDoNotExtendEjection) {
  make(upstream(BalancePolicy::kP2C, 1, 1000), members({"a", "b", "c"}));
  EXPECT_EQ(fail(server(0), 1, at(0)), 1);
  EXPECT_EQ(fail(server(0), 5, at(500)), 0);
  EXPECT_EQ(server(0).ejected_until.ms, 1000);
  EXPECT_EQ(server(0).ejections, 1);
}

TEST_F(UpstreamRuntimeTest, MaxEjectionPercentLimitsConcurrentEjections) {
  // 2 servers at 50%: only one may be out at a time.
  make(upstream(BalancePolicy::kRoundRobin, 3, 1000, 300000, 50), members({"a", "b"}));
  EXPECT_EQ(fail(server(0), 3, at(0)), 1);
  EXPECT_EQ(fail(server(1), 3, at(0)), 0);
  EXPECT_FALSE(server(1).ejected(at(0)));
  EXPECT_EQ(server(1).consecutive_failures, 0);  // refused ejection starts the count over
  // Once a's ejection has ended, b may go.
  EXPECT_EQ(fail(server(1), 3, at(1000)), 1);
  EXPECT_FALSE(server(0).ejected(at(1000)));
}

TEST_F(UpstreamRuntimeTest, MaxEjectionPercentOfFourServers) {
  make(upstream(BalancePolicy::kP2C, 1, 1000, 300000, 50), members({"a", "b", "c", "d"}));
  EXPECT_EQ(fail(server(0), 1, at(0)), 1);
  EXPECT_EQ(fail(server(1), 1, at(0)), 1);
  EXPECT_EQ(fail(server(2), 1, at(0)), 0);
  EXPECT_EQ(fail(server(3), 1, at(0)), 0);
}

TEST_F(UpstreamRuntimeTest, NeverEjectsTheLastUsableServer) {
  UpstreamRuntime& rt =
      make(upstream(BalancePolicy::kRoundRobin, 1, 1000, 300000, 100), members({"a", "b", "c"}));
  EXPECT_EQ(fail(server(0), 1, at(0)), 1);
  EXPECT_EQ(fail(server(1), 1, at(0)), 1);
  EXPECT_EQ(fail(server(2), 5, at(0)), 0);
  for (int i = 0; i < 10; ++i) {
    UpstreamRuntime::Pick p = rt.pick(at(0), nullptr);
    EXPECT_EQ(p.server, &server(2));
    EXPECT_FALSE(p.panic);
  }
}

TEST_F(UpstreamRuntimeTest, UnhealthyPeersLeaveTheLastHealthyServerInPlace) {
  make(upstream(BalancePolicy::kP2C, 1, 1000, 300000, 100), members({"a", "b", "c"}, {1, 0, 0}));
  EXPECT_EQ(fail(server(0), 3, at(0)), 0);
  EXPECT_FALSE(server(0).ejected(at(0)));
}

TEST_F(UpstreamRuntimeTest, SingleServerUpstreamIsNeverEjected) {
  UpstreamRuntime& rt =
      make(upstream(BalancePolicy::kP2C, 1, 1000, 300000, 100), members({"only"}));
  EXPECT_EQ(fail(server(0), 20, at(0)), 0);
  EXPECT_FALSE(server(0).ejected(at(0)));
  EXPECT_EQ(server(0).ejections, 0);
  EXPECT_EQ(rt.pick(at(0), nullptr).server, &server(0));
  EXPECT_NE(render().find("ringway_upstream_ejections_total{upstream=\"u\",server=\"only\"} 0\n"),
            std::string::npos);
}

TEST_F(UpstreamRuntimeTest, ZeroConsecutiveFailuresDisablesEjection) {
  make(upstream(BalancePolicy::kP2C, 0), members({"a", "b", "c"}));
  EXPECT_EQ(fail(server(0), 50, at(0)), 0);
  EXPECT_EQ(server(0).consecutive_failures, 0);
}

TEST_F(UpstreamRuntimeTest, PanicModeWhenAllUnhealthyPicksAmongAll) {
  UpstreamRuntime& rt = make(upstream(BalancePolicy::kRoundRobin), members({"a", "b"}, {0, 0}));
  std::string seq;
  for (int i = 0; i < 4; ++i) {
    UpstreamRuntime::Pick p = rt.pick(at(0), nullptr);
    ASSERT_NE(p.server, nullptr);
    EXPECT_TRUE(p.panic);
    seq += p.server->address.label;
  }
  EXPECT_EQ(seq, "abab");
  EXPECT_TRUE(rt.in_panic());
  EXPECT_NE(render().find("ringway_upstream_panic{upstream=\"u\"} 1\n"), std::string::npos)
      << render();
  // One server recovers: panic ends and only it is picked.
  rt.apply(rt.config(), members({"a", "b"}, {0, 1}));
  for (int i = 0; i < 4; ++i) {
    UpstreamRuntime::Pick p = rt.pick(at(0), nullptr);
    EXPECT_FALSE(p.panic);
    EXPECT_EQ(p.server->address.label, "b");
  }
  EXPECT_FALSE(rt.in_panic());
  EXPECT_NE(render().find("ringway_upstream_panic{upstream=\"u\"} 0\n"), std::string::npos);
}

TEST_F(UpstreamRuntimeTest, PanicHonorsExclude) {
  UpstreamRuntime& rt = make(upstream(BalancePolicy::kP2C), members({"a", "b"}, {0, 0}));
  for (int i = 0; i < 50; ++i) {
    UpstreamRuntime::Pick p = rt.pick(at(0), &server(0));
    EXPECT_TRUE(p.panic);
    EXPECT_EQ(p.server, &server(1));
  }
}

TEST_F(UpstreamRuntimeTest, PanicWithSingleServerStillPicksIt) {
  UpstreamRuntime& rt = make(upstream(BalancePolicy::kP2C), members({"a"}, {0}));
  UpstreamRuntime::Pick p = rt.pick(at(0), &server(0));
  EXPECT_EQ(p.server, &server(0));
  EXPECT_TRUE(p.panic);
}

TEST_F(UpstreamRuntimeTest, ExcludeHonoredWhenAnotherServerExists) {
  for (BalancePolicy policy :
       {BalancePolicy::kP2C, BalancePolicy::kLeastRequest, BalancePolicy::kRoundRobin}) {
    UpstreamRuntime& rt = make(upstream(policy), members({"a", "b"}));
    server(1).in_flight = 10;  // least_request would prefer a
    for (int i = 0; i < 100; ++i) {
      EXPECT_EQ(rt.pick(at(0), &server(0)).server, &server(1)) << static_cast<int>(policy);
    }
  }
}

TEST_F(UpstreamRuntimeTest, ExcludedServerPickedWhenItIsTheOnlyEligibleOne) {
  UpstreamRuntime& rt = make(upstream(BalancePolicy::kP2C), members({"a", "b"}, {1, 0}));
  UpstreamRuntime::Pick p = rt.pick(at(0), &server(0));
  EXPECT_EQ(p.server, &server(0));
  EXPECT_FALSE(p.panic);
}

TEST_F(UpstreamRuntimeTest, ApplyKeepsStatsOfPersistingServersAndMarksRemoved) {
  UpstreamRuntime& rt = make(upstream(BalancePolicy::kP2C), members({"a", "b"}));
  ServerRuntimePtr a = rt.share(&server(0));
  ServerRuntimePtr b = rt.share(&server(1));
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  a->in_flight = 2;
  rt.on_success(*a, 7.0);
  fail(*a, 1, at(0));
  const double ewma = a->ewma_ms;

  rt.apply(rt.config(), members({"c", "a"}, {1, 0}));
  ASSERT_EQ(rt.servers().size(), 2u);
  EXPECT_EQ(rt.servers()[1].get(), a.get());  // same object, now second
  EXPECT_EQ(a->in_flight, 2u);
  EXPECT_DOUBLE_EQ(a->ewma_ms, ewma);
  EXPECT_EQ(a->consecutive_failures, 1);
  EXPECT_FALSE(a->healthy);  // health comes from the new snapshot
  EXPECT_FALSE(a->removed);
  EXPECT_EQ(rt.servers()[0]->address.label, "c");
  EXPECT_EQ(rt.servers()[0]->in_flight, 0u);
  EXPECT_DOUBLE_EQ(rt.servers()[0]->ewma_ms, 0.0);
  EXPECT_TRUE(rt.servers()[0]->healthy);
  EXPECT_TRUE(b->removed);  // in-flight holders keep it alive, marked removed
  EXPECT_EQ(rt.share(b.get()), nullptr);
  for (int i = 0; i < 50; ++i) EXPECT_NE(rt.pick(at(0), nullptr).server, b.get());
}

TEST_F(UpstreamRuntimeTest, ApplyWithoutHealthVectorTreatsServersAsHealthy) {
  UpstreamRuntime& rt = make(upstream(BalancePolicy::kRoundRobin), members({"a", "b"}, {0, 0}));
  rt.apply(rt.config(), members({"a", "b"}));
  EXPECT_TRUE(server(0).healthy);
  EXPECT_TRUE(server(1).healthy);
  EXPECT_FALSE(rt.pick(at(0), nullptr).panic);
}

TEST_F(UpstreamRuntimeTest, RetryBudgetStartsAtTenAndSpendsOnePerRetry) {
  UpstreamRuntime& rt = make(upstream(BalancePolicy::kP2C), members({"a"}));
  for (int i = 0; i < 10; ++i) EXPECT_TRUE(rt.take_retry()) << i;
  EXPECT_FALSE(rt.take_retry());
  for (int i = 0; i < 4; ++i) rt.on_request();  // 0.8 < 1
  EXPECT_FALSE(rt.take_retry());
  rt.on_request();  // 1.0
  EXPECT_TRUE(rt.take_retry());
  EXPECT_FALSE(rt.take_retry());
}

TEST_F(UpstreamRuntimeTest, RetryBudgetCapsAtTen) {
  UpstreamRuntime& rt = make(upstream(BalancePolicy::kP2C), members({"a"}));
  for (int i = 0; i < 1000; ++i) rt.on_request();
  for (int i = 0; i < 10; ++i) EXPECT_TRUE(rt.take_retry()) << i;
  EXPECT_FALSE(rt.take_retry());
}

TEST_F(UpstreamRuntimeTest, TenRequestsEarnTwoRetries) {
  UpstreamRuntime& rt = make(upstream(BalancePolicy::kP2C), members({"a"}));
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(rt.take_retry());
  ASSERT_FALSE(rt.take_retry());
  // 10 x 0.2 = 2 retries. Summing 0.2 in binary floating point gives 1.9999999999999998, so a
  // budget kept as a double that compares against 1 without tolerance grants only one.
  for (int i = 0; i < 10; ++i) rt.on_request();
  EXPECT_TRUE(rt.take_retry());
  EXPECT_TRUE(rt.take_retry());
  EXPECT_FALSE(rt.take_retry());
}

TEST_F(UpstreamRuntimeTest, EjectionCounterMetricIncrements) {
  make(upstream(BalancePolicy::kP2C, 2, 1000),
       members({"10.0.0.1:80", "10.0.0.2:80", "10.0.0.3:80"}));
  const std::string zero =
      "ringway_upstream_ejections_total{upstream=\"u\",server=\"10.0.0.2:80\"} 0\n";
  EXPECT_NE(render().find(zero), std::string::npos) << render();
  EXPECT_EQ(fail(server(1), 2, at(0)), 1);
  EXPECT_EQ(fail(server(1), 2, at(1000)), 1);
  const std::string text = render();
  EXPECT_NE(
      text.find("ringway_upstream_ejections_total{upstream=\"u\",server=\"10.0.0.2:80\"} 2\n"),
      std::string::npos)
      << text;
  EXPECT_NE(
      text.find("ringway_upstream_ejections_total{upstream=\"u\",server=\"10.0.0.1:80\"} 0\n"),
      std::string::npos);
  EXPECT_EQ(server(1).ejection_counter.value(), 2u);
}

}  // namespace
}  // namespace ringway::proxy

namespace ringway::proxy {
namespace {

using test_support::at;
using test_support::members;

TEST_F(UpstreamRuntimeTest, FullServersAreSkippedAndAllFullMeansQueue) {
  UpstreamConfig c = upstream(BalancePolicy::kRoundRobin);
  c.max_connections = 1;
  UpstreamRuntime& rt = make(c, members({"a:1", "b:1"}));
  ASSERT_TRUE(rt.take_slot(server(0), at(0)));
  for (int i = 0; i < 10; ++i) EXPECT_EQ(rt.pick(at(0), nullptr).server, &server(1));
  ASSERT_TRUE(rt.take_slot(server(1), at(0)));
  EXPECT_FALSE(rt.take_slot(server(1), at(0)));
  UpstreamRuntime::Pick p = rt.pick(at(0), nullptr);
  EXPECT_TRUE(p.full);
  EXPECT_EQ(p.server, nullptr);
  server(0).return_slot();
  EXPECT_EQ(rt.pick(at(0), nullptr).server, &server(0));
  server(1).return_slot();
  EXPECT_NE(render().find("ringway_upstream_connections{upstream=\"u\",server=\"a:1\"} 0"),
            std::string::npos);
}

// p2c checks the room of only the two servers it draws and scans when one is full: the
// full server must never be chosen and the others must keep equal shares. The full one is
// also the least loaded, so it would win every pair it is in if either check were missing.
TEST_F(UpstreamRuntimeTest, P2CSkipsAFullServerAndSharesEquallyAmongTheRest) {
  UpstreamConfig c = upstream(BalancePolicy::kP2C);
  c.max_connections = 1;
  UpstreamRuntime& rt = make(c, members({"a:1", "b:1", "c:1", "d:1"}));
  ASSERT_TRUE(rt.take_slot(server(0), at(0)));
  for (int i = 1; i < 4; ++i) server(i).in_flight = 1;
  std::map<std::string, int> n = count_picks(6000, at(0));
  EXPECT_EQ(n["a:1"], 0);
  for (const char* label : {"b:1", "c:1", "d:1"}) {
    EXPECT_NEAR(n[label] / 6000.0, 1.0 / 3, 0.03) << label;
  }
  for (int i = 1; i < 4; ++i) {
    server(i).in_flight = 0;
    ASSERT_TRUE(rt.take_slot(server(i), at(0)));
  }
  UpstreamRuntime::Pick p = rt.pick(at(0), nullptr);
  EXPECT_TRUE(p.full);
  EXPECT_EQ(p.server, nullptr);
  for (int i = 0; i < 4; ++i) server(i).return_slot();
  n = count_picks(6000, at(0));
  for (const char* label : {"a:1", "b:1", "c:1", "d:1"}) {
    EXPECT_NEAR(n[label] / 6000.0, 0.25, 0.03) << label;
  }
}

TEST_F(UpstreamRuntimeTest, SlowStartRampsShareAndLimitOfARecoveredServer) {
  UpstreamConfig c = upstream(BalancePolicy::kRoundRobin);
  c.max_connections = 100;
  c.slow_start = 10000;
  UpstreamRuntime& rt = make(c, members({"a:1", "b:1"}, {1, 0}));
  rt.apply(c, members({"a:1", "b:1"}, {1, 1}));  // b recovers now
  const base::TimePoint t0 = server(1).recovered_at;
  EXPECT_EQ(rt.limit_now(server(0), t0), 100u);
  EXPECT_EQ(rt.limit_now(server(1), t0), 5u);  // the 5 % floor
  EXPECT_EQ(rt.limit_now(server(1), t0 + 5000), 50u);
  EXPECT_EQ(rt.limit_now(server(1), t0 + 10000), 100u);
  auto share = [&](base::Millis after) {
    std::map<std::string, int> n = count_picks(4000, t0 + after);
    return n["b:1"] / 4000.0;
  };
  EXPECT_LT(share(1000), 0.1);   // warmth 0.1: about 5 % of picks
  EXPECT_GT(share(1000), 0.01);
  EXPECT_NEAR(share(5000), 0.25, 0.06);
  EXPECT_NEAR(share(20000), 0.5, 0.05);
  // Off by default: a recovered server takes its full share at once.
  c.slow_start = 0;
  rt.apply(c, members({"a:1", "b:1"}, {1, 1}));
  EXPECT_NEAR(share(0), 0.5, 0.05);
}

}  // namespace
}  // namespace ringway::proxy
