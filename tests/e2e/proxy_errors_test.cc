// Proxy e2e: the errors the proxy answers itself (400, 408, 413, 431, 502, 503, 504), each with
// its trigger, its JSON body, its connection handling and its exact ringway_http_requests_total.
#include <gtest/gtest.h>
#include <unistd.h>

#include <string>

#include "tests/e2e/proxy_fixture.h"

namespace ringway::e2e {
namespace {

using ProxyErrors = ProxyE2E;

// Sends `bytes` on a fresh connection; expects the JSON error `status`, then (if `closes`) the
// connection closed by the proxy.
void expect_error(int port, const std::string& bytes, int status, bool closes) {
  RawConnection conn;
  ASSERT_TRUE(conn.connect(port)) << conn.error();
  ASSERT_TRUE(conn.send(bytes)) << conn.error();
  auto r = conn.read_response(kIoTimeout);
  ASSERT_TRUE(r) << conn.error();
  ASSERT_NO_FATAL_FAILURE(expect_error_response(*r, status));
  if (closes) {
    EXPECT_EQ(r->header("Connection"), "close");
    std::string rest;
    EXPECT_TRUE(conn.wait_closed(kIoTimeout, &rest)) << conn.error();
    EXPECT_EQ(rest, "");  // nothing answered after the error, pipelined or not
  }
}

TEST_P(ProxyErrors, MalformedRequestIs400AndClosesTheConnection) {
  FakeUpstream& up = start_upstream(reply_always(http_response(200, "ok")));
  ASSERT_NO_FATAL_FAILURE(start_proxy(single_route(up.address())));
  const double before = requests_now("none", 400);
  // The pipelined GET after the broken head must never be answered.
  ASSERT_NO_FATAL_FAILURE(expect_error(proxy_.port(),
                                       "GET /up/x HTTP/1.1\r\nHost: h\r\nNo-Colon-Here\r\n\r\n"
                                       "GET /up/y HTTP/1.1\r\nHost: h\r\n\r\n",
                                       400, true));
  ASSERT_NO_FATAL_FAILURE(expect_error(proxy_.port(), "GET /up/x HTTP/1.1\r\n\r\n", 400, true));
  ASSERT_NO_FATAL_FAILURE(
      expect_error(proxy_.port(), "\x16\x03\x01\x02\x00garbage\r\n\r\n", 400, true));
  expect_requests_delta("none", 400, before, 3);
  EXPECT_EQ(up.bytes_received(), 0u);
}

TEST_P(ProxyErrors, ErrorAfterAHeadRequestStillCarriesItsBody) {
  // A parse error has no request of its own: nothing about the previous request (HEAD, on
  // this connection or on the previous client's) may shape its response.
  FakeUpstream& up = start_upstream(reply_always("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n"));
  ProxyConfig c = single_route(up.address());
  c.timeouts = "client_header: 300ms";
  ASSERT_NO_FATAL_FAILURE(start_proxy(c));
  for (const char* bad : {"GET /up/x HTTP/1.1\r\nBroken\r\n\r\n", "GET /up/x HTTP/1.1\r\n"}) {
    SCOPED_TRACE(::testing::PrintToString(std::string(bad)));
    const int status = std::string(bad).find("Broken") != std::string::npos ? 400 : 408;
    {  // same connection
      RawConnection conn;
      ASSERT_TRUE(conn.connect(proxy_.port())) << conn.error();
      ASSERT_TRUE(conn.send("HEAD /up/x HTTP/1.1\r\nHost: h\r\n\r\n"));
      auto head = conn.read_response(kIoTimeout, /*head_request=*/true);
      ASSERT_TRUE(head) << conn.error();
      EXPECT_EQ(head->status, 200);
      ASSERT_TRUE(conn.send(bad));
      auto r = conn.read_response(kIoTimeout);
      ASSERT_TRUE(r) << conn.error();
      ASSERT_NO_FATAL_FAILURE(expect_error_response(*r, status));
    }
    {  // the next client on the same (pooled) connection slot
      RawConnection first;
      ASSERT_TRUE(first.connect(proxy_.port())) << first.error();
      ASSERT_TRUE(first.send("HEAD /up/x HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"));
      ASSERT_TRUE(first.read_response(kIoTimeout, true)) << first.error();
      EXPECT_TRUE(first.wait_closed(kIoTimeout));
      ASSERT_NO_FATAL_FAILURE(expect_error(proxy_.port(), bad, status, true));
    }
  }
}

TEST_P(ProxyErrors, HalfAHeadWithinClientHeaderTimeoutIs408) {
  FakeUpstream& up = start_upstream(reply_always(http_response(200, "ok")));
  ProxyConfig c = single_route(up.address());
  c.timeouts = "client_header: 300ms";
  ASSERT_NO_FATAL_FAILURE(start_proxy(c));
  const double before = requests_now("none", 408);

  // An idle keep-alive connection is governed by client_idle, not client_header.
  RawConnection idle;
  ASSERT_TRUE(idle.connect(proxy_.port())) << idle.error();
  ::usleep(600000);
  ASSERT_TRUE(idle.send("GET /up/x HTTP/1.1\r\nHost: h\r\n\r\n"));
  auto ok = idle.read_response(kIoTimeout);
  ASSERT_TRUE(ok) << idle.error();
  EXPECT_EQ(ok->status, 200);

  RawConnection slow;
  ASSERT_TRUE(slow.connect(proxy_.port())) << slow.error();
  const base::TimePoint sent = base::Clock::now();
  ASSERT_TRUE(slow.send("GET /up/x HTTP/1.1\r\nHost: h\r\n"));
  auto r = slow.read_response(kIoTimeout);
  ASSERT_TRUE(r) << slow.error();
  const base::Millis waited = base::Clock::now() - sent;
  ASSERT_NO_FATAL_FAILURE(expect_error_response(*r, 408));
  EXPECT_EQ(r->header("Connection"), "close");
  EXPECT_GE(waited, 250);
  EXPECT_LT(waited, 3000);
  EXPECT_TRUE(slow.wait_closed(kIoTimeout)) << slow.error();
  expect_requests_delta("none", 408, before, 1);
  EXPECT_EQ(up.request_count(), 1u);  // only the idle connection's request
}

TEST_P(ProxyErrors, IdleKeepAliveConnectionIsClosedAfterClientIdle) {
  FakeUpstream& up = start_upstream(reply_always(http_response(200, "ok")));
  ProxyConfig c = single_route(up.address());
  c.timeouts = "client_idle: 300ms";
  ASSERT_NO_FATAL_FAILURE(start_proxy(c));
  RawConnection conn;
  ASSERT_TRUE(conn.connect(proxy_.port())) << conn.error();
  ASSERT_TRUE(conn.send("GET /up/x HTTP/1.1\r\nHost: h\r\n\r\n"));
  ASSERT_TRUE(conn.read_response(kIoTimeout)) << conn.error();
  const base::TimePoint idle_since = base::Clock::now();
  std::string rest;
  EXPECT_TRUE(conn.wait_closed(kIoTimeout, &rest)) << conn.error();
  EXPECT_EQ(rest, "");  // closed silently: no 408 for a connection between requests
  EXPECT_GE(base::Clock::now() - idle_since, 250);
}

TEST_P(ProxyErrors, ConnectionsOverMaxConnectionsAreRefused) {
  FakeUpstream& up = start_upstream(reply_always(http_response(200, "ok")));
  ProxyConfig c = single_route(up.address());
  c.limits = "max_connections: 2";
  ASSERT_NO_FATAL_FAILURE(start_proxy(c));
  RawConnection a, b, over;
  ASSERT_TRUE(a.connect(proxy_.port())) << a.error();
  ASSERT_TRUE(b.connect(proxy_.port())) << b.error();
  for (RawConnection* conn : {&a, &b}) {  // both accepted and served
    ASSERT_TRUE(conn->send("GET /up/x HTTP/1.1\r\nHost: h\r\n\r\n"));
    auto r = conn->read_response(kIoTimeout);
    ASSERT_TRUE(r) << conn->error();
    EXPECT_EQ(r->status, 200);
  }
  ASSERT_TRUE(over.connect(proxy_.port())) << over.error();  // the kernel completes the handshake
  over.send("GET /up/x HTTP/1.1\r\nHost: h\r\n\r\n");
  std::string rest;
  EXPECT_TRUE(over.wait_closed(kIoTimeout, &rest)) << over.error();
  EXPECT_EQ(rest, "");
  // A slot frees up when a client leaves.
  a.close();
  const base::TimePoint deadline = base::Clock::now() + kIoTimeout;
  int status = 0;
  while (status != 200 && base::Clock::now() < deadline) {
    RawConnection again;
    if (!again.connect(proxy_.port()) || !again.send("GET /up/x HTTP/1.1\r\nHost: h\r\n\r\n"))
      continue;
    auto r = again.read_response(1000);
    status = r ? r->status : 0;
  }
  EXPECT_EQ(status, 200);
}

TEST_P(ProxyErrors, BodyOverMaxBodyBytesIs413) {
  FakeUpstream& up = start_upstream(reply_always(http_response(200, "ok")));
  ProxyConfig c = single_route(up.address());
  c.limits = "max_body_bytes: 10";
  ASSERT_NO_FATAL_FAILURE(start_proxy(c));
  const std::string before = scrape();
  // Declared too large: refused at the head, before any upstream is involved.
  ASSERT_NO_FATAL_FAILURE(expect_error(
      proxy_.port(), "POST /up/x HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\nhello world", 413,
      true));
  EXPECT_EQ(up.connection_count(), 0u);
  // Exactly at the limit is fine.
  auto fits = exchange("POST /up/x HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\n0123456789");
  ASSERT_TRUE(fits);
  EXPECT_EQ(fits->status, 200);
  // Chunked: discovered while streaming. The head may already be on its way (it is streamed
  // on the pooled connection), but no body byte and no complete request follow.
  ASSERT_NO_FATAL_FAILURE(
      expect_error(proxy_.port(),
                   "POST /up/x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
                   "b\r\nhello world\r\n0\r\n\r\n",
                   413, true));
  expect_requests_delta("none", 413, http_requests(before, "none", 413), 1);
  expect_requests_delta("/up/", 413, http_requests(before, "/up/", 413), 1);
  EXPECT_EQ(up.request_count(), 1u);
  EXPECT_EQ(up.received_data().find("hello world"), std::string::npos) << up.received_data();
}

TEST_P(ProxyErrors, HeaderSectionOverMaxHeaderBytesIs431) {
  FakeUpstream& up = start_upstream(reply_always(http_response(200, "ok")));
  ProxyConfig c = single_route(up.address());
  c.limits = "max_header_bytes: 1024, max_headers: 10";
  ASSERT_NO_FATAL_FAILURE(start_proxy(c));
  const double before = requests_now("none", 431);
  ASSERT_NO_FATAL_FAILURE(expect_error(
      proxy_.port(),
      "GET /up/x HTTP/1.1\r\nHost: h\r\nX-Big: " + std::string(2000, 'b') + "\r\n\r\n", 431, true));
  std::string many = "GET /up/x HTTP/1.1\r\nHost: h\r\n";
  for (int i = 0; i < 11; ++i) many += "X-H" + std::to_string(i) + ": v\r\n";
  ASSERT_NO_FATAL_FAILURE(expect_error(proxy_.port(), many + "\r\n", 431, true));
  expect_requests_delta("none", 431, before, 2);
  EXPECT_EQ(up.connection_count(), 0u);
}

TEST_P(ProxyErrors, RefusedUpstreamIs502AfterOneRetry) {
  const int dead = free_port();
  ASSERT_NO_FATAL_FAILURE(start_proxy(single_route("127.0.0.1:" + std::to_string(dead))));
  const std::string before = scrape();
  ASSERT_NO_FATAL_FAILURE(
      expect_error(proxy_.port(), "GET /up/x HTTP/1.1\r\nHost: h\r\n\r\n", 502, false));
  expect_requests_delta("/up/", 502, http_requests(before, "/up/", 502), 1);
  const Labels retries = {{"upstream", "up"}};
  expect_delta("ringway_upstream_retries_total", retries,
               ProxyProcess::value(before, "ringway_upstream_retries_total", retries), 1);
}

TEST_P(ProxyErrors, ResetBeforeRespondingIs502AndIdempotentRequestsAreRetried) {
  FakeUpstream& up = start_upstream(reset_after_request());
  ASSERT_NO_FATAL_FAILURE(start_proxy(single_route(up.address(), "/up/", "retries: 1")));
  const double before = requests_now("/up/", 502);
  // GET: retried once, then 502.
  ASSERT_NO_FATAL_FAILURE(
      expect_error(proxy_.port(), "GET /up/x HTTP/1.1\r\nHost: h\r\n\r\n", 502, false));
  EXPECT_TRUE(up.wait_requests(2, kIoTimeout));
  EXPECT_EQ(up.request_count(), 2u);
  // POST with a body: the body is gone, no retry (RFC 9110 §9.2.2).
  ASSERT_NO_FATAL_FAILURE(expect_error(
      proxy_.port(), "POST /up/x HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\nhi", 502, false));
  EXPECT_EQ(up.request_count(), 3u);
  expect_requests_delta("/up/", 502, before, 2);
}

TEST_P(ProxyErrors, GarbageFromTheUpstreamIs502) {
  FakeUpstream& up = start_upstream(reply_always("garbage, not HTTP\r\n\r\n"));
  ASSERT_NO_FATAL_FAILURE(start_proxy(single_route(up.address(), "/up/", "retries: 0")));
  const double before = requests_now("/up/", 502);
  ASSERT_NO_FATAL_FAILURE(
      expect_error(proxy_.port(), "GET /up/x HTTP/1.1\r\nHost: h\r\n\r\n", 502, false));
  // A response head that breaks the rules (RFC 9112 §6.3) is garbage as well.
  up.set_script(
      reply_always("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nabc"));
  ASSERT_NO_FATAL_FAILURE(
      expect_error(proxy_.port(), "GET /up/x HTTP/1.1\r\nHost: h\r\n\r\n", 502, false));
  expect_requests_delta("/up/", 502, before, 2);
  EXPECT_EQ(up.request_count(), 2u);
}

TEST_P(ProxyErrors, NoHealthyServerIs503) {
  const std::string dead = "127.0.0.1:" + std::to_string(free_port());
  ProxyConfig c = single_route(dead);
  c.upstreams[0].health_check =
      "{path: /ping, interval: 100ms, timeout: 50ms, healthy_threshold: 1, unhealthy_threshold: 1}";
  ASSERT_NO_FATAL_FAILURE(start_proxy(c));
  // Wait for the health checker to mark the only server down.
  const base::TimePoint deadline = base::Clock::now() + kIoTimeout;
  std::string text = scrape();
  while (ProxyProcess::value(text, "ringway_upstream_server_healthy",
                             {{"upstream", "up"}, {"server", dead}}) != 0 ||
         text.find("ringway_upstream_server_healthy{") == std::string::npos) {
    ASSERT_LT(base::Clock::now() - deadline, 0) << "server never marked unhealthy:\n" << text;
    ::usleep(50000);
    text = scrape();
  }
  const double before = http_requests(text, "/up/", 503);
  ASSERT_NO_FATAL_FAILURE(
      expect_error(proxy_.port(), "GET /up/x HTTP/1.1\r\nHost: h\r\n\r\n", 503, false));
  expect_requests_delta("/up/", 503, before, 1);
}

TEST_P(ProxyErrors, UpstreamSilentPastUpstreamResponseTimeoutIs504) {
  FakeUpstream& up = start_upstream(hang_after_request());
  ProxyConfig c = single_route(up.address(), "/up/", "retries: 1");
  c.timeouts = "upstream_response: 300ms";
  ASSERT_NO_FATAL_FAILURE(start_proxy(c));
  const double before = requests_now("/up/", 504);
  const base::TimePoint sent = base::Clock::now();
  ASSERT_NO_FATAL_FAILURE(
      expect_error(proxy_.port(), "GET /up/x HTTP/1.1\r\nHost: h\r\n\r\n", 504, false));
  const base::Millis waited = base::Clock::now() - sent;
  EXPECT_GE(waited, 250);
  EXPECT_LT(waited, 3000);
  expect_requests_delta("/up/", 504, before, 1);
  EXPECT_EQ(up.request_count(), 1u);  // a timeout is not retried: the server may be working on it
}

RINGWAY_PROXY_BACKENDS(ProxyErrors);

}  // namespace
}  // namespace ringway::e2e
