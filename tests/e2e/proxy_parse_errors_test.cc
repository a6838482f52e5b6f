// Proxy e2e: every parse error (HTTP/0.9, HTTP/2 preface and version, bad fields, oversized
// heads) is answered with its status and then closes, on a fresh and on a reused connection.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/e2e/proxy_fixture.h"

namespace ringway::e2e {
namespace {

using ProxyParseErrors = ProxyE2E;

struct BadStart {
  const char* name;
  std::string bytes;
  int status;
};

std::vector<BadStart> bad_starts() {
  return {
      {"HTTP/0.9 request line", "GET /up/x\r\n", 505},
      {"HTTP/0.9 request line and blank line", "GET /up/x\r\n\r\n", 505},
      {"HTTP/2.0 request line alone", "GET /up/x HTTP/2.0\r\n", 505},
      {"HTTP/2.0 request with head", "GET /up/x HTTP/2.0\r\nHost: h\r\n\r\n", 505},
      {"HTTP/2 connection preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505},
      {"HTTP/2 preface first line", "PRI * HTTP/2.0\r\n", 505},
      {"unparsable version", "GET /up/x HTTP/1.2\r\nHost: h\r\n\r\n", 400},
      {"field without colon", "GET /up/x HTTP/1.1\r\nHost: h\r\nBad Header\r\n\r\n", 400},
      {"control byte in value", "GET /up/x HTTP/1.1\r\nHost: h\r\nX: a\x01z\r\n\r\n", 400},
      {"head over max_header_bytes",
       "GET /up/x HTTP/1.1\r\nHost: h\r\nX-Big: " + std::string(20000, 'a') + "\r\n\r\n", 431},
  };
}

void expect_answered_and_closed(int port, const BadStart& b, bool reused) {
  SCOPED_TRACE(std::string(b.name) + (reused ? " (reused connection)" : " (fresh connection)"));
  RawConnection conn;
  ASSERT_TRUE(conn.connect(port)) << conn.error();
  if (reused) {
    ASSERT_TRUE(conn.send("GET /up/first HTTP/1.1\r\nHost: h\r\n\r\n")) << conn.error();
    auto first = conn.read_response(kIoTimeout);
    ASSERT_TRUE(first) << conn.error();
    ASSERT_EQ(first->status, 200);
  }
  ASSERT_TRUE(conn.send(b.bytes)) << conn.error();
  // Well before the 10 s header timeout: the answer comes at once.
  auto r = conn.read_response(2000);
  ASSERT_TRUE(r) << conn.error();
  ASSERT_NO_FATAL_FAILURE(expect_error_response(*r, b.status));
  EXPECT_EQ(r->header("Connection"), "close");
  std::string rest;
  EXPECT_TRUE(conn.wait_closed(kIoTimeout, &rest)) << conn.error();
  EXPECT_EQ(rest, "");
}

TEST_P(ProxyParseErrors, EveryParseErrorAnswersThenClosesOnFreshAndReusedConnections) {
  FakeUpstream& up = start_upstream(reply_always(http_response(200, "ok")));
  ASSERT_NO_FATAL_FAILURE(start_proxy(single_route(up.address())));
  for (const BadStart& b : bad_starts()) {
    ASSERT_NO_FATAL_FAILURE(expect_answered_and_closed(proxy_.port(), b, false));
    ASSERT_NO_FATAL_FAILURE(expect_answered_and_closed(proxy_.port(), b, true));
  }
  // Only the warm-up requests reached the upstream.
  EXPECT_EQ(up.request_count(), bad_starts().size());
  for (const ReceivedRequest& r : up.requests()) EXPECT_EQ(r.target, "/first");
}

// The pooled connection object that answered a parse error serves the next client cleanly.
TEST_P(ProxyParseErrors, NextClientAfterAParseErrorIsServedNormally) {
  FakeUpstream& up = start_upstream(reply_always(http_response(200, "ok")));
  ASSERT_NO_FATAL_FAILURE(start_proxy(single_route(up.address())));
  for (const BadStart& b : bad_starts()) {
    SCOPED_TRACE(b.name);
    ASSERT_NO_FATAL_FAILURE(expect_answered_and_closed(proxy_.port(), b, true));
    auto ok = exchange("GET /up/after HTTP/1.1\r\nHost: h\r\n\r\n");
    ASSERT_TRUE(ok);
    EXPECT_EQ(ok->status, 200);
    EXPECT_EQ(ok->body, "ok");
  }
}

// The proxy's own answers carry no Server banner, and request bytes they echo (the request id)
// are JSON-escaped: quotes, backslashes and markup cannot break out of the body.
TEST_P(ProxyParseErrors, ErrorBodiesEscapeHostileRequestBytesAndSendNoServerBanner) {
  FakeUpstream& up = start_upstream(reply_always(http_response(200, "ok")));
  ASSERT_NO_FATAL_FAILURE(start_proxy(single_route(up.address())));
  const std::string id = "a\"b\\c</script><x>\",\"status\":200";
  auto r = exchange("GET /nowhere/%22%3C HTTP/1.1\r\nHost: h\r\nX-Request-Id: " + id + "\r\n\r\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
  EXPECT_EQ(r->header("Content-Type"), "application/json");
  EXPECT_EQ(r->header("X-Request-Id"), id);
  EXPECT_NE(r->body.find("\"request_id\":\"a\\\"b\\\\c</script><x>\\\",\\\"status\\\":200\"}"),
            std::string::npos)
      << r->body;
  EXPECT_EQ(r->body.find("\"status\":200"), std::string::npos) << r->body;
  EXPECT_EQ(r->header("Server"), "");
  auto bad = exchange("GET /up/x HTTP/2.0\r\n");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->header("Server"), "");
}

RINGWAY_PROXY_BACKENDS(ProxyParseErrors);

}  // namespace
}  // namespace ringway::e2e
