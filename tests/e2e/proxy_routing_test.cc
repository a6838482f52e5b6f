// Proxy e2e: routing. Longest prefix, strip_prefix rewriting, 404 for unrouted paths, dot
// segments that try to climb out of a route, and control bytes in the request-target.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/e2e/proxy_fixture.h"

namespace ringway::e2e {
namespace {

using ProxyRouting = ProxyE2E;

// A fake upstream that answers "<tag>:<target>" so the test sees who got what.
UpstreamScript echo_target(const std::string& tag) {
  return serve(
      [tag](const ReceivedRequest& r) { return http_response(200, tag + ":" + r.target); });
}

std::string get(std::string_view target) {
  return "GET " + std::string(target) + " HTTP/1.1\r\nHost: routing.test\r\n\r\n";
}

TEST_P(ProxyRouting, LongestPrefixWinsAndStripPrefixRewritesTheTarget) {
  FakeUpstream& a = start_upstream(echo_target("a"));
  FakeUpstream& b = start_upstream(echo_target("b"));
  ProxyConfig c;
  c.upstreams = {UpstreamSpec{"a", {a.address()}}, UpstreamSpec{"b", {b.address()}}};
  c.routes = {RouteSpec{"/api/", "a"}, RouteSpec{"/api/v2/", "b"},
              RouteSpec{"/static/", "a", /*strip_prefix=*/false}};
  ASSERT_NO_FATAL_FAILURE(start_proxy(c));

  const std::vector<std::pair<std::string, std::string>> cases = {
      {"/api/users", "a:/users"},
      {"/api/v2/users", "b:/users"},
      {"/api/v2/users?id=7&x=%20", "b:/users?id=7&x=%20"},
      {"/api/v2/", "b:/"},
      {"/api/v2", "b:/"},  // bare prefix without its '/' reaches the route's root
      {"/api/v2x", "a:/v2x"},
      {"/api", "a:/"},
      {"/api/", "a:/"},
      {"/static/app.js", "a:/static/app.js"},  // strip_prefix: false keeps the path
      // absolute-form (RFC 9112 §3.2.2) is routed by its path and forwarded in origin-form
      {"http://example.test/api/v2/abs?q=1", "b:/abs?q=1"},
  };
  RawConnection conn;
  ASSERT_TRUE(conn.connect(proxy_.port())) << conn.error();
  for (const auto& [target, want] : cases) {
    SCOPED_TRACE(target);
    ASSERT_TRUE(conn.send(get(target))) << conn.error();
    auto r = conn.read_response(kIoTimeout);
    ASSERT_TRUE(r) << conn.error();
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, want);
  }
  EXPECT_EQ(a.request_count() + b.request_count(), cases.size());
}

TEST_P(ProxyRouting, RealServicesBehindTheirPrefixes) {
  std::string s1, s2;
  ASSERT_NO_FATAL_FAILURE(start_service("service1", &s1));
  ASSERT_NO_FATAL_FAILURE(start_service("service2", &s2));
  ProxyConfig c;
  c.upstreams = {UpstreamSpec{"service1", {s1}}, UpstreamSpec{"service2", {s2}}};
  c.routes = {RouteSpec{"/service1/", "service1"}, RouteSpec{"/service2/", "service2"}};
  ASSERT_NO_FATAL_FAILURE(start_proxy(c));

  for (const char* svc : {"service1", "service2"}) {
    SCOPED_TRACE(svc);
    net::FetchResult r = http_get(proxy_.port(), "/" + std::string(svc) + "/ping");
    ASSERT_EQ(r.status, 200) << r.error << r.body;
    EXPECT_EQ(r.body, "{\"service\":\"" + std::string(svc) + "\",\"message\":\"pong\"}");
    EXPECT_EQ(r.header("Content-Type"), "application/json");
  }
  // "/service1" reaches service1's "/": the service's own 404, not the proxy's (no request_id).
  net::FetchResult root = http_get(proxy_.port(), "/service1");
  ASSERT_EQ(root.status, 404) << root.error;
  EXPECT_EQ(root.body.find("request_id"), std::string::npos) << root.body;
  EXPECT_NE(root.body.find("not found"), std::string::npos) << root.body;
}

TEST_P(ProxyRouting, NoMatchingRouteIs404JsonWithTheRequestId) {
  FakeUpstream& up = start_upstream(echo_target("up"));
  ASSERT_NO_FATAL_FAILURE(start_proxy(single_route(up.address(), "/service1/")));
  const double before = requests_now("none", 404);

  RawConnection conn;
  ASSERT_TRUE(conn.connect(proxy_.port())) << conn.error();
  ASSERT_TRUE(conn.send("GET /nowhere HTTP/1.1\r\nHost: t\r\nX-Request-Id: route-test-1\r\n\r\n"));
  auto r = conn.read_response(kIoTimeout);
  ASSERT_TRUE(r) << conn.error();
  EXPECT_EQ(r->status, 404);
  EXPECT_EQ(r->body,
            "{\"error\":\"Not Found\",\"status\":404,\"detail\":\"no route matches the request "
            "path\",\"request_id\":\"route-test-1\"}\n");
  EXPECT_EQ(r->header("X-Request-Id"), "route-test-1");
  EXPECT_EQ(r->header("Content-Type"), "application/json");
  EXPECT_TRUE(r->keep_alive);  // a 404 does not cost the client its connection

  // Without an id the proxy makes one and names it in both places; /service1x is not /service1/.
  ASSERT_TRUE(conn.send(get("/service1x/ping")));
  auto gen = conn.read_response(kIoTimeout);
  ASSERT_TRUE(gen) << conn.error();
  ASSERT_NO_FATAL_FAILURE(expect_error_response(*gen, 404));
  EXPECT_EQ(gen->header("X-Request-Id").size(), 32u);
  EXPECT_EQ(up.request_count(), 0u);
  expect_requests_delta("none", 404, before, 2);
}

TEST_P(ProxyRouting, DotSegmentsNeverClimbOutOfTheRoute) {
  FakeUpstream& one = start_upstream(echo_target("one"));
  FakeUpstream& two = start_upstream(echo_target("two"));
  ProxyConfig c;
  c.upstreams = {UpstreamSpec{"one", {one.address()}}, UpstreamSpec{"two", {two.address()}}};
  c.routes = {RouteSpec{"/service1/", "one"}, RouteSpec{"/service2/", "two"}};
  ASSERT_NO_FATAL_FAILURE(start_proxy(c));

  // Normalized first (RFC 3986 §5.2.4), then routed: the result is a route of its own or 404.
  const std::vector<std::pair<std::string, int>> cases = {
      {"/service1/../service2/ping", 200},
      {"/service1/%2e%2e/service2/ping", 200},
      {"/service1/%2E%2E/%2e%2E/service2/ping", 200},
      {"/service1/./ping", 200},
      {"/service1/a/../ping", 200},
      {"/service1/../../etc/passwd", 404},
      {"/service1/../", 404},
      {"/service1/..", 404},
      {"/service1/a/../../../x", 404},
      {"/service1/%2e%2e/%2e%2e/x", 404},
  };
  for (const auto& [target, status] : cases) {
    SCOPED_TRACE(target);
    auto r = exchange(get(target));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, status) << r->body;
  }
  auto r = exchange(get("/service1/../service2/ping"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "two:/ping");
  // No upstream ever saw a dot segment or a target outside its own root.
  for (const FakeUpstream* up : {&one, &two}) {
    for (const ReceivedRequest& req : up->requests()) {
      EXPECT_EQ(req.target.find(".."), std::string::npos) << req.target;
      EXPECT_EQ(req.target.find("%2"), std::string::npos) << req.target;
      EXPECT_EQ(req.target, "/ping");
    }
  }
  EXPECT_EQ(one.request_count(), 2u);
  EXPECT_EQ(two.request_count(), 4u);
}

TEST_P(ProxyRouting, ControlBytesAndNulInTheTargetAre400) {
  FakeUpstream& up = start_upstream(echo_target("up"));
  ASSERT_NO_FATAL_FAILURE(start_proxy(single_route(up.address(), "/service1/")));
  const double before = requests_now("none", 400);
  const std::vector<std::string> targets = {
      std::string("/service1/a\0b", 13),  // raw NUL
      "/service1/a%00b",                  // encoded NUL: C strings upstream would end there
      "/service1/a\x01"
      "b",
      "/service1/a\x7f"
      "b",
      "/service1/a\x1b[0mb",
      "/service1/a\tb",
      "/service1/a%zzb",  // '%' without two hex digits
      "/service1/a#frag",
      "/service1/ping?q=%00",
  };
  for (const std::string& target : targets) {
    SCOPED_TRACE(::testing::PrintToString(target));
    RawConnection conn;
    ASSERT_TRUE(conn.connect(proxy_.port())) << conn.error();
    ASSERT_TRUE(conn.send(get(target))) << conn.error();
    auto r = conn.read_response(kIoTimeout);
    ASSERT_TRUE(r) << conn.error();
    ASSERT_NO_FATAL_FAILURE(expect_error_response(*r, 400));
    EXPECT_EQ(r->header("Connection"), "close");
    EXPECT_TRUE(conn.wait_closed(kIoTimeout)) << conn.error();
  }
  expect_requests_delta("none", 400, before, static_cast<double>(targets.size()));
  EXPECT_EQ(up.bytes_received(), 0u);
  EXPECT_EQ(up.connection_count(), 0u);
}

RINGWAY_PROXY_BACKENDS(ProxyRouting);

}  // namespace
}  // namespace ringway::e2e
