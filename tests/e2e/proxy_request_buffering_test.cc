// Proxy e2e: request buffering. A body within limits.request_buffer is validated whole before
// anything goes upstream; larger bodies stream, chunked ones one CRLF-checked chunk at a time;
// a body failing after the head went up closes that upstream connection (never pooled).
#include <gtest/gtest.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "tests/e2e/proxy_fixture.h"

namespace ringway::e2e {
namespace {

using ProxyRequestBuffering = ProxyE2E;

struct BadBody {
  const char* name;
  std::string bytes;
};

// Requests whose heads are fine and whose bodies (all within the 64 KiB default) are not.
std::vector<BadBody> bad_bodies() {
  const std::string te = "POST /up/x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n";
  return {
      {"bad CRLF after chunk data", te + "5\r\nhelloXX0\r\n\r\n"},
      {"bare LF after chunk data", te + "5\r\nhello\n0\r\n\r\n"},
      {"bad second chunk size", te + "5\r\nhello\r\nzz\r\nab\r\n0\r\n\r\n"},
      {"chunk size over 16 digits", te + "5\r\nhello\r\n00000000000000001\r\na\r\n0\r\n\r\n"},
      {"chunk-ext over max_chunk_ext_bytes", te + "5;a=" + std::string(5000, 'b') + "\r\nhello\r\n0\r\n\r\n"},
      {"invalid chunk-ext", te + "5;a=\"\x01\"\r\nhello\r\n0\r\n\r\n"},
      {"obs-fold in a trailer", te + "5\r\nhello\r\n0\r\nT: 1\r\n 2\r\n\r\n"},
      {"trailer section too large", te + "5\r\nhello\r\n0\r\nT: " + std::string(20000, 't') + "\r\n\r\n"},
  };
}

void expect_400_and_close(int port, const BadBody& b) {
  SCOPED_TRACE(b.name);
  RawConnection conn;
  ASSERT_TRUE(conn.connect(port)) << conn.error();
  ASSERT_TRUE(conn.send(b.bytes)) << conn.error();
  auto r = conn.read_response(kIoTimeout);
  ASSERT_TRUE(r) << conn.error();
  EXPECT_TRUE(r->status == 400 || r->status == 431) << r->status;
  EXPECT_EQ(r->header("Connection"), "close");
  EXPECT_TRUE(conn.wait_closed(kIoTimeout)) << conn.error();
}

TEST_P(ProxyRequestBuffering, RejectedBodiesWithinTheBufferSendNoByteUpstream) {
  FakeUpstream& up = start_upstream(reply_always(http_response(200, "ok")));
  ASSERT_NO_FATAL_FAILURE(start_proxy(single_route(up.address())));
  for (const BadBody& b : bad_bodies()) {
    // A pooled connection is ready each time: even so, not one byte of the request leaves.
    auto warm = exchange("GET /up/warm HTTP/1.1\r\nHost: h\r\n\r\n");
    ASSERT_TRUE(warm && warm->status == 200);
    const uint64_t before = up.bytes_received();
    ASSERT_NO_FATAL_FAILURE(expect_400_and_close(proxy_.port(), b));
    ::usleep(50 * 1000);  // anything in flight would have arrived by now on loopback
    EXPECT_EQ(up.bytes_received(), before) << b.name << ": " << up.received_data();
  }
  for (const ReceivedRequest& r : up.requests()) EXPECT_EQ(r.target, "/warm");
  EXPECT_EQ(up.received_data().find("/x"), std::string::npos);
}

TEST_P(ProxyRequestBuffering, BodyWithinTheBufferGoesUpWithItsHeadOnlyWhenComplete) {
  FakeUpstream& up = start_upstream(
      serve([](const ReceivedRequest& r) { return http_response(200, "got " + r.body); }));
  ASSERT_NO_FATAL_FAILURE(start_proxy(single_route(up.address())));
  RawConnection conn;
  ASSERT_TRUE(conn.connect(proxy_.port())) << conn.error();
  ASSERT_TRUE(conn.send("POST /up/cl HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\nhello"));
  ::usleep(150 * 1000);
  EXPECT_EQ(up.bytes_received(), 0u) << up.received_data();
  ASSERT_TRUE(conn.send("world"));
  auto r = conn.read_response(kIoTimeout);
  ASSERT_TRUE(r) << conn.error();
  EXPECT_EQ(r->body, "got helloworld");

  ASSERT_TRUE(conn.send("POST /up/ch HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
                        "5\r\nhello\r\n"));
  ::usleep(150 * 1000);
  EXPECT_EQ(up.request_count(), 1u);
  EXPECT_EQ(up.received_data().find("/ch"), std::string::npos) << up.received_data();
  ASSERT_TRUE(conn.send("5\r\nworld\r\n0\r\n\r\n"));
  r = conn.read_response(kIoTimeout);
  ASSERT_TRUE(r) << conn.error();
  EXPECT_EQ(r->body, "got helloworld");
}

TEST_P(ProxyRequestBuffering, LargerContentLengthBodyStreams) {
  FakeUpstream& up = start_upstream(
      serve([](const ReceivedRequest& r) { return http_response(200, std::to_string(r.body.size())); }));
  ProxyConfig cfg = single_route(up.address());
  cfg.limits = "request_buffer: 1KiB";
  ASSERT_NO_FATAL_FAILURE(start_proxy(cfg));
  RawConnection conn;
  ASSERT_TRUE(conn.connect(proxy_.port())) << conn.error();
  ASSERT_TRUE(conn.send("POST /up/big HTTP/1.1\r\nHost: h\r\nContent-Length: 4096\r\n\r\n" +
                        std::string(100, 'a')));
  const base::TimePoint deadline = base::Clock::now() + kIoTimeout;
  while (up.received_data().find(std::string(100, 'a')) == std::string::npos &&
         base::Clock::now() < deadline) {
    ::usleep(5000);
  }
  ASSERT_NE(up.received_data().find(std::string(100, 'a')), std::string::npos)
      << "a body over request_buffer must stream";
  ASSERT_TRUE(conn.send(std::string(3996, 'b')));
  auto r = conn.read_response(kIoTimeout);
  ASSERT_TRUE(r) << conn.error();
  EXPECT_EQ(r->body, "4096");
}

// Past the buffer a chunked body streams, but a chunk goes up only once its CRLF is checked;
// when the body then fails, that upstream connection is closed and never used again.
TEST_P(ProxyRequestBuffering, StreamedChunkedBodyFailingMidwayClosesTheUpstreamConnection) {
  FakeUpstream& up = start_upstream(
      serve([](const ReceivedRequest& r) { return http_response(200, "got " + r.body); }));
  ProxyConfig cfg = single_route(up.address());
  cfg.limits = "request_buffer: 8";
  ASSERT_NO_FATAL_FAILURE(start_proxy(cfg));
  RawConnection conn;
  ASSERT_TRUE(conn.connect(proxy_.port())) << conn.error();
  ASSERT_TRUE(conn.send("POST /up/s HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
                        "5\r\nhello\r\n5\r\nworld"));
  const base::TimePoint deadline = base::Clock::now() + kIoTimeout;
  while (up.received_data().find("hello\r\n") == std::string::npos && base::Clock::now() < deadline)
    ::usleep(5000);
  ASSERT_NE(up.received_data().find("5\r\nhello\r\n"), std::string::npos) << up.received_data();
  ::usleep(100 * 1000);
  // "world" has no CRLF yet: it stays with the proxy.
  EXPECT_EQ(up.received_data().find("world"), std::string::npos) << up.received_data();
  ASSERT_TRUE(conn.send("XX0\r\n\r\n"));
  auto r = conn.read_response(kIoTimeout);
  ASSERT_TRUE(r) << conn.error();
  ASSERT_NO_FATAL_FAILURE(expect_error_response(*r, 400));
  EXPECT_TRUE(conn.wait_closed(kIoTimeout)) << conn.error();
  EXPECT_EQ(up.received_data().find("world"), std::string::npos) << up.received_data();
  EXPECT_EQ(up.request_count(), 0u);  // the upstream never saw a complete request

  // The next request opens a new upstream connection: the truncated one was not pooled.
  auto next = exchange("GET /up/next HTTP/1.1\r\nHost: h\r\n\r\n");
  ASSERT_TRUE(next && next->status == 200);
  ASSERT_EQ(up.request_count(), 1u);
  EXPECT_EQ(up.requests()[0].connection, 1u);
  EXPECT_EQ(up.connection_count(), 2u);
}

RINGWAY_PROXY_BACKENDS(ProxyRequestBuffering);

}  // namespace
}  // namespace ringway::e2e
