// Proxy e2e: Content-Length bodies past limits.splice_min cross the proxy by splice(2). Every
// byte arrives in order, keep-alive survives on both sides, a truncated or over-long
// upstream response is never taken for a complete one, and the upstream timeout still sees
// the bytes it no longer reads itself.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <string>

#include "tests/e2e/proxy_fixture.h"

namespace ringway::e2e {
namespace {

constexpr uint64_t kMiB = 1024 * 1024;
constexpr const char* kSpliced = "ringway_response_bytes_spliced_total";

char body_byte(uint64_t i) { return static_cast<char>('A' + (i * 7 + i / 4096) % 26); }

std::string build_body(uint64_t n) {
  std::string b(n, '\0');
  for (uint64_t i = 0; i < n; ++i) b[i] = body_byte(i);
  return b;
}

// Every body up to 24 MiB is a prefix of one pattern, built once per process: built per
// request it took longer under the sanitizers than the 300 ms some tests give the server
// for its head.
constexpr uint64_t kPatternBytes = 24 * kMiB;

const std::string& pattern() {
  static const std::string p = build_body(kPatternBytes);
  return p;
}

std::string body_of(uint64_t n) {
  return n <= kPatternBytes ? pattern().substr(0, n) : build_body(n);
}

// The pattern is built before the first test, not by the first request that needs it: that
// request would wait for it past the same 300 ms and get a 504.
class ProxySplice : public ProxyE2E {
 protected:
  static void SetUpTestSuite() { pattern(); }
};

uint64_t mismatches(const std::string& body) {
  uint64_t bad = 0;
  for (uint64_t i = 0; i < body.size(); ++i) bad += body[i] != body_byte(i);
  return bad;
}

std::string head_for(uint64_t n) {
  return "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(n) + "\r\n\r\n";
}

// Serves GET /size/N with N pattern bytes (head and body in one send), "small" otherwise.
UpstreamScript sized_bodies() {
  return [](UpstreamConn& c) {
    while (auto req = c.read_request()) {
      if (req->target.rfind("/size/", 0) == 0) {
        const uint64_t n = std::stoull(req->target.substr(6));
        if (!c.send(head_for(n) + body_of(n))) return;
      } else if (!c.send(http_response(200, "small"))) {
        return;
      }
    }
  };
}

TEST_P(ProxySplice, LargeBodiesAreSplicedByteExactOnKeptAliveConnections) {
  FakeUpstream& up = start_upstream(sized_bodies());
  ASSERT_NO_FATAL_FAILURE(start_proxy(single_route(up.address())));

  RawConnection conn;
  ASSERT_TRUE(conn.connect(proxy_.port())) << conn.error();
  for (uint64_t size : {4 * kMiB, 200 * uint64_t{1024}, 4 * kMiB}) {
    ASSERT_TRUE(conn.send("GET /up/size/" + std::to_string(size) + " HTTP/1.1\r\nHost: h\r\n\r\n"));
    auto r = conn.read_response(15000);
    ASSERT_TRUE(r) << conn.error();
    EXPECT_EQ(r->status, 200);
    ASSERT_EQ(r->body.size(), size);
    EXPECT_EQ(mismatches(r->body), 0u);
    EXPECT_EQ(r->header("Content-Length"), std::to_string(size));
    EXPECT_EQ(r->header("X-Content-Type-Options"), "nosniff");  // the head got its header work
  }
  ASSERT_TRUE(conn.send("GET /up/after HTTP/1.1\r\nHost: h\r\n\r\n"));
  auto small = conn.read_response(kIoTimeout);
  ASSERT_TRUE(small) << conn.error();
  EXPECT_EQ(small->body, "small");

  // One upstream connection carried all four: each spliced response left it reusable.
  for (const ReceivedRequest& req : up.requests()) EXPECT_EQ(req.connection, 0u) << req.target;
  // At most one read of each body (the head's) went through user space.
  const double spliced = ProxyProcess::value(scrape(), kSpliced);
  EXPECT_GE(spliced, static_cast<double>(8 * kMiB + 200 * 1024 - 3 * 256 * 1024));
  EXPECT_LE(spliced, static_cast<double>(8 * kMiB + 200 * 1024));
}

TEST_P(ProxySplice, SpliceMinZeroCopiesEveryBodyAndSmallBodiesAreNeverSpliced) {
  FakeUpstream& up = start_upstream(sized_bodies());
  ProxyConfig c = single_route(up.address());
  c.limits = "splice_min: 0";
  ASSERT_NO_FATAL_FAILURE(start_proxy(c));
  auto r = exchange("GET /up/size/" + std::to_string(2 * kMiB) + " HTTP/1.1\r\nHost: h\r\n\r\n");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->body.size(), 2 * kMiB);
  EXPECT_EQ(mismatches(r->body), 0u);
  EXPECT_EQ(ProxyProcess::value(scrape(), kSpliced), 0);

  // Default threshold (32 KiB): a body that fits the head's read plus less than that is copied.
  ASSERT_NO_FATAL_FAILURE(proxy_.stop());
  ASSERT_NO_FATAL_FAILURE(start_proxy(single_route(up.address())));
  auto small = exchange("GET /up/size/20000 HTTP/1.1\r\nHost: h\r\n\r\n");
  ASSERT_TRUE(small);
  EXPECT_EQ(mismatches(small->body), 0u);
  EXPECT_EQ(small->body.size(), 20000u);
  EXPECT_EQ(ProxyProcess::value(scrape(), kSpliced), 0);
}

// The server promises 4 MiB, sends 1 MiB and closes: the client must see a cut-off response
// (closed before Content-Length bytes), never a complete one, and the proxy keeps serving.
TEST_P(ProxySplice, AnUpstreamThatClosesMidBodyCutsTheClientOff) {
  FakeUpstream& up = start_upstream([](UpstreamConn& c) {
    while (auto req = c.read_request()) {
      if (req->target == "/cut") {
        c.send(head_for(4 * kMiB) + body_of(kMiB));
        c.close();
        return;
      }
      if (!c.send(http_response(200, "small"))) return;
    }
  });
  ASSERT_NO_FATAL_FAILURE(start_proxy(single_route(up.address())));
  RawConnection conn;
  ASSERT_TRUE(conn.connect(proxy_.port())) << conn.error();
  ASSERT_TRUE(conn.send("GET /up/cut HTTP/1.1\r\nHost: h\r\n\r\n"));
  std::string rest;
  ASSERT_TRUE(conn.wait_closed(15000, &rest)) << conn.error();
  const std::string& all = rest;
  const size_t body_at = all.find("\r\n\r\n");
  ASSERT_NE(body_at, std::string::npos);
  EXPECT_EQ(all.size() - body_at - 4, kMiB);  // every byte the server sent, then the close
  EXPECT_GT(ProxyProcess::value(scrape(), kSpliced), 0);

  auto next = exchange("GET /up/ok HTTP/1.1\r\nHost: h\r\n\r\n");
  ASSERT_TRUE(next);
  EXPECT_EQ(next->body, "small");
}

// Bytes behind a spliced body answer no request. A pipelined second request is started in
// the same turn the first response ends, before the parked connection could read them: the
// proxy must look itself, and use a fresh connection.
TEST_P(ProxySplice, BytesBehindASplicedBodyRetireTheUpstreamConnection) {
  FakeUpstream& up = start_upstream([](UpstreamConn& c) {
    while (auto req = c.read_request()) {
      if (req->target == "/big") {
        if (!c.send(head_for(kMiB) + body_of(kMiB) + http_response(200, "smuggled"))) return;
      } else if (!c.send(http_response(200, "honest " + std::to_string(c.index())))) {
        return;
      }
    }
  });
  ASSERT_NO_FATAL_FAILURE(start_proxy(single_route(up.address())));
  RawConnection conn;
  ASSERT_TRUE(conn.connect(proxy_.port())) << conn.error();
  ASSERT_TRUE(conn.send("GET /up/big HTTP/1.1\r\nHost: h\r\n\r\nGET /up/next HTTP/1.1\r\nHost: h\r\n\r\n"));
  auto big = conn.read_response(15000);
  ASSERT_TRUE(big) << conn.error();
  ASSERT_EQ(big->body.size(), kMiB);
  EXPECT_EQ(mismatches(big->body), 0u);
  auto next = conn.read_response(kIoTimeout);
  ASSERT_TRUE(next) << conn.error();
  EXPECT_EQ(next->body, "honest 1");
  EXPECT_GT(ProxyProcess::value(scrape(), kSpliced), 0);
}

// A client that goes away mid-body: the upstream connection is closed, not pooled with half a
// response unread, and the proxy goes on serving.
TEST_P(ProxySplice, AClientThatLeavesMidBodyTakesTheUpstreamConnectionWithIt) {
  auto big_send_failed = std::make_shared<std::atomic<bool>>(false);
  FakeUpstream& up = start_upstream([big_send_failed](UpstreamConn& c) {
    while (auto req = c.read_request()) {
      const uint64_t n = std::stoull(req->target.substr(6));
      if (!c.send(head_for(n) + body_of(n))) {
        *big_send_failed = true;  // the proxy closed this connection under the stream
        return;
      }
    }
  });
  ASSERT_NO_FATAL_FAILURE(start_proxy(single_route(up.address())));
  {
    RawConnection conn;
    ASSERT_TRUE(conn.connect(proxy_.port())) << conn.error();
    ASSERT_TRUE(conn.send("GET /up/size/" + std::to_string(64 * kMiB) + " HTTP/1.1\r\nHost: h\r\n\r\n"));
    std::string got;
    ASSERT_TRUE(recv_at_least(conn.fd(), got, 2 * kMiB, 15000));
    linger lg{1, 0};
    setsockopt(conn.fd(), SOL_SOCKET, SO_LINGER, &lg, sizeof lg);  // RST, as a killed client
  }
  // Closed at once, not pooled with the rest of the body unread (nothing would take it).
  const base::TimePoint until = base::Clock::now() + kIoTimeout;
  while (!big_send_failed->load() && base::Clock::now() < until) ::usleep(5000);
  EXPECT_TRUE(big_send_failed->load());
  for (int i = 0; i < 3; ++i) {
    auto r = exchange("GET /up/size/" + std::to_string(kMiB) + " HTTP/1.1\r\nHost: h\r\n\r\n");
    ASSERT_TRUE(r);
    ASSERT_EQ(r->body.size(), kMiB);
    EXPECT_EQ(mismatches(r->body), 0u);
  }
  for (const ReceivedRequest& req : up.requests()) {
    if (req.target != "/size/67108864") {
      EXPECT_NE(req.connection, 0u);
    }
  }
}

// upstream_response bounds silence from the server. A splice moves bytes the proxy never
// sees, so a slow reader must not turn a long, steadily moving body into a timeout.
TEST_P(ProxySplice, TheUpstreamTimeoutCountsBytesTheSpliceMoves) {
  FakeUpstream& up = start_upstream(sized_bodies());
  ProxyConfig c = single_route(up.address());
  c.timeouts = "upstream_response: 300ms";
  ASSERT_NO_FATAL_FAILURE(start_proxy(c));
  RawConnection conn;
  // No small SO_RCVBUF: below loopback's 64 KiB MSS the sender waits for TCP's persist
  // timer, stalls of hundreds of ms that are no part of this test.
  ASSERT_TRUE(conn.connect(proxy_.port())) << conn.error();
  constexpr uint64_t kBytes = 24 * kMiB;
  ASSERT_TRUE(conn.send("GET /up/size/" + std::to_string(kBytes) + " HTTP/1.1\r\nHost: h\r\n\r\n"));
  // About a second of reading: 256 KiB steps 10 ms apart, and a 150 ms pause every 4 MiB.
  std::string got;
  size_t body_at = std::string::npos;
  const base::TimePoint start = base::Clock::now();
  while (base::Clock::now() - start < 30000) {
    size_t want = got.size() + 256 * 1024;
    if (body_at != std::string::npos) want = std::min(want, body_at + 4 + kBytes);
    if (!recv_at_least(conn.fd(), got, want, kIoTimeout)) break;
    if (body_at == std::string::npos) body_at = got.find("\r\n\r\n");
    if (body_at != std::string::npos && got.size() >= body_at + 4 + kBytes) break;
    const bool crossed = got.size() % (4 * kMiB) < 256 * 1024;
    ::usleep(crossed ? 150 * 1000 : 10 * 1000);
  }
  ASSERT_NE(body_at, std::string::npos);
  EXPECT_EQ(got.size() - body_at - 4, kBytes);
  EXPECT_GT(base::Clock::now() - start, 600) << "the read took less than two timeouts: no test";
  EXPECT_GT(ProxyProcess::value(scrape(), kSpliced), static_cast<double>(kBytes / 2));
}

// The other half of the rule: a server that goes silent mid-body is cut off after
// upstream_response, though the splice still holds the connection.
TEST_P(ProxySplice, AnUpstreamSilentMidSpliceTimesOut) {
  FakeUpstream& up = start_upstream([](UpstreamConn& c) {
    if (auto req = c.read_request()) {
      if (c.send(head_for(8 * kMiB) + body_of(kMiB))) c.hang();
    }
  });
  ProxyConfig c = single_route(up.address());
  c.timeouts = "upstream_response: 300ms";
  ASSERT_NO_FATAL_FAILURE(start_proxy(c));
  RawConnection conn;
  ASSERT_TRUE(conn.connect(proxy_.port())) << conn.error();
  const base::TimePoint start = base::Clock::now();
  ASSERT_TRUE(conn.send("GET /up/silent HTTP/1.1\r\nHost: h\r\n\r\n"));
  std::string rest;
  ASSERT_TRUE(conn.wait_closed(10000, &rest)) << conn.error();
  const base::Millis took = base::Clock::now() - start;
  const size_t body_at = rest.find("\r\n\r\n");
  ASSERT_NE(body_at, std::string::npos);
  EXPECT_EQ(rest.size() - body_at - 4, kMiB);
  EXPECT_GE(took, 300);
  EXPECT_LT(took, 5000);
  EXPECT_GT(ProxyProcess::value(scrape(), kSpliced), 0);  // counted though cut off
}

RINGWAY_PROXY_BACKENDS(ProxySplice);

}  // namespace
}  // namespace ringway::e2e
