// Proxy e2e (health): p2c sends most traffic to the faster of two servers, measured over a few
// hundred requests from concurrent clients; round_robin on the same pair is the control.
#include <gtest/gtest.h>

#include <atomic>
#include <iostream>
#include <memory>
#include <string>

#include "tests/e2e/health_support.h"
#include "tests/e2e/proxy_fixture.h"

namespace ringway::e2e {
namespace {

using ProxyHealthBalance = ProxyE2E;

constexpr base::Millis kSlowMs = 20;

// Answers every request after kSlowMs.
UpstreamScript slow_server() {
  return [](UpstreamConn& c) {
    while (auto req = c.read_request(30000)) {
      if (!c.sleep(kSlowMs) || !c.send(http_response(200, "slow"))) return;
    }
  };
}

struct Split {
  size_t fast = 0, slow = 0;
  double fast_share() const { return fast + slow == 0 ? 0 : double(fast) / double(fast + slow); }
};

// Runs `threads` x `per_thread` GETs through the proxy; every one must succeed.
Split run_load(int port, FakeUpstream& fast, FakeUpstream& slow, int threads, int per_thread) {
  const size_t fast_before = fast.request_count(), slow_before = slow.request_count();
  LoadGenerator load({.port = port,
                      .path = "/svc/x",
                      .threads = threads,
                      .requests_per_thread = per_thread,
                      .expect_body = "",
                      .timeout = 5000});
  load.start();
  EXPECT_TRUE(load.wait_done(30000));
  load.stop();
  EXPECT_EQ(load.ok(), static_cast<uint64_t>(threads * per_thread)) << load.failures();
  return Split{fast.request_count() - fast_before, slow.request_count() - slow_before};
}

ProxyConfig pair(const std::string& fast, const std::string& slow, const std::string& balance) {
  ProxyConfig c;
  // No active checks: the fakes count only proxied requests.
  c.upstreams = {UpstreamSpec("svc", {fast, slow}, "balance: " + balance)};
  c.routes = {RouteSpec{"/svc/", "svc"}};
  return c;
}

TEST_P(ProxyHealthBalance, P2CPrefersTheFastServer) {
  FakeUpstream& fast = start_upstream(reply_always(http_response(200, "fast")));
  FakeUpstream& slow = start_upstream(slow_server());
  ASSERT_NO_FATAL_FAILURE(start_proxy(pair(fast.address(), slow.address(), "p2c")));

  const Split s = run_load(proxy_.port(), fast, slow, 4, 100);
  ASSERT_EQ(s.fast + s.slow, 400u);
  EXPECT_GE(s.fast_share(), 0.7) << s.fast << " fast vs " << s.slow << " slow";
  // The latency estimate behind the choice is visible in /status.
  std::optional<StatusView> st = fetch_status(proxy_.admin_port());
  ASSERT_TRUE(st);
  const ServerStatusView* f = st->server("svc", fast.address());
  const ServerStatusView* w = st->server("svc", slow.address());
  ASSERT_TRUE(f && w) << st->raw;
  if (s.slow > 0) {
    EXPECT_GT(w->ewma_latency_ms, f->ewma_latency_ms) << st->raw;
  }
  std::cout << "[ measured ] " << io() << ": p2c fast share " << s.fast_share() * 100 << "% ("
            << s.fast << "/" << s.fast + s.slow << "), ewma fast " << f->ewma_latency_ms
            << " ms, slow " << w->ewma_latency_ms << " ms\n";
}

TEST_P(ProxyHealthBalance, RoundRobinControlSplitsEvenly) {
  // Same servers and load shape: without latency awareness the split is even, so the p2c
  // test above measures the policy, not the setup.
  FakeUpstream& fast = start_upstream(reply_always(http_response(200, "fast")));
  FakeUpstream& slow = start_upstream(slow_server());
  ASSERT_NO_FATAL_FAILURE(start_proxy(pair(fast.address(), slow.address(), "round_robin")));

  const Split s = run_load(proxy_.port(), fast, slow, 4, 25);
  EXPECT_EQ(s.fast, 50u);
  EXPECT_EQ(s.slow, 50u);
}

TEST_P(ProxyHealthBalance, P2CComesBackToAServerAfterATransientFailure) {
  // One 500, then healthy again: too few failures to eject it, but the failure inflates its
  // latency estimate. p2c must re-measure it rather than avoid it for good.
  FakeUpstream& steady = start_upstream(reply_always(http_response(200, "steady")));
  auto failed_once = std::make_shared<std::atomic<bool>>(false);
  FakeUpstream& flaky = start_upstream(serve([failed_once](const ReceivedRequest&) {
    return failed_once->exchange(true) ? http_response(200, "flaky") : http_response(500, "oops");
  }));
  ASSERT_NO_FATAL_FAILURE(start_proxy(pair(steady.address(), flaky.address(), "p2c")));

  LoadGenerator load({.port = proxy_.port(),
                      .path = "/svc/x",
                      .threads = 2,
                      .requests_per_thread = 0,
                      .expect_body = "",
                      .timeout = 5000});
  load.start();
  ASSERT_TRUE(wait_until([&] { return failed_once->load(); }, kIoTimeout));
  const size_t flaky_at_failure = flaky.request_count();
  ::usleep(2500000);  // > 2 x the balancer's 1 s staleness period
  load.stop();
  EXPECT_EQ(load.failed(), 1u) << load.failures();  // the one forwarded 500
  EXPECT_GT(flaky.request_count(), flaky_at_failure)
      << "p2c never chose the server again after one 500";
  std::optional<StatusView> st = fetch_status(proxy_.admin_port());
  ASSERT_TRUE(st);
  const ServerStatusView* f = st->server("svc", flaky.address());
  ASSERT_TRUE(f) << st->raw;
  EXPECT_LT(f->ewma_latency_ms, 50) << "estimate still the failure penalty\n" << st->raw;
  std::cout << "[ measured ] " << io() << ": after its 500 the flaky server got "
            << flaky.request_count() - flaky_at_failure << " of " << load.ok()
            << " requests in 2.5 s\n";
}

RINGWAY_PROXY_BACKENDS(ProxyHealthBalance);

}  // namespace
}  // namespace ringway::e2e
