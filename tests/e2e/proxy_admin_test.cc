// Proxy e2e: the admin listener and metrics. Exact counter deltas, build info per backend and
// after a forced io_uring fallback, /healthz, /readyz, /status, /explain and --check-config.
#include <gtest/gtest.h>
#include <unistd.h>

#include <regex>
#include <string>
#include <vector>

#include "tests/e2e/proxy_fixture.h"

namespace ringway::e2e {
namespace {

using ProxyAdmin = ProxyE2E;

ProxyConfig service1_config(const std::string& addr) {
  ProxyConfig c;
  c.upstreams = {UpstreamSpec{"service1", {addr}}};
  c.routes = {RouteSpec{"/service1/", "service1"}};
  return c;
}

// The labels of the only ringway_build_info sample.
Labels build_info(const std::string& text) {
  std::vector<Sample> samples;
  std::string error;
  EXPECT_TRUE(parse_exposition(text, &samples, &error)) << error;
  for (const Sample& s : samples) {
    if (s.name == "ringway_build_info") {
      EXPECT_EQ(s.value, 1);
      return s.labels;
    }
  }
  ADD_FAILURE() << "no ringway_build_info in:\n" << text;
  return {};
}

TEST_P(ProxyAdmin, CountersMoveByExactlyTheRequestsSent) {
  std::string s1;
  ASSERT_NO_FATAL_FAILURE(start_service("service1", &s1));
  ASSERT_NO_FATAL_FAILURE(start_proxy(service1_config(s1)));
  const Labels ok_route = {{"route", "/service1/"}, {"code", "200"}};
  const Labels ok_server = {{"upstream", "service1"}, {"server", s1}, {"code", "200"}};
  const std::string before = scrape();

  constexpr int kFresh = 5;  // one connection each (http_fetch sends Connection: close)
  for (int i = 0; i < kFresh; ++i) {
    net::FetchResult r = http_get(proxy_.port(), "/service1/ping");
    ASSERT_EQ(r.status, 200) << r.error;
  }
  constexpr int kKeepAlive = 3;  // one connection for all of them
  RawConnection conn;
  ASSERT_TRUE(conn.connect(proxy_.port())) << conn.error();
  for (int i = 0; i < kKeepAlive; ++i) {
    ASSERT_TRUE(conn.send("GET /service1/ping HTTP/1.1\r\nHost: h\r\n\r\n"));
    auto r = conn.read_response(kIoTimeout);
    ASSERT_TRUE(r && r->status == 200) << conn.error();
  }
  auto missing = http_get(proxy_.port(), "/nowhere");
  ASSERT_EQ(missing.status, 404);

  auto delta = [&](std::string_view name, const Labels& labels, double n) {
    expect_delta(name, labels, ProxyProcess::value(before, name, labels), n);
  };
  delta("ringway_http_requests_total", ok_route, kFresh + kKeepAlive);
  delta("ringway_upstream_requests_total", ok_server, kFresh + kKeepAlive);
  delta("ringway_http_requests_total", {{"route", "none"}, {"code", "404"}}, 1);
  delta("ringway_http_request_duration_seconds_count", {{"route", "/service1/"}},
        kFresh + kKeepAlive);
  delta("ringway_upstream_response_duration_seconds_count", {{"upstream", "service1"}},
        kFresh + kKeepAlive);
  delta("ringway_connections_accepted_total", {}, kFresh + 1 + 1);
  // The gauge follows closes the proxy sees asynchronously: poll for the expected value.
  auto active_settles_at = [&](double want) {
    const base::TimePoint deadline = base::Clock::now() + kIoTimeout;
    double v = -1;
    while ((v = ProxyProcess::value(scrape(), "ringway_connections_active")) != want &&
           base::Clock::now() < deadline) {
      ::usleep(20000);
    }
    return v;
  };
  EXPECT_EQ(active_settles_at(1), 1);  // `conn` is still open
  conn.close();
  EXPECT_EQ(active_settles_at(0), 0);
}

TEST_P(ProxyAdmin, BuildInfoNamesTheRunningBackend) {
  std::string s1;
  ASSERT_NO_FATAL_FAILURE(start_service("service1", &s1));
  ASSERT_NO_FATAL_FAILURE(start_proxy(service1_config(s1)));
  const Labels labels = build_info(scrape());
  EXPECT_EQ(labels.count("version"), 1u);
  EXPECT_EQ(labels.count("io") ? labels.at("io") : "", io());
  EXPECT_EQ(labels.count("io_fallback_reason") ? labels.at("io_fallback_reason") : "?", "");
}

TEST_P(ProxyAdmin, BuildInfoReportsAForcedIoUringFallback) {
  std::string s1;
  ASSERT_NO_FATAL_FAILURE(start_service("service1", &s1));
  // io_uring case: `--io auto` with io_uring refused must run epoll and say why. epoll case:
  // an explicit epoll never looks at io_uring, so there is no reason to report.
  const bool auto_mode = io() == "io_uring";
  ASSERT_TRUE(proxy_.start(service1_config(s1), auto_mode ? "auto" : "epoll",
                           {{"RINGWAY_IO_URING_FAIL", "EPERM"}}))
      << proxy_.error();
  const Labels labels = build_info(scrape());
  EXPECT_EQ(labels.count("io") ? labels.at("io") : "", "epoll");
  const std::string reason =
      labels.count("io_fallback_reason") ? labels.at("io_fallback_reason") : "";
  if (auto_mode) {
    EXPECT_NE(reason.find("EPERM"), std::string::npos) << reason;
    EXPECT_TRUE(proxy_.process().wait_for_text("fell back from io_uring", 0)) << proxy_.log();
  } else {
    EXPECT_EQ(reason, "");
  }
  // And it proxies on the fallback engine.
  net::FetchResult r = http_get(proxy_.port(), "/service1/ping");
  EXPECT_EQ(r.status, 200) << r.error;
}

TEST_P(ProxyAdmin, HealthReadinessStatusAndExplain) {
  std::string s1;
  ASSERT_NO_FATAL_FAILURE(start_service("service1", &s1));
  ASSERT_NO_FATAL_FAILURE(start_proxy(service1_config(s1)));
  const int admin = proxy_.admin_port();

  net::FetchResult healthz = http_get(admin, "/healthz");
  EXPECT_EQ(healthz.status, 200) << healthz.error;
  net::FetchResult readyz = http_get(admin, "/readyz");
  EXPECT_EQ(readyz.status, 200) << readyz.error;
  EXPECT_EQ(readyz.body, "{\"status\":\"ready\"}\n");

  net::FetchResult status = http_get(admin, "/status");
  ASSERT_EQ(status.status, 200) << status.error;
  EXPECT_EQ(status.header("Content-Type"), "application/json");
  const std::string& s = status.body;
  EXPECT_NE(s.find("\"io\":\"" + io() + "\""), std::string::npos) << s;
  EXPECT_NE(s.find("\"routes\":[{\"prefix\":\"/service1/"
                   "\",\"upstream\":\"service1\",\"strip_prefix\":true}]"),
            std::string::npos)
      << s;
  EXPECT_NE(s.find("\"upstreams\":[{\"name\":\"service1\""), std::string::npos) << s;
  EXPECT_NE(s.find("\"address\":\"" + s1 + "\""), std::string::npos) << s;
  EXPECT_NE(s.find("\"healthy\":true"), std::string::npos) << s;

  net::FetchResult explain = http_get(admin, "/explain?path=/service1/x");
  ASSERT_EQ(explain.status, 200) << explain.error;
  const std::string& e = explain.body;
  EXPECT_NE(
      e.find(
          "\"route\":{\"prefix\":\"/service1/\",\"upstream\":\"service1\",\"strip_prefix\":true}"),
      std::string::npos)
      << e;
  EXPECT_NE(e.find("\"upstream_target\":\"/x\""), std::string::npos) << e;
  EXPECT_NE(e.find("\"would_pick\":\"" + s1 + "\""), std::string::npos) << e;
  EXPECT_NE(e.find("\"X-Forwarded-Proto\":\"http\""), std::string::npos) << e;

  net::FetchResult query = http_get(admin, "/explain?path=" + url_encode("/service1/a/../b?q=1"));
  ASSERT_EQ(query.status, 200) << query.error;
  EXPECT_NE(query.body.find("\"upstream_target\":\"/b?q=1\""), std::string::npos) << query.body;

  net::FetchResult none = http_get(admin, "/explain?path=/nowhere");
  ASSERT_EQ(none.status, 200) << none.error;
  EXPECT_NE(none.body.find("\"route\":null"), std::string::npos) << none.body;
  EXPECT_NE(none.body.find("404"), std::string::npos) << none.body;
}

RunResult check_config(const std::string& file) {
  SpawnOptions options;
  options.args = {"--check-config", file};
  return run_command(bin_path("ringway"), options, kIoTimeout);
}

TEST_P(ProxyAdmin, CheckConfigPrintsOkOrPositionedErrors) {
  TempDir dir;
  const std::string good = dir.write("good.yaml",
                                     "listen: [\"127.0.0.1:0\"]\n"
                                     "upstreams:\n"
                                     "  a: {servers: [\"127.0.0.1:8001\"]}\n"
                                     "routes:\n"
                                     "  - {prefix: /a/, upstream: a}\n");
  RunResult ok = check_config(good);
  EXPECT_EQ(ok.exit_code, std::optional<int>(0)) << ok.output << ok.errors;
  EXPECT_EQ(ok.output, good + ": ok\n");

  const std::string bad = dir.write("bad.yaml",
                                    "listen: [\"127.0.0.1:0\"]\n"
                                    "upstreams:\n"
                                    "  a: {servers: [\"127.0.0.1:8001\"], bogus: 1}\n"
                                    "routes:\n"
                                    "  - {prefix: /a/, upstream: missing}\n");
  RunResult fail = check_config(bad);
  EXPECT_EQ(fail.exit_code, std::optional<int>(1)) << fail.output << fail.errors;
  // One "FILE:LINE:COL: message" line per error, in file order.
  const std::regex line(std::regex_replace(bad, std::regex(R"([.^$|()\[\]{}*+?\\])"), R"(\$&)") +
                        R"(:([0-9]+):([0-9]+): (.+))");
  std::vector<int> lines;
  size_t start = 0;
  while (start < fail.output.size()) {
    const size_t nl = fail.output.find('\n', start);
    const std::string text = fail.output.substr(start, nl - start);
    start = nl == std::string::npos ? fail.output.size() : nl + 1;
    std::smatch m;
    ASSERT_TRUE(std::regex_match(text, m, line)) << "unexpected line: " << text;
    lines.push_back(std::stoi(m[1]));
  }
  EXPECT_EQ(lines, (std::vector<int>{3, 5})) << fail.output;
  EXPECT_NE(fail.output.find("bogus"), std::string::npos) << fail.output;
  EXPECT_NE(fail.output.find("missing"), std::string::npos) << fail.output;

  RunResult absent = check_config(dir.path() + "/nope.yaml");
  EXPECT_EQ(absent.exit_code, std::optional<int>(1));
  EXPECT_EQ(absent.output.rfind(dir.path() + "/nope.yaml:1:1: ", 0), 0u) << absent.output;
}

RINGWAY_PROXY_BACKENDS(ProxyAdmin);

}  // namespace
}  // namespace ringway::e2e
