// Proxy e2e: header phases. Hop-by-hop removal in both directions, forwarding headers, request
// ids, Via, configured set/remove rules and the security headers on every kind of response.
#include <gtest/gtest.h>

#include <cctype>
#include <string>
#include <vector>

#include "tests/e2e/proxy_fixture.h"

namespace ringway::e2e {
namespace {

using ProxyHeaders = ProxyE2E;

const Headers kSecurityHeaders = {
    {"X-Frame-Options", "DENY"},
    {"X-Content-Type-Options", "nosniff"},
    {"Referrer-Policy", "no-referrer"},
    {"Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'"},
};

void expect_security_headers(const RawResponse& r) {
  for (const auto& [name, value] : kSecurityHeaders) {
    EXPECT_EQ(r.header_count(name), 1u) << name;
    EXPECT_EQ(r.header(name), value) << name;
  }
}

bool is_lower_hex(const std::string& s) {
  for (char c : s) {
    if (!std::isxdigit(static_cast<unsigned char>(c)) ||
        std::isupper(static_cast<unsigned char>(c))) {
      return false;
    }
  }
  return true;
}

TEST_P(ProxyHeaders, HopByHopFieldsAreRemovedInBothDirections) {
  FakeUpstream& up =
      start_upstream(reply_always("HTTP/1.1 200 OK\r\n"
                                  "Connection: X-Resp-Hop, keep-alive\r\n"
                                  "Keep-Alive: timeout=5\r\n"
                                  "X-Resp-Hop: secret\r\n"
                                  "Proxy-Authenticate: Basic realm=\"x\"\r\n"
                                  "Proxy-Connection: keep-alive\r\n"
                                  "Trailer: X-Sum\r\n"
                                  "Upgrade: h2c\r\n"
                                  "X-End-To-End: kept\r\n"
                                  "Content-Length: 2\r\n\r\nok"));
  ASSERT_NO_FATAL_FAILURE(start_proxy(single_route(up.address())));

  RawConnection conn;
  ASSERT_TRUE(conn.connect(proxy_.port())) << conn.error();
  ASSERT_TRUE(
      conn.send("GET /up/h HTTP/1.1\r\n"
                "Host: headers.test\r\n"
                "Connection: keep-alive, X-Custom-Hop\r\n"
                "Keep-Alive: timeout=5\r\n"
                "TE: trailers\r\n"
                "Trailer: X-Checksum\r\n"
                "Upgrade: websocket\r\n"  // without the "upgrade" connection option
                "Proxy-Authorization: Basic Zm9vOmJhcg==\r\n"
                "Proxy-Connection: keep-alive\r\n"
                "X-Custom-Hop: drop-me\r\n"
                "X-End-To-End: keep-me\r\n\r\n"));
  auto r = conn.read_response(kIoTimeout);
  ASSERT_TRUE(r) << conn.error();
  ASSERT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "ok");

  ASSERT_EQ(up.request_count(), 1u);
  const ReceivedRequest req = up.requests()[0];
  for (const char* name : {"Connection", "Keep-Alive", "TE", "Trailer", "Upgrade",
                           "Proxy-Authorization", "Proxy-Connection", "X-Custom-Hop"}) {
    EXPECT_FALSE(req.has(name)) << name << " reached the upstream:\n" << req.raw;
  }
  EXPECT_EQ(req.header("X-End-To-End"), "keep-me");
  EXPECT_EQ(req.header("Host"), "headers.test");

  for (const char* name : {"Connection", "Keep-Alive", "X-Resp-Hop", "Proxy-Authenticate",
                           "Proxy-Connection", "Trailer", "Upgrade"}) {
    EXPECT_EQ(r->header_count(name), 0u) << name << " reached the client";
  }
  EXPECT_EQ(r->header("X-End-To-End"), "kept");
  EXPECT_TRUE(r->keep_alive);
}

TEST_P(ProxyHeaders, ForwardingHeadersAreAppendedOrReplaced) {
  FakeUpstream& up = start_upstream(serve([](const ReceivedRequest& req) {
    // The second request's response carries a Via of its own.
    return http_response(200, "ok",
                         req.target == "/via" ? Headers{{"Via", "1.1 backend"}} : Headers{});
  }));
  ASSERT_NO_FATAL_FAILURE(start_proxy(single_route(up.address())));

  RawConnection conn;
  ASSERT_TRUE(conn.connect(proxy_.port())) << conn.error();
  ASSERT_TRUE(
      conn.send("GET /up/chain HTTP/1.1\r\nHost: h\r\n"
                "X-Forwarded-For: 203.0.113.7, 198.51.100.2\r\n"
                "X-Real-IP: 6.6.6.6\r\n"
                "X-Forwarded-Proto: https\r\n"
                "X-Forwarded-For: 192.0.2.1\r\n"
                "Via: 1.0 edge\r\n\r\n"));
  auto first = conn.read_response(kIoTimeout);
  ASSERT_TRUE(first) << conn.error();
  EXPECT_EQ(first->header("Via"), "1.1 ringway");
  ASSERT_TRUE(conn.send("GET /up/via HTTP/1.1\r\nHost: h\r\n\r\n"));
  auto second = conn.read_response(kIoTimeout);
  ASSERT_TRUE(second) << conn.error();
  EXPECT_EQ(second->header("Via"), "1.1 backend, 1.1 ringway");

  ASSERT_EQ(up.request_count(), 2u);
  const ReceivedRequest chained = up.requests()[0];
  EXPECT_EQ(chained.header_count("X-Forwarded-For"), 1u) << chained.raw;
  EXPECT_EQ(chained.header("X-Forwarded-For"), "203.0.113.7, 198.51.100.2, 192.0.2.1, 127.0.0.1");
  EXPECT_EQ(chained.header_count("X-Real-IP"), 1u);
  EXPECT_EQ(chained.header("X-Real-IP"), "127.0.0.1");
  EXPECT_EQ(chained.header_count("X-Forwarded-Proto"), 1u);
  EXPECT_EQ(chained.header("X-Forwarded-Proto"), "http");
  EXPECT_EQ(chained.header("Via"), "1.0 edge, 1.1 ringway");

  const ReceivedRequest plain = up.requests()[1];
  EXPECT_EQ(plain.header("X-Forwarded-For"), "127.0.0.1");
  EXPECT_EQ(plain.header("X-Real-IP"), "127.0.0.1");
  EXPECT_EQ(plain.header("X-Forwarded-Proto"), "http");
  EXPECT_EQ(plain.header("Via"), "1.1 ringway");
}

TEST_P(ProxyHeaders, RequestIdIsKeptOrGeneratedAndEchoed) {
  // The upstream's own X-Request-Id must not replace the one the proxy assigned.
  FakeUpstream& up =
      start_upstream(reply_always(http_response(200, "ok", {{"X-Request-Id", "upstream-id"}})));
  ASSERT_NO_FATAL_FAILURE(start_proxy(single_route(up.address())));

  auto kept = exchange("GET /up/a HTTP/1.1\r\nHost: h\r\nX-Request-Id: client-id-42\r\n\r\n");
  ASSERT_TRUE(kept);
  EXPECT_EQ(kept->header_count("X-Request-Id"), 1u);
  EXPECT_EQ(kept->header("X-Request-Id"), "client-id-42");

  auto gen1 = exchange("GET /up/b HTTP/1.1\r\nHost: h\r\n\r\n");
  auto gen2 = exchange("GET /up/c HTTP/1.1\r\nHost: h\r\n\r\n");
  // Over 128 characters is not echoed: a fresh id replaces it.
  auto too_long = exchange(
      "GET /up/d HTTP/1.1\r\nHost: h\r\nX-Request-Id: " + std::string(129, 'a') + "\r\n\r\n");
  ASSERT_TRUE(gen1 && gen2 && too_long);

  ASSERT_EQ(up.request_count(), 4u);
  const std::vector<ReceivedRequest> reqs = up.requests();
  EXPECT_EQ(reqs[0].header_count("X-Request-Id"), 1u);
  EXPECT_EQ(reqs[0].header("X-Request-Id"), "client-id-42");
  const std::vector<const RawResponse*> generated = {&*gen1, &*gen2, &*too_long};
  for (size_t i = 0; i < generated.size(); ++i) {
    SCOPED_TRACE(i);
    const std::string id = generated[i]->header("X-Request-Id");
    EXPECT_EQ(id.size(), 32u) << id;
    EXPECT_TRUE(is_lower_hex(id)) << id;
    EXPECT_EQ(generated[i]->header_count("X-Request-Id"), 1u);
    EXPECT_EQ(reqs[i + 1].header("X-Request-Id"), id);  // the upstream saw the same id
    EXPECT_EQ(reqs[i + 1].header_count("X-Request-Id"), 1u);
  }
  EXPECT_NE(gen1->header("X-Request-Id"), gen2->header("X-Request-Id"));
}

TEST_P(ProxyHeaders, ConfiguredSetAndRemoveRulesApplyBothWays) {
  FakeUpstream& up = start_upstream(reply_always(http_response(200, "ok",
                                                               {{"Server", "fake/1.0"},
                                                                {"X-Powered-By", "php"},
                                                                {"X-Served-By", "backend"},
                                                                {"X-Frame-Options", "ALLOWALL"}})));
  ProxyConfig c = single_route(up.address());
  c.headers =
      "{request: {set: {X-Env: e2e, X-Overwritten: by-proxy}, remove: [X-Secret]}, "
      "response: {set: {X-Served-By: ringway, X-Frame-Options: SAMEORIGIN}, "
      "remove: [Server, X-Powered-By]}}";
  ASSERT_NO_FATAL_FAILURE(start_proxy(c));

  auto r = exchange(
      "GET /up/rules HTTP/1.1\r\nHost: h\r\nX-Secret: hunter2\r\n"
      "X-Overwritten: client\r\nX-Other: stays\r\n\r\n");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200);
  ASSERT_EQ(up.request_count(), 1u);
  const ReceivedRequest req = up.requests()[0];
  EXPECT_FALSE(req.has("X-Secret")) << req.raw;
  EXPECT_EQ(req.header("X-Env"), "e2e");
  EXPECT_EQ(req.header_count("X-Overwritten"), 1u) << req.raw;
  EXPECT_EQ(req.header("X-Overwritten"), "by-proxy");
  EXPECT_EQ(req.header("X-Other"), "stays");

  EXPECT_EQ(r->header_count("Server"), 0u);
  EXPECT_EQ(r->header_count("X-Powered-By"), 0u);
  EXPECT_EQ(r->header_count("X-Served-By"), 1u);
  EXPECT_EQ(r->header("X-Served-By"), "ringway");
  EXPECT_EQ(r->header_count("X-Frame-Options"), 1u);
  EXPECT_EQ(r->header("X-Frame-Options"), "SAMEORIGIN");
  // response.set replaces the default security set: the others are gone.
  EXPECT_EQ(r->header_count("X-Content-Type-Options"), 0u);

  // Proxy-generated responses carry the configured set too.
  auto missing = exchange("GET /elsewhere HTTP/1.1\r\nHost: h\r\n\r\n");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);
  EXPECT_EQ(missing->header("X-Served-By"), "ringway");
  EXPECT_EQ(missing->header("X-Frame-Options"), "SAMEORIGIN");
}

TEST_P(ProxyHeaders, SecurityHeadersOnProxiedAndProxyGeneratedResponses) {
  FakeUpstream& up =
      start_upstream(reply_always(http_response(200, "ok", {{"X-Frame-Options", "SAMEORIGIN"}})));
  const int dead_port = free_port();  // nothing listens here: 502
  ProxyConfig c = single_route(up.address());
  c.upstreams.push_back(
      UpstreamSpec("dead", {"127.0.0.1:" + std::to_string(dead_port)}, "retries: 0"));
  c.routes.push_back(RouteSpec("/dead/", "dead"));
  ASSERT_NO_FATAL_FAILURE(start_proxy(c));

  auto proxied = exchange("GET /up/x HTTP/1.1\r\nHost: h\r\n\r\n");
  ASSERT_TRUE(proxied);
  EXPECT_EQ(proxied->status, 200);
  expect_security_headers(*proxied);  // the upstream's SAMEORIGIN is replaced, not doubled

  auto not_found = exchange("GET /none HTTP/1.1\r\nHost: h\r\n\r\n");
  ASSERT_TRUE(not_found);
  EXPECT_EQ(not_found->status, 404);
  expect_security_headers(*not_found);

  auto bad_gateway = exchange("GET /dead/x HTTP/1.1\r\nHost: h\r\n\r\n");
  ASSERT_TRUE(bad_gateway);
  EXPECT_EQ(bad_gateway->status, 502);
  expect_security_headers(*bad_gateway);

  auto bad_request = exchange("GET /up/x HTTP/1.1\r\nHost: h\r\nBroken\r\n\r\n");
  ASSERT_TRUE(bad_request);
  EXPECT_EQ(bad_request->status, 400);
  expect_security_headers(*bad_request);
}

TEST_P(ProxyHeaders, RequestIdWithJsonMetacharactersIsEscapedInErrorBodies) {
  FakeUpstream& up = start_upstream(reply_always(http_response(200, "ok")));
  ASSERT_NO_FATAL_FAILURE(start_proxy(single_route(up.address())));
  // '"' and '\' are visible ASCII, so the id is echoed; the JSON body must stay valid.
  auto r = exchange("GET /none HTTP/1.1\r\nHost: h\r\nX-Request-Id: a\"b\\c\r\n\r\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
  EXPECT_EQ(r->header("X-Request-Id"), "a\"b\\c");
  EXPECT_NE(r->body.find("\"request_id\":\"a\\\"b\\\\c\"}"), std::string::npos) << r->body;
}

RINGWAY_PROXY_BACKENDS(ProxyHeaders);

}  // namespace
}  // namespace ringway::e2e
