// Proxy e2e (health): failover under a bounded keep-alive load while a real service1 is killed
// and restarted on its port, and the 503 + panic mode when every server is down.
#include <gtest/gtest.h>
#include <unistd.h>

#include <iostream>
#include <string>

#include "tests/e2e/health_support.h"
#include "tests/e2e/proxy_fixture.h"

namespace ringway::e2e {
namespace {

using ProxyHealthFailover = ProxyE2E;

constexpr base::Millis kInterval = 200;
constexpr base::Millis kThreshold = 2;  // healthy_threshold = unhealthy_threshold
// A flip needs `kThreshold` probes after the change; the last probe before it may have just
// started, so that is kThreshold intervals (+10% jitter each), plus publication and polling.
constexpr base::Millis kFlipBound = (kThreshold * kInterval * 11 / 10 + 300) * kTimingFactor;
constexpr const char* kPong = "{\"service\":\"service1\",\"message\":\"pong\"}";

ProxyConfig two_servers(const std::string& a, const std::string& b) {
  ProxyConfig c;
  UpstreamSpec u("svc", {a, b}, "retries: 1, outlier: {consecutive_failures: 3}");
  u.health_check =
      "{path: /ping, interval: 200ms, timeout: 100ms, healthy_threshold: 2, unhealthy_threshold: "
      "2}";
  c.upstreams = {u};
  c.routes = {RouteSpec{"/svc/", "svc"}};
  return c;
}

// Polls /status until the server's healthy flag equals `want`. Returns: ms taken, or nullopt.
std::optional<base::Millis> wait_health(int admin, const std::string& server, bool want, base::Millis timeout) {
  return wait_until(
      [&] {
        std::optional<StatusView> s = fetch_status(admin);
        const ServerStatusView* v = s ? s->server("svc", server) : nullptr;
        return v != nullptr && v->healthy == want;
      },
      timeout, 10);
}

void sleep_until(base::TimePoint t) {
  const base::Millis left = t - base::Clock::now();
  if (left > 0) ::usleep(static_cast<useconds_t>(left * 1000));
}

TEST_P(ProxyHealthFailover, KillAndRestartUnderLoadLosesNoRequest) {
  std::string a, b;
  ASSERT_NO_FATAL_FAILURE(start_service("service1", &a));
  ASSERT_NO_FATAL_FAILURE(start_service("service1", &b));
  ASSERT_NO_FATAL_FAILURE(start_proxy(two_servers(a, b)));
  const int admin = proxy_.admin_port();

  LoadGenerator load({.port = proxy_.port(),
                      .path = "/svc/ping",
                      .threads = 3,
                      .requests_per_thread = 0,
                      .expect_body = kPong,
                      .timeout = 5000});
  const base::TimePoint t0 = base::Clock::now();
  load.start();
  ASSERT_TRUE(wait_until([&] { return upstream_responses(scrape(), "svc", b) > 0; }, 1500))
      << "no traffic reached " << b << " before the kill\n"
      << proxy_.log();

  sleep_until(t0 + 1500);
  services_[1]->kill();  // SIGKILL: no FIN-after-drain, in-flight requests die with it
  const base::TimePoint killed = base::Clock::now();
  std::optional<base::Millis> detect = wait_health(admin, b, false, kFlipBound + 1000 * kTimingFactor);
  ASSERT_TRUE(detect) << "the killed server never turned unhealthy\n" << proxy_.log();
  const base::Millis detected_at = base::Clock::now() - killed;
  EXPECT_LE(detected_at, kFlipBound);

  // From here until the restart nothing may be sent to it: no response from it (trivially) and,
  // the real test, no attempt on it (each would fail to connect and be retried elsewhere).
  ::usleep(100000);  // retries already under way when the flip was published finish
  const std::string m1 = scrape();
  sleep_until(t0 + 3500);
  const std::string m2 = scrape();
  const Labels retries = {{"upstream", "svc"}};
  EXPECT_EQ(upstream_responses(m2, "svc", b), upstream_responses(m1, "svc", b));
  EXPECT_EQ(metric(m2, "ringway_upstream_retries_total", retries),
            metric(m1, "ringway_upstream_retries_total", retries))
      << "attempts on " << b << " after it was marked unhealthy";
  std::optional<StatusView> down = fetch_status(admin);
  ASSERT_TRUE(down);
  EXPECT_EQ(down->upstream("svc")->healthy_servers, 1) << down->raw;

  std::string error;
  std::unique_ptr<ChildProcess> again = start_service_at("service1", b, io(), &error);
  ASSERT_TRUE(again) << error;
  services_.push_back(std::move(again));
  std::optional<base::Millis> recover = wait_health(admin, b, true, kFlipBound + 1000 * kTimingFactor);
  ASSERT_TRUE(recover) << "the restarted server never turned healthy\n" << proxy_.log();
  EXPECT_LE(*recover, kFlipBound);
  const double before_recovery = upstream_responses(m2, "svc", b);
  std::optional<base::Millis> traffic =
      wait_until([&] { return upstream_responses(scrape(), "svc", b) > before_recovery; },
                 1000 * kTimingFactor);
  EXPECT_TRUE(traffic) << "the recovered server gets no traffic; /status:\n"
                       << (fetch_status(admin) ? fetch_status(admin)->raw : "?");

  sleep_until(t0 + 6000);
  load.stop();
  EXPECT_EQ(load.failed(), 0u) << load.failures();
  EXPECT_GT(load.ok(), 300u);
  const std::string end = scrape();
  const double failures = metric(end, "ringway_upstream_health_checks_total",
                                 {{"upstream", "svc"}, {"server", b}, {"result", "failure"}});
  EXPECT_GT(failures, 0);
  const double retried = metric(end, "ringway_upstream_retries_total", retries);
  std::cout << "[ measured ] " << io() << ": " << load.ok() << " ok, " << load.failed()
            << " failed; unhealthy " << detected_at << " ms after the kill, healthy " << *recover
            << " ms after restart, traffic again after "
            << (traffic ? std::to_string(*recover + *traffic) : "never") << " ms; retries "
            << retried << ", failed probes " << failures << ", requests to " << b << ": "
            << upstream_responses(end, "svc", b) << ", to " << a << ": "
            << upstream_responses(end, "svc", a) << "\n";
}

TEST_P(ProxyHealthFailover, AllServersDownIs503InPanicModeUntilOneRecovers) {
  std::string a, b;
  ASSERT_NO_FATAL_FAILURE(start_service("service1", &a));
  ASSERT_NO_FATAL_FAILURE(start_service("service1", &b));
  ASSERT_NO_FATAL_FAILURE(start_proxy(two_servers(a, b)));
  const int admin = proxy_.admin_port();
  ASSERT_EQ(http_get(proxy_.port(), "/svc/ping").status, 200);
  const Labels panic = {{"upstream", "svc"}};
  EXPECT_EQ(metric(scrape(), "ringway_upstream_panic", panic), 0);

  services_[0]->kill();
  services_[1]->kill();
  std::optional<base::Millis> down = wait_until(
      [&] {
        std::optional<StatusView> s = fetch_status(admin);
        return s && s->upstream("svc") && s->upstream("svc")->healthy_servers == 0;
      },
      kFlipBound + 1000);
  ASSERT_TRUE(down) << proxy_.log();
  std::optional<StatusView> status = fetch_status(admin);
  ASSERT_TRUE(status);
  for (const ServerStatusView& s : status->upstream("svc")->servers) {
    EXPECT_FALSE(s.healthy) << status->raw;
    EXPECT_NE(s.last_check.find("connect"), std::string::npos) << status->raw;
  }

  const std::string before = scrape();
  for (int i = 0; i < 3; ++i) {
    std::optional<RawResponse> r =
        exchange("GET /svc/ping HTTP/1.1\r\nHost: h\r\nX-Request-Id: down-" + std::to_string(i) +
                 "\r\n\r\n");
    ASSERT_TRUE(r);
    ASSERT_NO_FATAL_FAILURE(expect_error_response(*r, 503));
    EXPECT_EQ(r->header("X-Request-Id"), "down-" + std::to_string(i));
  }
  EXPECT_EQ(metric(scrape(), "ringway_upstream_panic", panic), 1);
  // Counted once the response is sent, which the client may see first: poll.
  EXPECT_TRUE(wait_until(
      [&] {
        return http_requests(scrape(), "/svc/", 503) - http_requests(before, "/svc/", 503) == 3;
      },
      kIoTimeout))
      << http_requests(scrape(), "/svc/", 503) - http_requests(before, "/svc/", 503);
  EXPECT_NE(proxy_.log().find("panic mode"), std::string::npos) << proxy_.log();

  // One server back: it is picked again and panic mode ends.
  std::string error;
  std::unique_ptr<ChildProcess> again = start_service_at("service1", b, io(), &error);
  ASSERT_TRUE(again) << error;
  services_.push_back(std::move(again));
  ASSERT_TRUE(wait_health(admin, b, true, kFlipBound + 1000)) << proxy_.log();
  net::FetchResult ok = http_get(proxy_.port(), "/svc/ping");
  EXPECT_EQ(ok.status, 200) << ok.error << ok.body;
  EXPECT_EQ(ok.body, kPong);
  EXPECT_EQ(metric(scrape(), "ringway_upstream_panic", panic), 0);
}

RINGWAY_PROXY_BACKENDS(ProxyHealthFailover);

}  // namespace
}  // namespace ringway::e2e
