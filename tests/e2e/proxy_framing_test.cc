// Proxy e2e: message body framing. Request bodies by Content-Length and chunked (re-chunked,
// trailers kept), responses by length, chunked, close-delimited, and the bodiless HEAD/204/304.
#include <gtest/gtest.h>
#include <unistd.h>

#include <string>

#include "tests/e2e/proxy_fixture.h"

namespace ringway::e2e {
namespace {

using ProxyFraming = ProxyE2E;

std::string pattern(size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>('a' + (i * 7 + i / 26) % 26);
  return s;
}

// What the proxy adds to every forwarded request, in order, for a client on 127.0.0.1.
std::string forwarded(const std::string& request_id) {
  return "X-Forwarded-For: 127.0.0.1\r\nX-Real-IP: 127.0.0.1\r\nX-Forwarded-Proto: http\r\n"
         "X-Request-Id: " +
         request_id + "\r\nVia: 1.1 ringway\r\n";
}

TEST_P(ProxyFraming, ContentLengthRequestBodyIsForwardedExactly) {
  FakeUpstream& up = start_upstream(reply_always(http_response(201, "created")));
  ASSERT_NO_FATAL_FAILURE(start_proxy(single_route(up.address())));
  auto r = exchange(
      "POST /up/items?x=1 HTTP/1.1\r\nHost: framing.test\r\nContent-Type: text/plain\r\n"
      "X-Request-Id: rid-cl\r\nContent-Length: 11\r\n\r\nhello world");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 201);
  EXPECT_EQ(r->body, "created");
  ASSERT_EQ(up.request_count(), 1u);
  EXPECT_EQ(up.requests()[0].raw,
            "POST /items?x=1 HTTP/1.1\r\nHost: framing.test\r\nContent-Type: text/plain\r\n" +
                forwarded("rid-cl") + "Content-Length: 11\r\n\r\nhello world");
}

TEST_P(ProxyFraming, ChunkedRequestBodyIsStreamedRechunkedWithTrailers) {
  FakeUpstream& up = start_upstream(serve([](const ReceivedRequest& req) {
    return http_response(200, "got " + std::to_string(req.body.size()));
  }));
  ProxyConfig cfg = single_route(up.address());
  cfg.limits = "request_buffer: 0";  // stream at once (the default buffers small bodies)
  ASSERT_NO_FATAL_FAILURE(start_proxy(cfg));
  RawConnection conn;
  ASSERT_TRUE(conn.connect(proxy_.port())) << conn.error();
  const std::string head =
      "POST /up/upload HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nX-Request-Id: "
      "rid-ch\r\n\r\n";
  ASSERT_TRUE(conn.send(head + "5\r\nhello\r\n"));
  // The head and first (complete, CRLF-checked) chunk reach the upstream before the client
  // has finished: streaming.
  const base::TimePoint deadline = base::Clock::now() + kIoTimeout;
  while (up.bytes_received() == 0 && base::Clock::now() < deadline) ::usleep(5000);
  ASSERT_GT(up.bytes_received(), 0u) << "the proxy buffered the whole body";
  ASSERT_TRUE(conn.send("6;ext=1\r\n world\r\n0\r\nX-Checksum: abc\r\n\r\n"));
  auto r = conn.read_response(kIoTimeout);
  ASSERT_TRUE(r) << conn.error();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "got 11");

  ASSERT_EQ(up.request_count(), 1u);
  const ReceivedRequest req = up.requests()[0];
  const std::string want_head = "POST /upload HTTP/1.1\r\nHost: h\r\n" + forwarded("rid-ch") +
                                "Transfer-Encoding: chunked\r\n\r\n";
  EXPECT_EQ(req.raw.substr(0, want_head.size()), want_head);
  // Chunk extensions are dropped, sizes restated; the trailer section is forwarded.
  EXPECT_EQ(req.raw.substr(want_head.size()),
            "5\r\nhello\r\n6\r\n world\r\n0\r\nX-Checksum: abc\r\n\r\n");
  EXPECT_EQ(req.body, "hello world");
  ASSERT_EQ(req.trailers.size(), 1u);
  EXPECT_EQ(req.trailers[0], (std::pair<std::string, std::string>{"X-Checksum", "abc"}));
  EXPECT_FALSE(req.has("Content-Length"));
}

TEST_P(ProxyFraming, TrailersCannotCarryFieldsTheHeaderPhaseOwns) {
  // Some servers merge trailers into the header section: a trailer must not smuggle in a
  // hop-by-hop field, framing or routing (Content-Length, Host) or a forwarding field the
  // proxy vouches for (RFC 9110 §6.5.1). Same for response trailers towards the client.
  FakeUpstream& up = start_upstream(
      reply_always("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n"
                   "0\r\nConnection: close\r\nContent-Length: 99\r\nX-Resp-Sum: 7\r\n\r\n"));
  ASSERT_NO_FATAL_FAILURE(start_proxy(single_route(up.address())));
  RawConnection conn;
  ASSERT_TRUE(conn.connect(proxy_.port())) << conn.error();
  ASSERT_TRUE(
      conn.send("POST /up/t HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
                "2\r\nhi\r\n0\r\nX-Checksum: 1\r\nConnection: close\r\nContent-Length: 50\r\n"
                "Host: evil.test\r\nX-Forwarded-For: 6.6.6.6\r\nX-Real-IP: 6.6.6.6\r\n"
                "X-Request-Id: forged\r\nKeep-Alive: 1\r\n\r\n"));
  std::string raw;
  ASSERT_TRUE(recv_until(conn.fd(), raw, "X-Resp-Sum: 7\r\n\r\n", kIoTimeout)) << raw;
  EXPECT_EQ(raw.substr(raw.find("\r\n\r\n") + 4), "2\r\nok\r\n0\r\nX-Resp-Sum: 7\r\n\r\n");
  ASSERT_EQ(up.request_count(), 1u);
  const ReceivedRequest req = up.requests()[0];
  ASSERT_EQ(req.trailers.size(), 1u) << req.raw;
  EXPECT_EQ(req.trailers[0], (std::pair<std::string, std::string>{"X-Checksum", "1"}));
}

TEST_P(ProxyFraming, ContentLengthResponseKeepsItsLength) {
  const std::string body = pattern(100000);
  FakeUpstream& up =
      start_upstream(reply_always(http_response(200, body, {{"Content-Type", "text/plain"}})));
  ASSERT_NO_FATAL_FAILURE(start_proxy(single_route(up.address())));
  RawConnection conn;
  ASSERT_TRUE(conn.connect(proxy_.port())) << conn.error();
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(conn.send("GET /up/big HTTP/1.1\r\nHost: h\r\n\r\n"));
    auto r = conn.read_response(kIoTimeout);
    ASSERT_TRUE(r) << conn.error();
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->header("Content-Length"), "100000");
    EXPECT_EQ(r->header_count("Transfer-Encoding"), 0u);
    EXPECT_TRUE(r->body == body) << "body differs";
    EXPECT_TRUE(r->keep_alive);
  }
  // Both requests rode one pooled upstream connection.
  EXPECT_EQ(up.connection_count(), 1u);
}

TEST_P(ProxyFraming, ChunkedResponseWithTrailersIsRelayed) {
  FakeUpstream& up = start_upstream(
      reply_always("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Checksum\r\n\r\n"
                   "4\r\nWiki\r\n5\r\npedia\r\n0\r\nX-Checksum: 42\r\n\r\n"));
  ASSERT_NO_FATAL_FAILURE(start_proxy(single_route(up.address())));
  RawConnection conn;
  ASSERT_TRUE(conn.connect(proxy_.port())) << conn.error();
  ASSERT_TRUE(conn.send("GET /up/chunked HTTP/1.1\r\nHost: h\r\n\r\n"));
  std::string raw;
  ASSERT_TRUE(recv_until(conn.fd(), raw, "X-Checksum: 42\r\n\r\n", kIoTimeout)) << raw;
  const size_t head_end = raw.find("\r\n\r\n");
  ASSERT_NE(head_end, std::string::npos);
  const std::string head = raw.substr(0, head_end + 4);
  EXPECT_EQ(head.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << head;
  EXPECT_NE(head.find("\r\nTransfer-Encoding: chunked\r\n"), std::string::npos) << head;
  EXPECT_EQ(head.find("Content-Length"), std::string::npos) << head;
  EXPECT_EQ(raw.substr(head_end + 4), "4\r\nWiki\r\n5\r\npedia\r\n0\r\nX-Checksum: 42\r\n\r\n");
  // The connection is still good for another request.
  ASSERT_TRUE(conn.send("GET /up/again HTTP/1.1\r\nHost: h\r\n\r\n"));
  auto r = conn.read_response(kIoTimeout);
  ASSERT_TRUE(r) << conn.error();
  EXPECT_EQ(r->body, "Wikipedia");
}

// The trailers arrive in a later read than the head, after the proxy forwarded every byte
// before them and gave the response buffer back: the head's Connection tokens must still
// decide which trailer fields go on (they are copied when the head arrives).
TEST_P(ProxyFraming, TrailersAfterABufferReleaseStillSeeTheHeadsConnectionTokens) {
  FakeUpstream& up = start_upstream([](UpstreamConn& c) {
    while (c.read_request()) {
      c.send("HTTP/1.1 200 OK\r\nConnection: X-Hop, keep-alive\r\nTransfer-Encoding: chunked\r\n"
             "\r\n4\r\nWiki\r\n");
      usleep(100000);  // the proxy forwards "Wiki" and releases its buffer meanwhile
      c.send("5\r\npedia\r\n0\r\nX-Hop: secret\r\nX-Checksum: 42\r\n\r\n");
    }
  });
  ASSERT_NO_FATAL_FAILURE(start_proxy(single_route(up.address())));
  for (int round = 0; round < 3; ++round) {  // pooled buffers get reused between rounds
    SCOPED_TRACE(round);
    RawConnection conn;
    ASSERT_TRUE(conn.connect(proxy_.port())) << conn.error();
    ASSERT_TRUE(conn.send("GET /up/t HTTP/1.1\r\nHost: h\r\n\r\n"));
    std::string raw;
    ASSERT_TRUE(recv_until(conn.fd(), raw, "X-Checksum: 42\r\n\r\n", kIoTimeout)) << raw;
    const std::string tail = raw.substr(raw.find("\r\n0\r\n") + 2);
    EXPECT_EQ(tail, "0\r\nX-Checksum: 42\r\n\r\n") << raw;
  }
}

// The upstream ends the body by closing (RFC 9112 §6.3 rule 8).
UpstreamScript close_delimited(std::string body) {
  return [body = std::move(body)](UpstreamConn& c) {
    if (!c.read_request()) return;
    c.send("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n" + body);
    c.close();
  };
}

TEST_P(ProxyFraming, CloseDelimitedResponseIsChunkedForHttp11Clients) {
  const std::string body = pattern(70000);
  FakeUpstream& up = start_upstream(close_delimited(body));
  ASSERT_NO_FATAL_FAILURE(start_proxy(single_route(up.address())));
  RawConnection conn;
  ASSERT_TRUE(conn.connect(proxy_.port())) << conn.error();
  for (int i = 0; i < 2; ++i) {
    SCOPED_TRACE(i);
    ASSERT_TRUE(conn.send("GET /up/stream HTTP/1.1\r\nHost: h\r\n\r\n"));
    auto r = conn.read_response(kIoTimeout);
    ASSERT_TRUE(r) << conn.error();
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->header("Transfer-Encoding"), "chunked");
    EXPECT_EQ(r->header_count("Content-Length"), 0u);
    EXPECT_TRUE(r->body == body) << "body differs, " << r->body.size() << " bytes";
    EXPECT_TRUE(r->keep_alive);  // re-framing keeps the client connection
  }
  EXPECT_FALSE(conn.peer_closed());
  EXPECT_EQ(up.connection_count(), 2u);
}

TEST_P(ProxyFraming, CloseDelimitedResponseStaysCloseDelimitedForHttp10Clients) {
  const std::string body = pattern(70000);
  FakeUpstream& up = start_upstream(close_delimited(body));
  ASSERT_NO_FATAL_FAILURE(start_proxy(single_route(up.address())));
  RawConnection conn;
  ASSERT_TRUE(conn.connect(proxy_.port())) << conn.error();
  ASSERT_TRUE(conn.send("GET /up/stream HTTP/1.0\r\nHost: h\r\n\r\n"));
  std::string raw;
  ASSERT_TRUE(conn.wait_closed(kIoTimeout, &raw)) << conn.error();
  const size_t head_end = raw.find("\r\n\r\n");
  ASSERT_NE(head_end, std::string::npos) << raw.substr(0, 200);
  const std::string head = raw.substr(0, head_end + 4);
  EXPECT_EQ(head.find("Transfer-Encoding"), std::string::npos) << head;
  EXPECT_EQ(head.find("Content-Length"), std::string::npos) << head;
  EXPECT_NE(head.find("\r\nConnection: close\r\n"), std::string::npos) << head;
  EXPECT_TRUE(raw.substr(head_end + 4) == body) << "body differs";
  ASSERT_EQ(up.request_count(), 1u);
  EXPECT_EQ(up.requests()[0].raw.rfind("GET /stream HTTP/1.1\r\n", 0),
            0u);  // spoken as 1.1 upstream
}

TEST_P(ProxyFraming, Http10KeepAliveClientGetsLengthFramedResponses) {
  FakeUpstream& up =
      start_upstream(serve([](const ReceivedRequest& r) { return http_response(200, r.target); }));
  ASSERT_NO_FATAL_FAILURE(start_proxy(single_route(up.address())));
  RawConnection conn;
  ASSERT_TRUE(conn.connect(proxy_.port())) << conn.error();
  for (const char* path : {"/one", "/two"}) {
    ASSERT_TRUE(
        conn.send("GET /up" + std::string(path) + " HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
    auto r = conn.read_response(kIoTimeout);
    ASSERT_TRUE(r) << conn.error();
    EXPECT_EQ(r->body, path);
    EXPECT_EQ(r->header("Connection"), "keep-alive");  // HTTP/1.0 persistence is opt-in
    EXPECT_EQ(r->header("Content-Length"), std::to_string(std::string(path).size()));
  }
  // Without the option an HTTP/1.0 exchange ends with the connection.
  ASSERT_TRUE(conn.send("GET /up/three HTTP/1.0\r\n\r\n"));
  auto last = conn.read_response(kIoTimeout);
  ASSERT_TRUE(last) << conn.error();
  EXPECT_EQ(last->header("Connection"), "close");
  EXPECT_TRUE(conn.wait_closed(kIoTimeout)) << conn.error();
  // Upstream requests are HTTP/1.1 with a Host even though the client sent none.
  ASSERT_EQ(up.request_count(), 3u);
  EXPECT_EQ(up.requests()[0].version_minor, 1);
  EXPECT_EQ(up.requests()[0].header("Host"), up.address());
}

TEST_P(ProxyFraming, HeadResponseKeepsContentLengthAndHasNoBody) {
  FakeUpstream& up = start_upstream(serve([](const ReceivedRequest& req) -> std::string {
    if (req.method == "HEAD") {
      return "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 1234\r\n\r\n";
    }
    return http_response(200, "after-head");
  }));
  ASSERT_NO_FATAL_FAILURE(start_proxy(single_route(up.address())));
  RawConnection conn;
  ASSERT_TRUE(conn.connect(proxy_.port())) << conn.error();
  ASSERT_TRUE(conn.send("HEAD /up/doc HTTP/1.1\r\nHost: h\r\n\r\n"));
  auto head = conn.read_response(kIoTimeout, /*head_request=*/true);
  ASSERT_TRUE(head) << conn.error();
  EXPECT_EQ(head->status, 200);
  EXPECT_EQ(head->header("Content-Length"), "1234");
  EXPECT_EQ(head->body, "");
  EXPECT_EQ(conn.buffered(), "");
  // Had the proxy waited for 1234 body bytes, or leaked any, this would fail.
  ASSERT_TRUE(conn.send("GET /up/doc HTTP/1.1\r\nHost: h\r\n\r\n"));
  auto get = conn.read_response(kIoTimeout);
  ASSERT_TRUE(get) << conn.error();
  EXPECT_EQ(get->body, "after-head");
}

TEST_P(ProxyFraming, NoContentAndNotModifiedHaveNoBody) {
  FakeUpstream& up = start_upstream(serve([](const ReceivedRequest& req) -> std::string {
    if (req.target == "/204") return "HTTP/1.1 204 No Content\r\nX-A: 1\r\n\r\n";
    if (req.target == "/304") {
      return "HTTP/1.1 304 Not Modified\r\nETag: \"v1\"\r\nContent-Length: 42\r\n\r\n";
    }
    return http_response(200, "plain");
  }));
  ASSERT_NO_FATAL_FAILURE(start_proxy(single_route(up.address())));
  RawConnection conn;
  ASSERT_TRUE(conn.connect(proxy_.port())) << conn.error();
  ASSERT_TRUE(conn.send("DELETE /up/204 HTTP/1.1\r\nHost: h\r\n\r\n"));
  auto nc = conn.read_response(kIoTimeout);
  ASSERT_TRUE(nc) << conn.error();
  EXPECT_EQ(nc->status, 204);
  EXPECT_EQ(nc->header("X-A"), "1");
  EXPECT_EQ(nc->header_count("Content-Length"), 0u);
  EXPECT_EQ(nc->header_count("Transfer-Encoding"), 0u);
  EXPECT_EQ(nc->body, "");

  ASSERT_TRUE(conn.send("GET /up/304 HTTP/1.1\r\nHost: h\r\nIf-None-Match: \"v1\"\r\n\r\n"));
  auto nm = conn.read_response(kIoTimeout);
  ASSERT_TRUE(nm) << conn.error();
  EXPECT_EQ(nm->status, 304);
  EXPECT_EQ(nm->header("ETag"), "\"v1\"");
  EXPECT_EQ(nm->header("Content-Length"), "42");  // describes the representation (RFC 9110 §8.6)
  EXPECT_EQ(nm->header_count("Transfer-Encoding"), 0u);
  EXPECT_EQ(nm->body, "");

  ASSERT_TRUE(conn.send("GET /up/after HTTP/1.1\r\nHost: h\r\n\r\n"));
  auto after = conn.read_response(kIoTimeout);
  ASSERT_TRUE(after) << conn.error();
  EXPECT_EQ(after->body, "plain");
  EXPECT_EQ(conn.buffered(), "");
}

RINGWAY_PROXY_BACKENDS(ProxyFraming);

}  // namespace
}  // namespace ringway::e2e
