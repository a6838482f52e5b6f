// Proxy e2e (health): a server that never answers fails its checks by timeout, a server that
// answers 500 is ejected passively, and /status and / show every server's live state.
#include <gtest/gtest.h>

#include <atomic>
#include <regex>
#include <string>

#include "tests/e2e/health_support.h"
#include "tests/e2e/proxy_fixture.h"

namespace ringway::e2e {
namespace {

using ProxyHealthChecks = ProxyE2E;

constexpr const char* kFastChecks =
    "{path: /ping, interval: 200ms, timeout: 100ms, healthy_threshold: 2, unhealthy_threshold: 2}";
constexpr base::Millis kFlipBound = (2 * 200 * 11 / 10 + 300) * kTimingFactor;
constexpr const char* kPong = "{\"service\":\"service1\",\"message\":\"pong\"}";

// Requests the fake upstream received other than health checks (GET /ping).
size_t proxied(const FakeUpstream& up) {
  size_t n = 0;
  for (const ReceivedRequest& r : up.requests()) n += r.target != "/ping" ? 1 : 0;
  return n;
}

// `n` sequential GETs of `path` on one keep-alive connection. Returns: how many got `status`.
int count_status(int port, const std::string& path, int n, int status) {
  RawConnection c;
  if (!c.connect(port)) return -1;
  int matched = 0;
  for (int i = 0; i < n; ++i) {
    if (!c.send("GET " + path + " HTTP/1.1\r\nHost: h\r\n\r\n")) return -1;
    std::optional<RawResponse> r = c.read_response(kIoTimeout);
    if (!r) return -1;
    matched += r->status == status ? 1 : 0;
  }
  return matched;
}

TEST_P(ProxyHealthChecks, ServerThatNeverAnswersFailsByTimeoutAndGetsNoTraffic) {
  std::string good;
  ASSERT_NO_FATAL_FAILURE(start_service("service1", &good));
  // Accepts, reads the request, never answers (until the test ends).
  FakeUpstream& hang = start_upstream(hang_after_request());
  ProxyConfig c;
  UpstreamSpec u("svc", {good, hang.address()});
  u.health_check = kFastChecks;
  c.upstreams = {u};
  c.routes = {RouteSpec{"/svc/", "svc"}};
  ASSERT_NO_FATAL_FAILURE(start_proxy(c));

  std::optional<base::Millis> flipped = wait_until(
      [&] {
        std::optional<StatusView> s = fetch_status(proxy_.admin_port());
        const ServerStatusView* v = s ? s->server("svc", hang.address()) : nullptr;
        return v && !v->healthy;
      },
      // Startup: first probe at a random offset within one interval, then two timeouts.
      kFlipBound + 200 * kTimingFactor);
  ASSERT_TRUE(flipped) << proxy_.log();
  const std::string m = scrape();
  const Labels timeouts = {{"upstream", "svc"}, {"server", hang.address()}, {"result", "timeout"}};
  const Labels failures = {{"upstream", "svc"}, {"server", hang.address()}, {"result", "failure"}};
  EXPECT_GE(metric(m, "ringway_upstream_health_checks_total", timeouts), 2);
  EXPECT_EQ(metric(m, "ringway_upstream_health_checks_total", failures), 0);
  EXPECT_EQ(metric(m, "ringway_upstream_server_healthy",
                   {{"upstream", "svc"}, {"server", hang.address()}}),
            0);
  EXPECT_EQ(metric(m, "ringway_upstream_server_healthy", {{"upstream", "svc"}, {"server", good}}),
            1);
  std::optional<StatusView> s = fetch_status(proxy_.admin_port());
  ASSERT_TRUE(s);
  EXPECT_NE(s->server("svc", hang.address())->last_check.find("timeout"), std::string::npos)
      << s->raw;
  EXPECT_NE(proxy_.log().find("is now unhealthy"), std::string::npos) << proxy_.log();

  // Every request now goes to the good server, whatever the balancer's dice say.
  LoadGenerator load({.port = proxy_.port(),
                      .path = "/svc/ping",
                      .threads = 2,
                      .requests_per_thread = 50,
                      .expect_body = kPong,
                      .timeout = 3000});
  load.start();
  ASSERT_TRUE(load.wait_done(10000 * kTimingFactor));
  load.stop();
  EXPECT_EQ(load.ok(), 100u) << load.failures();
  EXPECT_EQ(proxied(hang), 0u);
  EXPECT_EQ(upstream_responses(scrape(), "svc", good), 100);
}

TEST_P(ProxyHealthChecks, ServerAnswering500IsEjectedPassively) {
  const std::string good = start_upstream(reply_always(http_response(200, "ok"))).address();
  // Passes its health checks, fails everything else.
  FakeUpstream& bad = start_upstream(serve([](const ReceivedRequest& r) {
    return r.target == "/ping" ? http_response(200, "pong") : http_response(500, "broken");
  }));
  ProxyConfig c;
  // round_robin feeds the bad server every other request: p2c would stop choosing it after
  // its first 500 (failures double its latency score), so it would never reach 3 in a row.
  UpstreamSpec u("svc", {good, bad.address()},
                 "balance: round_robin, outlier: {consecutive_failures: 3, base_ejection: 10s}");
  u.health_check = kFastChecks;
  c.upstreams = {u};
  c.routes = {RouteSpec{"/svc/", "svc"}};
  ASSERT_NO_FATAL_FAILURE(start_proxy(c));
  // Both pass an active check first, so "healthy" below is the checker's verdict.
  ASSERT_TRUE(wait_until(
      [&] {
        std::optional<StatusView> s = fetch_status(proxy_.admin_port());
        const ServerStatusView* v = s ? s->server("svc", bad.address()) : nullptr;
        return v && v->last_check.rfind("200 in", 0) == 0;
      },
      kFlipBound))
      << proxy_.log();

  // The clients see exactly consecutive_failures forwarded 500s, then only the good server.
  EXPECT_EQ(count_status(proxy_.port(), "/svc/work", 6, 500), 3);
  const std::string m = scrape();
  EXPECT_EQ(metric(m, "ringway_upstream_ejections_total",
                   {{"upstream", "svc"}, {"server", bad.address()}}),
            1);
  EXPECT_EQ(metric(m, "ringway_upstream_ejections_total", {{"upstream", "svc"}, {"server", good}}),
            0);
  EXPECT_EQ(metric(m, "ringway_upstream_requests_total",
                   {{"upstream", "svc"}, {"server", bad.address()}, {"code", "500"}}),
            3);
  std::optional<StatusView> s = fetch_status(proxy_.admin_port());
  ASSERT_TRUE(s);
  const ServerStatusView* v = s->server("svc", bad.address());
  ASSERT_NE(v, nullptr) << s->raw;
  EXPECT_TRUE(v->ejected) << s->raw;
  EXPECT_GT(v->ejected_for_ms, 5000) << s->raw;
  EXPECT_EQ(v->ejections, 1) << s->raw;
  EXPECT_TRUE(v->healthy) << "active checks still pass; ejection is passive\n" << s->raw;
  EXPECT_EQ(v->last_error, "status 500") << s->raw;
  EXPECT_NE(proxy_.log().find("ejected for 10000 ms"), std::string::npos) << proxy_.log();

  const size_t bad_before = proxied(bad);
  EXPECT_EQ(count_status(proxy_.port(), "/svc/work", 40, 200), 40);
  EXPECT_EQ(proxied(bad), bad_before);
  EXPECT_EQ(metric(scrape(), "ringway_upstream_requests_total",
                   {{"upstream", "svc"}, {"server", good}, {"code", "200"}}),
            43);
}

TEST_P(ProxyHealthChecks, StatusJsonAndHtmlShowEachServersLiveState) {
  std::string good;
  ASSERT_NO_FATAL_FAILURE(start_service("service1", &good));
  const std::string dead = "127.0.0.1:" + std::to_string(free_port());  // nothing listens
  // /hold requests wait until the test opens the gate: an in-flight request to look at.
  auto gate = std::make_shared<std::atomic<bool>>(false);
  UpstreamScript held = [gate](UpstreamConn& conn) {
    while (auto req = conn.read_request(30000)) {
      if (req->target == "/hold") {
        for (int i = 0; i < 1000 && !gate->load(); ++i) {
          if (!conn.sleep(10)) return;
        }
      }
      if (!conn.send(http_response(200, "done"))) return;
    }
  };
  FakeUpstream& slow = start_upstream(held);
  ProxyConfig c;
  UpstreamSpec svc("svc", {good, dead});
  UpstreamSpec gated("gated", {slow.address()});
  svc.health_check = gated.health_check = kFastChecks;
  c.upstreams = {svc, gated};
  c.routes = {RouteSpec{"/svc/", "svc"}, RouteSpec{"/gated/", "gated"}};
  ASSERT_NO_FATAL_FAILURE(start_proxy(c));
  const int admin = proxy_.admin_port();

  // Wait for the verdicts: dead is down, the others have been probed.
  ASSERT_TRUE(wait_until(
      [&] {
        std::optional<StatusView> s = fetch_status(admin);
        const ServerStatusView* d = s ? s->server("svc", dead) : nullptr;
        const ServerStatusView* g = s ? s->server("svc", good) : nullptr;
        const ServerStatusView* h = s ? s->server("gated", slow.address()) : nullptr;
        return d && g && h && !d->healthy && !g->last_check.empty() && !h->last_check.empty();
      },
      kFlipBound + 1000))
      << proxy_.log();
  EXPECT_EQ(count_status(proxy_.port(), "/svc/ping", 5, 200), 5);
  RawConnection pending;
  ASSERT_TRUE(pending.connect(proxy_.port())) << pending.error();
  ASSERT_TRUE(pending.send("GET /gated/hold HTTP/1.1\r\nHost: h\r\n\r\n"));
  ASSERT_TRUE(wait_until([&] { return proxied(slow) == 1; }, kIoTimeout));

  std::optional<StatusView> s = fetch_status(admin);
  ASSERT_TRUE(s);
  const std::regex check_ok(R"(^200 in [0-9.]+ ms$)");
  const UpstreamStatusView* u = s->upstream("svc");
  ASSERT_NE(u, nullptr) << s->raw;
  EXPECT_EQ(u->healthy_servers, 1);
  EXPECT_EQ(u->balance, "p2c");
  EXPECT_EQ(u->health_check, "/ping");
  ASSERT_TRUE(u->server(good) && u->server(dead) && s->server("gated", slow.address())) << s->raw;
  const ServerStatusView& g = *u->server(good);
  EXPECT_TRUE(g.healthy);
  EXPECT_TRUE(std::regex_match(g.last_check, check_ok)) << g.last_check;
  EXPECT_EQ(g.in_flight, 0);
  EXPECT_GT(g.ewma_latency_ms, 0);
  EXPECT_LT(g.ewma_latency_ms, 1000);
  EXPECT_EQ(g.configured, good);
  const ServerStatusView& d = *u->server(dead);
  EXPECT_FALSE(d.healthy);
  EXPECT_NE(d.last_check.find("connect"), std::string::npos) << d.last_check;
  EXPECT_EQ(d.in_flight, 0);
  const ServerStatusView& h = *s->server("gated", slow.address());
  EXPECT_TRUE(h.healthy);
  EXPECT_EQ(h.in_flight, 1) << s->raw;

  net::FetchResult page = http_get(admin, "/");
  ASSERT_EQ(page.status, 200) << page.error;
  EXPECT_EQ(page.header("Content-Type").rfind("text/html", 0), 0u) << page.header("Content-Type");
  // One table row per server: address, state, last check, in flight, latency EWMA.
  auto row = [&](const std::string& address) {
    std::smatch m;
    const std::regex re("<tr><td>" + std::regex_replace(address, std::regex(R"([.])"), R"(\.)") +
                        R"re(</td><td class="(up|down)">(healthy|unhealthy)</td><td>([^<]*)</td>)re"
                        R"re(<td>([0-9]+)</td><td>([0-9.]+) ms</td>)re");
    return std::regex_search(page.body, m, re) ? std::vector<std::string>(m.begin() + 1, m.end())
                                               : std::vector<std::string>{};
  };
  std::vector<std::string> rg = row(good), rd = row(dead), rh = row(slow.address());
  ASSERT_EQ(rg.size(), 5u) << page.body;
  ASSERT_EQ(rd.size(), 5u) << page.body;
  ASSERT_EQ(rh.size(), 5u) << page.body;
  EXPECT_EQ(rg[1], "healthy");
  EXPECT_TRUE(std::regex_match(rg[2], check_ok)) << rg[2];
  EXPECT_EQ(rg[3], "0");
  EXPECT_GT(std::stod(rg[4]), 0);
  EXPECT_EQ(rd[1], "unhealthy");
  EXPECT_NE(rd[2].find("connect"), std::string::npos) << rd[2];
  EXPECT_EQ(rh[1], "healthy");
  EXPECT_EQ(rh[3], "1");

  gate->store(true);
  std::optional<RawResponse> done = pending.read_response(kIoTimeout);
  ASSERT_TRUE(done) << pending.error();
  EXPECT_EQ(done->status, 200);
  EXPECT_EQ(done->body, "done");
  ASSERT_TRUE(wait_until(
      [&] {
        std::optional<StatusView> now = fetch_status(admin);
        const ServerStatusView* hv = now ? now->server("gated", slow.address()) : nullptr;
        return hv && hv->in_flight == 0;
      },
      kIoTimeout));
}

RINGWAY_PROXY_BACKENDS(ProxyHealthChecks);

}  // namespace
}  // namespace ringway::e2e
