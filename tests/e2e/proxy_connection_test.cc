// Proxy e2e: connection-level behaviour. Expect: 100-continue, pipelining, half-close, client
// and upstream connection reuse (pooling, stale keep-alive replay, pooled client slots).
#include <gtest/gtest.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "tests/e2e/proxy_fixture.h"

namespace ringway::e2e {
namespace {

using ProxyConnectionE2E = ProxyE2E;

TEST_P(ProxyConnectionE2E, ExpectContinueIsAnsweredByTheProxyAndNotForwarded) {
  // The upstream sends an unsolicited 100 of its own: the client must see only one.
  FakeUpstream& up = start_upstream([](UpstreamConn& c) {
    while (auto req = c.read_request()) {
      if (!c.send("HTTP/1.1 100 Continue\r\n\r\n" + http_response(200, "body=" + req->body)))
        return;
    }
  });
  ASSERT_NO_FATAL_FAILURE(start_proxy(single_route(up.address())));
  RawConnection conn;
  ASSERT_TRUE(conn.connect(proxy_.port())) << conn.error();
  ASSERT_TRUE(
      conn.send("PUT /up/file HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\n"
                "Content-Length: 5\r\n\r\n"));
  std::string interim;
  ASSERT_TRUE(recv_until(conn.fd(), interim, "\r\n\r\n", kIoTimeout)) << interim;
  EXPECT_EQ(interim, "HTTP/1.1 100 Continue\r\n\r\n");
  ASSERT_TRUE(conn.send("hello"));
  auto r = conn.read_response(kIoTimeout);
  ASSERT_TRUE(r) << conn.error();
  EXPECT_EQ(r->status, 200);
  EXPECT_TRUE(r->interim.empty()) << "the upstream's 100 was relayed";
  EXPECT_EQ(r->body, "body=hello");
  EXPECT_EQ(conn.buffered(), "");

  ASSERT_EQ(up.request_count(), 1u);
  const ReceivedRequest req = up.requests()[0];
  EXPECT_FALSE(req.has("Expect")) << req.raw;
  EXPECT_EQ(req.body, "hello");

  // A bodiless request with Expect gets no 100 (there is nothing to continue with).
  ASSERT_TRUE(conn.send("GET /up/x HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\n\r\n"));
  auto plain = conn.read_response(kIoTimeout);
  ASSERT_TRUE(plain) << conn.error();
  EXPECT_EQ(plain->status, 200);
  EXPECT_TRUE(plain->interim.empty());
}

TEST_P(ProxyConnectionE2E, PipelinedRequestsAreAnsweredInOrder) {
  FakeUpstream& up = start_upstream(serve([](const ReceivedRequest& req) {
    return http_response(200, "r:" + req.target + ":" + req.body);
  }));
  ASSERT_NO_FATAL_FAILURE(start_proxy(single_route(up.address())));
  RawConnection conn;
  ASSERT_TRUE(conn.connect(proxy_.port())) << conn.error();
  // Proxied, proxy-generated (404) and proxied-with-body, in one write.
  ASSERT_TRUE(
      conn.send("GET /up/first HTTP/1.1\r\nHost: h\r\n\r\n"
                "GET /nowhere HTTP/1.1\r\nHost: h\r\n\r\n"
                "POST /up/third HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc"));
  auto r1 = conn.read_response(kIoTimeout);
  ASSERT_TRUE(r1) << conn.error();
  auto r2 = conn.read_response(kIoTimeout);
  ASSERT_TRUE(r2) << conn.error();
  auto r3 = conn.read_response(kIoTimeout);
  ASSERT_TRUE(r3) << conn.error();
  EXPECT_EQ(r1->status, 200);
  EXPECT_EQ(r1->body, "r:/first:");
  EXPECT_EQ(r2->status, 404);
  EXPECT_EQ(r3->status, 200);
  EXPECT_EQ(r3->body, "r:/third:abc");
  EXPECT_EQ(conn.buffered(), "");
  EXPECT_FALSE(conn.peer_closed());
  EXPECT_EQ(up.request_count(), 2u);
}

TEST_P(ProxyConnectionE2E, PipelinedRequestsToRealServices) {
  std::string s1, s2;
  ASSERT_NO_FATAL_FAILURE(start_service("service1", &s1));
  ASSERT_NO_FATAL_FAILURE(start_service("service2", &s2));
  ProxyConfig c;
  c.upstreams = {UpstreamSpec{"service1", {s1}}, UpstreamSpec{"service2", {s2}}};
  c.routes = {RouteSpec{"/service1/", "service1"}, RouteSpec{"/service2/", "service2"}};
  ASSERT_NO_FATAL_FAILURE(start_proxy(c));
  RawConnection conn;
  ASSERT_TRUE(conn.connect(proxy_.port())) << conn.error();
  ASSERT_TRUE(
      conn.send("GET /service2/ping HTTP/1.1\r\nHost: h\r\n\r\n"
                "GET /service1/ping HTTP/1.1\r\nHost: h\r\n\r\n"
                "GET /service2/ping HTTP/1.1\r\nHost: h\r\n\r\n"));
  for (const char* svc : {"service2", "service1", "service2"}) {
    auto r = conn.read_response(kIoTimeout);
    ASSERT_TRUE(r) << conn.error();
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, "{\"service\":\"" + std::string(svc) + "\",\"message\":\"pong\"}");
  }
}

TEST_P(ProxyConnectionE2E, KeepaliveZeroNeverPoolsAndTwoWorkersShareTheListener) {
  FakeUpstream& up = start_upstream(reply_always(http_response(200, "ok")));
  ProxyConfig c = single_route(up.address(), "/up/", "keepalive: 0");
  c.workers = 2;
  ASSERT_NO_FATAL_FAILURE(start_proxy(c));
  const double before = requests_now("/up/", 200);
  constexpr int kRequests = 12;
  for (int i = 0; i < kRequests; ++i) {  // fresh client connections spread over both workers
    auto r = exchange("GET /up/x HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
  }
  expect_requests_delta("/up/", 200, before, kRequests);
  EXPECT_EQ(up.request_count(), static_cast<size_t>(kRequests));
  EXPECT_EQ(up.connection_count(), static_cast<size_t>(kRequests));  // keepalive: 0
}

TEST_P(ProxyConnectionE2E, PooledConnectionClosedAfterTheResponseIsNotReused) {
  // Each upstream connection serves one response and closes, without announcing it.
  FakeUpstream& up = start_upstream([](UpstreamConn& c) {
    auto req = c.read_request();
    if (!req) return;
    c.send(http_response(200, "conn-" + std::to_string(c.index())));
    c.close();
  });
  ASSERT_NO_FATAL_FAILURE(start_proxy(single_route(up.address(), "/up/", "retries: 0")));
  RawConnection conn;
  ASSERT_TRUE(conn.connect(proxy_.port())) << conn.error();
  for (int i = 0; i < 4; ++i) {
    SCOPED_TRACE(i);
    ASSERT_TRUE(conn.send("GET /up/x HTTP/1.1\r\nHost: h\r\n\r\n"));
    auto r = conn.read_response(kIoTimeout);
    ASSERT_TRUE(r) << conn.error();
    EXPECT_EQ(r->status, 200) << r->body;
    if (i % 2 == 1) ::usleep(50000);  // sometimes give the FIN time to arrive first
  }
  EXPECT_EQ(up.request_count(), 4u);
}

TEST_P(ProxyConnectionE2E, StaleKeepAliveConnectionIsReplayedOnAFreshOne) {
  // The race a pool must survive: the server closes an idle connection just as the next
  // request arrives on it. Here it reads that request and closes without a byte of answer.
  FakeUpstream& up = start_upstream([](UpstreamConn& c) {
    if (!c.read_request()) return;
    c.send(http_response(200, "fresh-" + std::to_string(c.index())));
    if (c.read_request()) c.close();
  });
  // retries: 0 proves the replay is not a (budgeted) retry.
  ASSERT_NO_FATAL_FAILURE(start_proxy(single_route(up.address(), "/up/", "retries: 0")));
  const double before = requests_now("/up/", 200);
  RawConnection conn;
  ASSERT_TRUE(conn.connect(proxy_.port())) << conn.error();
  for (int i = 0; i < 3; ++i) {
    SCOPED_TRACE(i);
    ASSERT_TRUE(conn.send("GET /up/x HTTP/1.1\r\nHost: h\r\n\r\n"));
    auto r = conn.read_response(kIoTimeout);
    ASSERT_TRUE(r) << conn.error();
    EXPECT_EQ(r->status, 200) << r->body;
    EXPECT_EQ(r->body, "fresh-" + std::to_string(i));
  }
  // Request i>0 first went to connection i-1 (which closed) and was replayed on connection i.
  EXPECT_EQ(up.connection_count(), 3u);
  EXPECT_EQ(up.request_count(), 5u);
  expect_requests_delta("/up/", 200, before, 3);
  EXPECT_EQ(ProxyProcess::value(scrape(), "ringway_upstream_retries_total", {{"upstream", "up"}}),
            0);
}

// Client connection state is pooled per worker: whatever a rejected client left unread
// (pipelined requests after a 400, the body after a 413) must not become the next client's.
TEST_P(ProxyConnectionE2E, LeftoversOfAPreviousClientNeverReachTheNext) {
  FakeUpstream& up =
      start_upstream(serve([](const ReceivedRequest& r) { return http_response(200, r.target); }));
  ProxyConfig c = single_route(up.address());
  c.limits = "max_body_bytes: 10";
  ASSERT_NO_FATAL_FAILURE(start_proxy(c));
  const std::vector<std::string> rejected = {
      "GET /up/a HTTP/1.1\r\nHost: h\r\nBroken\r\n\r\nGET /up/leftover-1 HTTP/1.1\r\nHost: "
      "h\r\n\r\n",
      "POST /up/a HTTP/1.1\r\nHost: h\r\nContent-Length: 40\r\n\r\n"
      "GET /up/leftover-2 HTTP/1.1\r\nHost: h\r\n\r\n",
      "GET /up/a\x01 HTTP/1.1\r\nHost: h\r\n\r\nGET /up/leftover-3 HTTP/1.1\r\nHost: h\r\n\r\n",
  };
  for (const std::string& bytes : rejected) {
    SCOPED_TRACE(::testing::PrintToString(bytes));
    {
      RawConnection bad;
      ASSERT_TRUE(bad.connect(proxy_.port())) << bad.error();
      ASSERT_TRUE(bad.send(bytes));
      auto r = bad.read_response(kIoTimeout);
      ASSERT_TRUE(r) << bad.error();
      EXPECT_GE(r->status, 400);
      EXPECT_TRUE(bad.wait_closed(kIoTimeout)) << bad.error();
    }
    // The next client gets exactly its own answer; with one worker it reuses the same slot.
    RawConnection next;
    ASSERT_TRUE(next.connect(proxy_.port())) << next.error();
    ASSERT_TRUE(next.send("GET /up/mine HTTP/1.1\r\nHost: h\r\n\r\n"));
    auto r = next.read_response(kIoTimeout);
    ASSERT_TRUE(r) << next.error();
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, "/mine");
    EXPECT_EQ(next.buffered(), "");
  }
  for (const ReceivedRequest& r : up.requests()) EXPECT_EQ(r.target, "/mine");
  EXPECT_EQ(up.request_count(), rejected.size());
}

TEST_P(ProxyConnectionE2E, HalfClosedClientStillGetsItsResponse) {
  // `printf ... | nc -q` style clients shut down their sending side right after the request.
  FakeUpstream& up = start_upstream([](UpstreamConn& c) {
    while (auto req = c.read_request()) {
      if (!c.sleep(100) || !c.send(http_response(200, "late " + req->target))) return;
    }
  });
  ASSERT_NO_FATAL_FAILURE(start_proxy(single_route(up.address())));
  RawConnection conn;
  ASSERT_TRUE(conn.connect(proxy_.port())) << conn.error();
  ASSERT_TRUE(conn.send("GET /up/a HTTP/1.1\r\nHost: h\r\n\r\n"));
  conn.shutdown_write();
  auto r = conn.read_response(kIoTimeout);
  ASSERT_TRUE(r) << conn.error();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "late /a");
  EXPECT_TRUE(conn.wait_closed(kIoTimeout)) << conn.error();
}

TEST_P(ProxyConnectionE2E, ResetOnAFreshConnectionIsAFailureNotAStaleReplay) {
  // Only a connection that already served a response can be stale; a brand-new one that
  // resets is a failing server, and with retries: 0 nothing is sent twice.
  FakeUpstream& up = start_upstream(reset_after_request());
  ASSERT_NO_FATAL_FAILURE(start_proxy(single_route(up.address(), "/up/", "retries: 0")));
  auto r = exchange("GET /up/x HTTP/1.1\r\nHost: h\r\n\r\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 502);
  ::usleep(100000);  // a (wrong) replay would arrive meanwhile
  EXPECT_EQ(up.request_count(), 1u);
  EXPECT_EQ(up.connection_count(), 1u);
}

RINGWAY_PROXY_BACKENDS(ProxyConnectionE2E);

}  // namespace
}  // namespace ringway::e2e
