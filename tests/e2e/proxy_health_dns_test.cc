// Proxy e2e (health): an upstream named by hostname follows DNS changes (RINGWAY_HOSTS_FILE):
// an added address joins and takes traffic, a removed one leaves while its request finishes.
#include <gtest/gtest.h>

#include <atomic>
#include <iostream>
#include <memory>
#include <string>

#include "tests/e2e/health_support.h"
#include "tests/e2e/proxy_fixture.h"

namespace ringway::e2e {
namespace {

using ProxyHealthDns = ProxyE2E;

// Requests for /hold the fake received.
size_t holds(const FakeUpstream& up) {
  size_t n = 0;
  for (const ReceivedRequest& r : up.requests()) n += r.target == "/hold" ? 1 : 0;
  return n;
}

// `n` sequential GET /svc/ping on one keep-alive connection. Returns: how many got a 200.
int count_ok(int port, int n) {
  RawConnection c;
  if (!c.connect(port)) return -1;
  int ok = 0;
  for (int i = 0; i < n; ++i) {
    if (!c.send("GET /svc/ping HTTP/1.1\r\nHost: h\r\n\r\n")) return -1;
    std::optional<RawResponse> r = c.read_response(kIoTimeout);
    if (!r) return -1;
    ok += r->status == 200 ? 1 : 0;
  }
  return ok;
}

// Addresses /status lists for upstream svc, in order.
std::vector<std::string> members(int admin) {
  std::vector<std::string> out;
  std::optional<StatusView> s = fetch_status(admin);
  if (!s || !s->upstream("svc")) return {"<no status>"};
  for (const ServerStatusView& v : s->upstream("svc")->servers) out.push_back(v.address);
  return out;
}

TEST_P(ProxyHealthDns, AddedAddressJoinsAndRemovedOneLeavesAfterItsRequest) {
  // 127.0.0.1:PORT is a fake that can hold a request; 127.0.0.2:PORT a real service1. One name
  // resolves to both, so both must listen on the same port.
  auto gate = std::make_shared<std::atomic<bool>>(false);
  FakeUpstream& first = start_upstream([gate](UpstreamConn& conn) {
    while (auto req = conn.read_request(30000)) {
      if (req->target == "/hold") {
        for (int i = 0; i < 1000 && !gate->load(); ++i) {
          if (!conn.sleep(10)) return;
        }
      }
      if (!conn.send(http_response(200, req->target == "/hold" ? "held" : "pong"))) return;
    }
  });
  const std::string port = std::to_string(first.port());
  const std::string a1 = "127.0.0.1:" + port, a2 = "127.0.0.2:" + port;
  std::string error;
  std::unique_ptr<ChildProcess> second = start_service_at("service1", a2, io(), &error, 1000);
  ASSERT_TRUE(second) << error;
  services_.push_back(std::move(second));

  TempDir dir;
  const std::string hosts = dir.write("hosts", "svc.test 127.0.0.1\n");
  ASSERT_FALSE(hosts.empty());
  ProxyConfig c;
  UpstreamSpec u("svc", {"svc.test:" + port}, "resolve_every: 300ms");
  u.health_check = "{path: /ping, interval: 200ms, timeout: 100ms}";
  c.upstreams = {u};
  c.routes = {RouteSpec{"/svc/", "svc"}};
  ASSERT_NO_FATAL_FAILURE(start_proxy(c, {{"RINGWAY_HOSTS_FILE", hosts}}));
  const int admin = proxy_.admin_port();
  ASSERT_EQ(members(admin), std::vector<std::string>{a1});
  std::optional<StatusView> st = fetch_status(admin);
  ASSERT_TRUE(st);
  EXPECT_EQ(st->server("svc", a1)->configured, "svc.test:" + port);
  EXPECT_EQ(st->upstream("svc")->resolve_error, "");

  EXPECT_EQ(count_ok(proxy_.port(), 20), 20);
  EXPECT_EQ(upstream_responses(scrape(), "svc", a1), 20);

  // Join: the new address appears, healthy, and takes a share of the traffic. The load runs
  // for a fixed time, not a count: p2c may favour the faster of the two for a while.
  ASSERT_FALSE(dir.write("hosts", "svc.test 127.0.0.1 127.0.0.2\n").empty());
  std::optional<base::Millis> joined = wait_until(
      [&] {
        return members(admin) == std::vector<std::string>{a1, a2};
      },
      1500 * kTimingFactor);
  ASSERT_TRUE(joined) << "members: " << ::testing::PrintToString(members(admin)) << "\n"
                      << proxy_.log();
  std::optional<StatusView> both = fetch_status(admin);
  ASSERT_TRUE(both);
  EXPECT_TRUE(both->server("svc", a2) && both->server("svc", a2)->healthy) << both->raw;
  const std::string m0 = scrape();
  LoadGenerator load({.port = proxy_.port(),
                      .path = "/svc/ping",
                      .threads = 2,
                      .requests_per_thread = 0,
                      .expect_body = "",
                      .timeout = 5000});
  load.start();
  ::usleep(1500000);
  load.stop();
  EXPECT_EQ(load.failed(), 0u) << load.failures();
  const std::string m1 = scrape();
  const double to_a1 = upstream_responses(m1, "svc", a1) - upstream_responses(m0, "svc", a1);
  const double to_a2 = upstream_responses(m1, "svc", a2) - upstream_responses(m0, "svc", a2);
  EXPECT_EQ(to_a1 + to_a2, static_cast<double>(load.ok()));
  EXPECT_GT(to_a1, 0);
  EXPECT_GT(to_a2, 0);

  // A request held on the first address across its removal. p2c picks the server: retry on
  // fresh connections until one lands there (service1 answers /hold with 404 at once).
  RawConnection pending;
  bool held_on_a1 = false;
  for (int attempt = 0; attempt < 40 && !held_on_a1; ++attempt) {
    pending.close();
    ASSERT_TRUE(pending.connect(proxy_.port())) << pending.error();
    ASSERT_TRUE(pending.send("GET /svc/hold HTTP/1.1\r\nHost: h\r\n\r\n"));
    held_on_a1 = wait_until([&] { return holds(first) > 0; }, 200).has_value();
    if (!held_on_a1) {
      std::optional<RawResponse> r = pending.read_response(kIoTimeout);
      ASSERT_TRUE(r && r->status == 404) << pending.error();
    }
  }
  ASSERT_TRUE(held_on_a1);

  // Leave: the first address goes; new requests all go to the second one.
  ASSERT_FALSE(dir.write("hosts", "svc.test 127.0.0.2\n").empty());
  std::optional<base::Millis> left = wait_until(
      [&] { return members(admin) == std::vector<std::string>{a2}; }, 1500 * kTimingFactor);
  ASSERT_TRUE(left) << "members: " << ::testing::PrintToString(members(admin)) << "\n"
                    << proxy_.log();
  const std::string m2 = scrape();
  LoadGenerator after({.port = proxy_.port(),
                       .path = "/svc/ping",
                       .threads = 2,
                       .requests_per_thread = 50,
                       .expect_body = "",
                       .timeout = 5000});
  after.start();
  ASSERT_TRUE(after.wait_done(20000));
  after.stop();
  EXPECT_EQ(after.ok(), 100u) << after.failures();
  const std::string m3 = scrape();
  EXPECT_EQ(upstream_responses(m3, "svc", a1), upstream_responses(m2, "svc", a1));
  EXPECT_EQ(upstream_responses(m3, "svc", a2) - upstream_responses(m2, "svc", a2), 100);
  // Its health checks stop too (one may have been under way when it left).
  const size_t probes = first.request_count();
  ::usleep(600000);
  EXPECT_LE(first.request_count(), probes + 1);

  // The request in flight on the removed address still completes.
  gate->store(true);
  std::optional<RawResponse> held = pending.read_response(kIoTimeout);
  ASSERT_TRUE(held) << pending.error();
  EXPECT_EQ(held->status, 200);
  EXPECT_EQ(held->body, "held");
  std::cout << "[ measured ] " << io() << ": joined after " << *joined << " ms, left after "
            << *left << " ms; while both: " << to_a1 << " to " << a1 << ", " << to_a2 << " to "
            << a2 << "\n";
}

RINGWAY_PROXY_BACKENDS(ProxyHealthDns);

}  // namespace
}  // namespace ringway::e2e
